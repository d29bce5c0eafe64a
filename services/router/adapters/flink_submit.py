"""Child process of the flink-session deployer: submit statements with PyFlink to a remote cluster.

Reads {"host", "port", "statements", "pipeline_name", "savepoint"} as JSON on stdin; prints
{"job_id": ...} or {"error": ...} as one JSON line on stdout. DDL runs as is; the INSERTs are
submitted together as one statement set (one Flink job).
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        from pyflink.common import Configuration  # type: ignore[import-untyped]
        from pyflink.table import EnvironmentSettings, TableEnvironment  # type: ignore[import-untyped]

        from services.router.domain.sqlsplit import is_insert, is_job_statement

        conf = Configuration()
        conf.set_string("execution.target", "remote")
        conf.set_string("rest.address", str(request["host"]))
        conf.set_string("rest.port", str(request["port"]))
        conf.set_string("pipeline.name", str(request["pipeline_name"]))
        conf.set_string("execution.attached", "false")
        if request.get("savepoint"):
            conf.set_string("execution.savepoint.path", str(request["savepoint"]))
        settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
        env = TableEnvironment.create(settings)
        inserts = []
        job_id = None
        for statement in request["statements"]:
            if is_insert(statement):
                inserts.append(statement)
            elif is_job_statement(statement):
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
    except Exception as error:  # report the engine's error to the parent, one line
        message = str(error).strip().splitlines()
        print(json.dumps({"error": f"{type(error).__name__}: {message[0] if message else ''}"[:2000]}))
        return 1
    print(json.dumps({"job_id": job_id}))
    return 0 if job_id else 1


if __name__ == "__main__":
    sys.exit(main())
