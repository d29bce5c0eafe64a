"""Child process of the flink-session deployer: submit statements with PyFlink to a remote cluster.

Reads {"host", "port", "statements", "pipeline_name", "savepoint", "jars"} as JSON on stdin;
prints {"job_id": ...} or {"error": ...} as one JSON line on stdout. DDL runs as is; the
INSERTs are submitted together as one statement set (one Flink job), detached. `SET 'k' = 'v'`
goes into the table config (executeSql() does not take SET; the SQL client handles it).

`jars` (local paths or URLs) become `pipeline.jars`: the connector jars are shipped with the
job to the session cluster, which then needs none installed. Secret references
`${secret:<name>}` are resolved here, from the environment variable `SW_SECRET_<NAME>` (upper
case, non-alphanumerics as `_`; docs/generated-job.md "Secrets"); a missing one fails the
submission naming the variable, never its value.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from services.flinksql.statements import parse_set, split_statements

_SECRET_REF = re.compile(r"\$\{secret:([A-Za-z0-9][A-Za-z0-9._-]*)\}")


class SubmitError(Exception):
    """The submission cannot even be attempted (missing secret, bad request)."""


def secret_variable(name: str) -> str:
    """`SW_SECRET_<NAME>`: the environment variable holding secret `name`."""
    return "SW_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def resolve_secrets(statement: str, environ: Mapping[str, str]) -> str:
    """Replace every `${secret:<name>}` by its variable's value, escaped for a SQL string literal."""

    def value(match: re.Match[str]) -> str:
        variable = secret_variable(match.group(1))
        if variable not in environ:
            raise SubmitError(
                f"secret {match.group(1)!r} is not set: export {variable} for the router's deployer"
            )
        return environ[variable].replace("'", "''")

    return _SECRET_REF.sub(value, statement)


def jar_urls(jars: Iterable[str]) -> str:
    """`pipeline.jars`: local paths as file:// URLs (checked to exist), URLs as given, ';'-joined."""
    urls = []
    for jar in jars:
        if "://" in jar:
            urls.append(jar)
            continue
        path = Path(jar).expanduser().resolve()
        if not path.is_file():
            raise SubmitError(f"connector jar not found: {path}")
        urls.append(path.as_uri())
    return ";".join(urls)


def error_text(error: BaseException) -> str:
    """The exception's first line plus its deepest Java `Caused by:` (where the engine says why)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    head = lines[0] if lines else ""
    causes = [line for line in lines if line.startswith("Caused by:")]
    text = f"{type(error).__name__}: {head}"
    if causes and causes[-1][len("Caused by:") :].strip() not in head:
        text += f" (caused by {causes[-1][len('Caused by:') :].strip()})"
    return text[:4000]


def submit(request: Mapping[str, Any], environ: Mapping[str, str]) -> str | None:
    """Run the statements against the remote cluster; the Flink job id of the submitted job."""
    statements = [resolve_secrets(str(s), environ) for s in request["statements"]]
    jars = jar_urls(str(j) for j in request.get("jars") or [])

    from pyflink.common import Configuration  # type: ignore[import-untyped]
    from pyflink.table import EnvironmentSettings, TableEnvironment  # type: ignore[import-untyped]

    conf = Configuration()
    conf.set_string("execution.target", "remote")
    conf.set_string("rest.address", str(request["host"]))
    conf.set_string("rest.port", str(request["port"]))
    conf.set_string("pipeline.name", str(request["pipeline_name"]))
    conf.set_string("execution.attached", "false")
    if request.get("savepoint"):
        conf.set_string("execution.state-recovery.path", str(request["savepoint"]))
    settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    env = TableEnvironment.create(settings)
    if jars:
        # Through TableConfig.set: PyFlink then also puts the jars on this JVM's context class
        # loader, so the planner finds the connector factories (and dialects) at CREATE/INSERT.
        env.get_config().set("pipeline.jars", jars)
    inserts = []
    job_id = None
    for statement in statements:
        # TableEnvironment.executeSql() rejects SET (a SQL client command): apply it to the config.
        setting = parse_set(statement)
        lexed = split_statements(statement, strict=False)
        if setting is not None:
            env.get_config().set(*setting)
        elif lexed and lexed[0].leading_words(1) == ["INSERT"]:
            inserts.append(statement)
        elif lexed and lexed[0].submits_job:
            client = env.execute_sql(statement).get_job_client()
            job_id = str(client.get_job_id()) if client is not None else job_id
        else:
            env.execute_sql(statement)
    if inserts:
        statement_set = env.create_statement_set()
        for statement in inserts:
            statement_set.add_insert_sql(statement)
        client = statement_set.execute().get_job_client()
        job_id = str(client.get_job_id()) if client is not None else job_id
    return job_id


def main() -> int:
    try:
        request = json.loads(sys.stdin.read())
        job_id = submit(request, os.environ)
    except Exception as error:  # report the engine's error to the parent, one line
        message = str(error) if isinstance(error, SubmitError) else error_text(error)
        print(json.dumps({"error": message}), flush=True)
        return 1
    if not job_id:
        print(json.dumps({"error": "Flink returned no job client: nothing was submitted"}), flush=True)
        return 1
    print(json.dumps({"job_id": job_id}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
