"""The runner's PyFlink half: one TableEnvironment runs a checked, resolved `RunPlan`.

Two modes, the same code:

- inside Flink (application mode, `PythonDriver -pym services.runner`): PyFlink connects to the
  JVM that started it and the TableEnvironment is created as usual; the cluster's configuration
  (the FlinkDeployment's `flinkConfiguration`, the savepoint the operator restores) applies;
- against a session cluster (`Submission.remote`): `execution.target: remote` at the cluster's
  REST address, detached, optionally from a savepoint, the connector jars shipped as
  `pipeline.jars`.

`SET 'k' = 'v'` goes into the table config (executeSql() does not take SET: it is a SQL client
command), in script order; DDL runs as written; the INSERTs are submitted together as one
statement set, so one Flink job runs them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from services.flinksql.job_policy import LOOPBACK_OPTIONS, RunnerError, RunPlan
from services.flinksql.statements import StatementKind


@dataclass(frozen=True, slots=True)
class Submission:
    remote: tuple[str, int] | None = None  # REST host and port of a session cluster
    jars: str = ""  # `pipeline.jars`: ';'-joined URLs
    savepoint: str | None = None  # execution.state-recovery.path
    pipeline_name: str | None = None


def submit(plan: RunPlan, submission: Submission) -> str:
    """Run the plan's SETs and DDL, submit its INSERTs as one statement set; the Flink job id."""
    from pyflink.common import Configuration  # type: ignore[import-untyped]
    from pyflink.table import EnvironmentSettings, TableEnvironment  # type: ignore[import-untyped]

    # The jobs use no Python UDFs: no Beam loopback worker pool (PyFlink binds it to every
    # interface, unauthenticated); a local run's Flink endpoints listen on loopback only.
    os.environ["_python_worker_execution_mode"] = "process"  # noqa: SIM112 - PyFlink's own name
    conf = Configuration()
    if submission.remote is None:
        for key, value in LOOPBACK_OPTIONS.items():
            conf.set_string(key, value)
    if submission.remote is not None:
        host, port = submission.remote
        conf.set_string("execution.target", "remote")
        conf.set_string("rest.address", host)
        conf.set_string("rest.port", str(port))
        conf.set_string("execution.attached", "false")
    if submission.pipeline_name:
        conf.set_string("pipeline.name", submission.pipeline_name)
    if submission.savepoint:
        conf.set_string("execution.state-recovery.path", submission.savepoint)
    settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    env = TableEnvironment.create(settings)
    config = env.get_config()
    if submission.jars:
        # Through TableConfig.set: PyFlink then also puts the jars on this JVM's context class
        # loader, so the planner finds the connector factories (and dialects) at CREATE/INSERT.
        config.set("pipeline.jars", submission.jars)
    for step in plan.steps:
        if step.setting is not None:
            config.set(*step.setting)
        elif step.kind is not StatementKind.INSERT:
            env.execute_sql(step.text)
    statement_set = env.create_statement_set()
    for insert in plan.inserts:
        statement_set.add_insert_sql(insert)
    client = statement_set.execute().get_job_client()
    if client is None:
        raise RunnerError("Flink returned no job client: nothing was submitted")
    return str(client.get_job_id())
