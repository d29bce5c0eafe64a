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
    # execution.state-recovery.ignore-unclaimed-state: state of operators gone from the job is dropped
    allow_non_restored_state: bool = False
    pipeline_name: str | None = None


def submission_options(submission: Submission) -> dict[str, str]:
    """The Flink options a submission sets before the TableEnvironment exists."""
    options: dict[str, str] = {}
    if submission.remote is None:
        options.update(LOOPBACK_OPTIONS)
    else:
        host, port = submission.remote
        options["execution.target"] = "remote"
        options["rest.address"] = host
        options["rest.port"] = str(port)
        options["execution.attached"] = "false"
    if submission.pipeline_name:
        options["pipeline.name"] = submission.pipeline_name
    if submission.savepoint:
        options["execution.state-recovery.path"] = submission.savepoint
        if submission.allow_non_restored_state:
            options["execution.state-recovery.ignore-unclaimed-state"] = "true"
    return options


def submit(plan: RunPlan, submission: Submission) -> str:
    """Run the plan's SETs and DDL, submit its INSERTs as one statement set; the Flink job id."""
    from pyflink.common import Configuration  # type: ignore[import-untyped]
    from pyflink.table import EnvironmentSettings, TableEnvironment  # type: ignore[import-untyped]

    # The jobs use no Python UDFs: no Beam loopback worker pool (PyFlink binds it to every
    # interface, unauthenticated); a local run's Flink endpoints listen on loopback only.
    os.environ["_python_worker_execution_mode"] = "process"  # noqa: SIM112 - PyFlink's own name
    conf = Configuration()
    for key, value in submission_options(submission).items():
        conf.set_string(key, value)
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
