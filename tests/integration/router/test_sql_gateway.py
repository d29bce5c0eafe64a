"""The sql-gateway deployer against a local stand-in of the Flink SQL Gateway REST API.

`SqlGatewayStandIn` is NOT Flink: it answers the documented request/response shapes of the
gateway's REST API (open session, execute statement, operation status, fetch results, close
session) and of the JobManager's /jobs/:jobid, and records what the deployer sent.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from services.flinksql.statements import script_digest
from services.router.adapters.flink_rest import FlinkRest
from services.router.adapters.sql_gateway import SqlGatewayDeployer
from services.router.ports import DeployError, RestoreFailed, StartRequest

pytestmark = pytest.mark.integration

JOB_ID = "a" * 32
PREVIOUS_JOB = "b" * 32
SAVEPOINT = "file:/savepoints/savepoint-bbbbbb-1"
SQL = """-- source
CREATE TEMPORARY TABLE src (id STRING, note STRING) WITH ('connector' = 'datagen', 'x' = 'a;b');
CREATE TEMPORARY TABLE sink (id STRING) WITH ('connector' = 'blackhole');
/* the job; */
INSERT INTO sink SELECT id FROM src WHERE note <> ';';
"""


class SqlGatewayStandIn(BaseHTTPRequestHandler):
    """Stand-in for the SQL Gateway (v1 REST) plus the JobManager's /jobs/:jobid."""

    requests: ClassVar[list[tuple[str, str, Any]]] = []
    polls: ClassVar[dict[str, int]] = {}
    statements: ClassVar[dict[str, str]] = {}
    fail_on: ClassVar[str | None] = None
    job_state: ClassVar[str] = "RUNNING"  # of the submitted job
    history: ClassVar[list[dict[str, Any]]] = []  # its exception history

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def do_POST(self) -> None:
        body = self._body()
        SqlGatewayStandIn.requests.append(("POST", self.path, body))
        if self.path == "/v1/sessions":
            self._reply(200, {"sessionHandle": "s-1"})
        elif self.path == f"/jobs/{PREVIOUS_JOB}/stop":
            self._reply(202, {"request-id": "t-1"})
        elif re.fullmatch(r"/v1/sessions/s-1/statements", self.path):
            handle = f"op-{len(SqlGatewayStandIn.statements) + 1}"
            SqlGatewayStandIn.statements[handle] = body["statement"]
            self._reply(200, {"operationHandle": handle})
        else:
            self._reply(404, {"errors": ["Not found"]})

    def do_GET(self) -> None:
        SqlGatewayStandIn.requests.append(("GET", self.path, None))
        status = re.fullmatch(r"/v1/sessions/s-1/operations/(op-\d+)/status", self.path)
        result = re.fullmatch(r"/v1/sessions/s-1/operations/(op-\d+)/result/0\?rowFormat=JSON", self.path)
        if status:
            op = status.group(1)
            polls = SqlGatewayStandIn.polls[op] = SqlGatewayStandIn.polls.get(op, 0) + 1
            failing = self.fail_on is not None and self.fail_on in SqlGatewayStandIn.statements[op]
            state = "RUNNING" if polls < 2 else ("ERROR" if failing else "FINISHED")
            self._reply(200, {"status": state})
        elif result:
            statement = SqlGatewayStandIn.statements[result.group(1)]
            if self.fail_on is not None and self.fail_on in statement:
                self._reply(
                    500,
                    {
                        "errors": [
                            "Internal server error.",
                            "<Exception on server side:\norg.apache.flink.table.gateway.api.utils.SqlGatewayException: "
                            "Failed to fetchResults.\nCaused by: org.apache.flink.table.api.ValidationException: "
                            "Object 'nope' not found\n>",
                        ]
                    },
                )
            elif "INSERT INTO" in statement.upper():
                self._reply(
                    200,
                    {
                        "resultType": "PAYLOAD",
                        "isQueryResult": False,
                        "jobID": JOB_ID,
                        "resultKind": "SUCCESS_WITH_CONTENT",
                        "results": {
                            "columns": [
                                {"name": "job id", "logicalType": {"type": "VARCHAR", "nullable": True}}
                            ],
                            "rowFormat": "JSON",
                            "data": [{"kind": "INSERT", "fields": [JOB_ID]}],
                        },
                        "nextResultUri": "/v1/sessions/s-1/operations/x/result/1?rowFormat=JSON",
                    },
                )
            else:
                self._reply(
                    200,
                    {"resultType": "EOS", "resultKind": "SUCCESS", "results": {"columns": [], "data": []}},
                )
        elif self.path == f"/jobs/{JOB_ID}":
            self._reply(200, {"jid": JOB_ID, "name": "streamwright-orders-r1", "state": self.job_state})
        elif self.path == f"/jobs/{JOB_ID}/exceptions":
            failing = self.job_state != "RUNNING"
            root = (
                "java.lang.Exception: Exception while creating StreamOperatorStateContext."
                if failing
                else None
            )
            self._reply(200, {"root-exception": root, "exceptionHistory": {"entries": self.history}})
        elif self.path == f"/jobs/{PREVIOUS_JOB}/savepoints/t-1":
            self._reply(200, {"status": {"id": "COMPLETED"}, "operation": {"location": SAVEPOINT}})
        elif self.path == f"/jobs/{PREVIOUS_JOB}":
            self._reply(200, {"jid": PREVIOUS_JOB, "state": "FINISHED"})
        else:
            self._reply(404, {"errors": ["Not found: " + self.path]})

    def do_PATCH(self) -> None:
        SqlGatewayStandIn.requests.append(("PATCH", self.path, None))
        self._reply(202, {})

    def do_DELETE(self) -> None:
        SqlGatewayStandIn.requests.append(("DELETE", self.path, None))
        self._reply(200, {"status": "CLOSED"})

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def stand_in() -> Iterator[str]:
    SqlGatewayStandIn.requests, SqlGatewayStandIn.polls, SqlGatewayStandIn.statements = [], {}, {}
    SqlGatewayStandIn.fail_on, SqlGatewayStandIn.job_state = None, "RUNNING"
    SqlGatewayStandIn.history = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SqlGatewayStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def deployer(url: str) -> SqlGatewayDeployer:
    return SqlGatewayDeployer(
        url, flink_rest=FlinkRest(url, poll_interval=0.01), stable_seconds=0, poll_interval=0.01
    )


REQUEST = StartRequest(
    run_id="r1",
    domain="orders",
    revision=1,
    attempt=1,
    sql=SQL,
    artifact_ref=None,
    sql_digest=script_digest(SQL),
)


async def test_statements_run_in_one_session_and_the_job_id_is_recorded(stand_in: str) -> None:
    """It opens a session, executes each statement, polls to FINISHED, reads the job id, closes."""
    result = await deployer(stand_in).start(REQUEST)
    assert result.job_id == JOB_ID and result.target == "sql-gateway"
    posts = [(path, body) for method, path, body in SqlGatewayStandIn.requests if method == "POST"]
    assert posts[0] == (
        "/v1/sessions",
        {"sessionName": "streamwright-r1", "properties": {"pipeline.name": "streamwright-orders-r1"}},
    )
    sent = [body["statement"] for path, body in posts[1:]]
    assert len(sent) == 3 and sent[0].endswith("'x' = 'a;b')") and sent[2].endswith("WHERE note <> ';'")
    assert all(SqlGatewayStandIn.polls[op] == 2 for op in SqlGatewayStandIn.statements)
    assert ("DELETE", "/v1/sessions/s-1", None) in SqlGatewayStandIn.requests
    assert ("GET", f"/jobs/{JOB_ID}", None) in SqlGatewayStandIn.requests


async def test_engine_error_becomes_the_failure_reason(stand_in: str) -> None:
    """It fails with Flink's own error (the cause line) and still closes the session."""
    SqlGatewayStandIn.fail_on = "INSERT"
    with pytest.raises(DeployError) as caught:
        await deployer(stand_in).start(REQUEST)
    assert "ERROR" in str(caught.value) and "Object 'nope' not found" in str(caught.value)
    assert ("DELETE", "/v1/sessions/s-1", None) in SqlGatewayStandIn.requests


async def test_unreachable_gateway_and_empty_sql() -> None:
    """It refuses SQL with no job statement and reports an unreachable gateway as a DeployError."""
    with pytest.raises(DeployError, match="no INSERT"):
        await deployer("http://127.0.0.1:9").start(
            StartRequest(
                run_id="r",
                domain="d",
                revision=1,
                attempt=1,
                sql="CREATE TABLE t (a INT);",
                artifact_ref=None,
                sql_digest=script_digest("CREATE TABLE t (a INT);"),
            )
        )
    with pytest.raises(DeployError, match="cannot open a session"):
        await deployer("http://127.0.0.1:9").start(REQUEST)


async def test_statements_are_sent_with_the_comments_before_them(stand_in: str) -> None:
    """It cuts on semicolons outside strings and comments only, each statement keeping its comments."""
    await deployer(stand_in).start(REQUEST)
    sent = list(SqlGatewayStandIn.statements.values())
    assert len(sent) == 3
    assert sent[0].startswith("-- source") and "'a;b'" in sent[0]
    assert sent[2].startswith("/* the job; */")


UPGRADE = StartRequest(
    run_id="r2",
    domain="orders",
    revision=2,
    attempt=1,
    sql=SQL,
    artifact_ref=None,
    sql_digest=script_digest(SQL),
    previous={"target": "sql-gateway", "job_id": PREVIOUS_JOB, "revision": 1},
)


async def test_an_upgrade_starts_from_the_previous_jobs_savepoint(stand_in: str) -> None:
    """It stops the previous job with a savepoint and opens the session on it; dropped state only when asked."""
    result = await deployer(stand_in).start(UPGRADE)
    assert result.savepoint_restored == SAVEPOINT
    [opened] = [body for method, path, body in SqlGatewayStandIn.requests if path == "/v1/sessions"]
    assert opened["properties"]["execution.savepoint.path"] == SAVEPOINT
    assert "execution.savepoint.ignore-unclaimed-state" not in opened["properties"]
    SqlGatewayStandIn.requests.clear()
    await deployer(stand_in).start(replace(UPGRADE, allow_non_restored_state=True))
    [opened] = [body for method, path, body in SqlGatewayStandIn.requests if path == "/v1/sessions"]
    assert opened["properties"]["execution.savepoint.ignore-unclaimed-state"] == "true"


async def test_an_upgrade_that_does_not_start_says_where_the_previous_state_is(stand_in: str) -> None:
    """It fails with RestoreFailed carrying the previous job's savepoint when the new job is refused."""
    SqlGatewayStandIn.fail_on = "INSERT"
    with pytest.raises(RestoreFailed) as caught:
        await deployer(stand_in).start(UPGRADE)
    assert caught.value.savepoint == SAVEPOINT and "Object 'nope' not found" in str(caught.value)
    SqlGatewayStandIn.fail_on = None
    with pytest.raises(DeployError) as plain:  # nothing stopped: a plain failure
        await deployer("http://127.0.0.1:9").start(REQUEST)
    assert not isinstance(plain.value, RestoreFailed)


async def test_a_job_that_restarts_while_starting_is_cancelled_and_fails_the_start(stand_in: str) -> None:
    """It fails the start of a job that fails and restarts (a restore from incompatible state does),
    with Flink's cause, and cancels the job so that the previous revision can run on the sink again."""
    SqlGatewayStandIn.job_state = "RESTARTING"
    with pytest.raises(RestoreFailed) as caught:
        await deployer(stand_in).start(UPGRADE)
    assert "failed and is restarting" in str(caught.value)
    assert "StreamOperatorStateContext" in str(caught.value)
    assert ("PATCH", f"/jobs/{JOB_ID}?mode=cancel", None) in SqlGatewayStandIn.requests


async def test_a_job_running_again_after_a_failure_has_not_started(stand_in: str) -> None:
    """It fails the start of a job that is RUNNING at the end of the window but failed in it."""
    SqlGatewayStandIn.history = [
        {
            "exceptionName": "org.apache.flink.util.StateMigrationException",
            "stacktrace": "The new key serializer",
        }
    ]
    with pytest.raises(DeployError, match=r"failed while starting: org\.apache\.flink\.util\.StateMigration"):
        await deployer(stand_in).start(REQUEST)
