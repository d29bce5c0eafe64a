"""The `sql-gateway` deployer: Flink SQL Gateway REST API (open session, execute, poll, job id).

Requests and answers as the gateway documents them (rest_v1/v2_sql_gateway):

    POST   /v1/sessions                                  {"sessionName", "properties"} -> {"sessionHandle"}
    POST   /v1/sessions/{s}/statements                    {"statement", "executionConfig"} -> {"operationHandle"}
    GET    /v1/sessions/{s}/operations/{o}/status         -> {"status": "RUNNING" | "FINISHED" | "ERROR" | ...}
    GET    /v1/sessions/{s}/operations/{o}/result/0?rowFormat=JSON
           -> {"resultType", "resultKind", "jobID", "results": {"columns", "data": [{"kind", "fields"}]}, "nextResultUri"}
    DELETE /v1/sessions/{s}                               -> {"status"}

An ERROR operation's failure is read from the result call, which answers HTTP 500 with Flink's
`{"errors": [...]}`; that text becomes the run's FAILED reason. With a Flink REST URL, the job
is then watched until it has stayed RUNNING (and checkpointed, when asked); a job that does not
is cancelled. When the start had stopped the previous job with a savepoint (an upgrade), its
failure is a `RestoreFailed` carrying that savepoint: the router restarts the previous revision.

What is sent is the kernel's statement list of the run's SQL (each statement with the comments
before it), never a split of its own, and only after the SQL runner's checks pass
(`services.flinksql.job_policy`, shared with the runner and the flink-session deployer): the
statement digest must be the validated one (a start without a validated digest is refused),
only the kinds the generator emits, no hints,
and `${secret:NAME}` only as a declared, exact WITH option value, resolved here from
`SW_SECRET_<NAME>` in the router's environment as the runner resolves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from services.flinksql.job_policy import RunnerError, Step, check_statements, read_script, resolve
from services.flinksql.statements import StatementKind
from services.mesh.events import Target
from services.router.adapters.flink_rest import FlinkRest
from services.router.adapters.http_json import HttpError, request_json
from services.router.adapters.job_config import JobConfigError, read_declared_secrets
from services.router.ports import DeployError, RestoreFailed, StartRequest, StartResult

_DONE = {"FINISHED"}
_BROKEN = {"ERROR", "CANCELED", "CLOSED", "TIMEOUT"}


class SqlGatewayDeployer:
    target: Target = "sql-gateway"

    def __init__(
        self,
        gateway_url: str,
        *,
        flink_rest: FlinkRest | None = None,
        api_version: str = "v1",
        timeout: float = 30.0,
        operation_deadline_s: float = 120.0,
        stable_seconds: float = 10.0,
        require_checkpoint: bool = False,
        savepoint_dir: str | None = None,
        poll_interval: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._base = f"{gateway_url.rstrip('/')}/{api_version}"
        self._rest = flink_rest
        self._timeout = timeout
        self._deadline = operation_deadline_s
        self._stable = stable_seconds
        self._checkpoint = require_checkpoint
        self._savepoint_dir = savepoint_dir
        self._poll = poll_interval
        self._sleep = sleep
        self._environ = environ

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        return await request_json(method, self._base + path, body, timeout=self._timeout)

    async def start(self, request: StartRequest) -> StartResult:
        statements = self._checked_statements(request)
        stopped = None if request.restore_from else await self._stop_previous(request.previous)
        savepoint = request.restore_from or stopped
        try:
            return await self._start_from(request, statements, savepoint)
        except DeployError as failure:
            if stopped:  # the previous job is stopped: the router restarts it from its savepoint
                raise RestoreFailed(str(failure), savepoint=stopped) from None
            raise

    async def _start_from(
        self, request: StartRequest, statements: list[Step], savepoint: str | None
    ) -> StartResult:
        properties = {"pipeline.name": f"streamwright-{request.domain}-r{request.revision}"}
        if savepoint:
            properties["execution.savepoint.path"] = savepoint
            if request.allow_non_restored_state:
                properties["execution.savepoint.ignore-unclaimed-state"] = "true"
        try:
            opened = await self._call(
                "POST",
                "/sessions",
                {"sessionName": f"streamwright-{request.run_id}", "properties": properties},
            )
        except HttpError as error:
            raise DeployError(f"SQL gateway: cannot open a session: {error}") from None
        session = opened.get("sessionHandle")
        if not session:
            raise DeployError(f"SQL gateway answered no sessionHandle: {opened}")
        try:
            job_id = await self._execute_all(session, statements)
        finally:
            with contextlib.suppress(HttpError):  # the gateway expires idle sessions itself
                await self._call("DELETE", f"/sessions/{session}")
        if job_id is None:
            raise DeployError("the SQL gateway ran the statements but reported no job id")
        if self._rest is not None:
            try:
                await self._rest.wait_running(
                    job_id,
                    stable_seconds=self._stable,
                    require_checkpoint=self._checkpoint,
                    deadline_s=self._deadline,
                )
            except DeployError:
                # A job that failed its start leaves nothing behind: the previous revision may be
                # restarted on the same sink next.
                await self._cancel_quietly(job_id)
                raise
        return StartResult(
            target=self.target,
            deployment_ref=f"{self._base}/sessions/{session}",
            job_id=job_id,
            savepoint_restored=savepoint,
            detail={"session": session, "statements": len(statements)},
        )

    async def _cancel_quietly(self, job_id: str) -> None:
        """Cancel a job that failed its start (best effort: it may be over already)."""
        assert self._rest is not None
        try:
            if await self._rest.job_state(job_id) not in ("FAILED", "CANCELED", "FINISHED"):
                await self._rest.cancel(job_id)
        except HttpError:
            return

    def _checked_statements(self, request: StartRequest) -> list[Step]:
        """The kernel's statements of the run's SQL (comments kept with their statement), after the
        SQL runner's checks, secrets resolved; DeployError naming the refusal."""
        if not request.sql:
            raise DeployError("no SQL recorded for this run's attempt: nothing to submit")
        if not request.sql_digest:
            raise DeployError(
                "the run has no validated statement digest: only SQL the validator verified is submitted"
            )
        try:
            secrets = (
                read_declared_secrets(request.artifact_ref, request.domain) if request.artifact_ref else ()
            )
        except JobConfigError as error:
            raise DeployError(f"cannot read the job's declared secrets: {error}") from None
        try:
            job = check_statements(
                read_script(request.sql, keep_comments=True),
                expected_digest=request.sql_digest,
                declared_secrets=secrets,
            )
            return list(resolve(job, os.environ if self._environ is None else self._environ).steps)
        except RunnerError as refused:
            raise DeployError(f"the SQL runner's checks refuse this job: {refused}") from None

    async def _execute_all(self, session: str, statements: list[Step]) -> str | None:
        job_id: str | None = None
        for index, statement in enumerate(statements, start=1):
            try:
                submitted = await self._call(
                    "POST", f"/sessions/{session}/statements", {"statement": statement.text}
                )
            except HttpError as error:
                raise DeployError(f"statement {index} was refused: {_errors(error)}") from None
            operation = submitted.get("operationHandle")
            if not operation:
                raise DeployError(f"statement {index}: the gateway answered no operationHandle")
            await self._wait_operation(session, operation, index)
            if statement.kind is StatementKind.INSERT:
                job_id = await self._job_id(session, operation, index) or job_id
        return job_id

    async def _wait_operation(self, session: str, operation: str, index: int) -> None:
        started = time.monotonic()
        while True:
            answer = await self._call("GET", f"/sessions/{session}/operations/{operation}/status")
            status = str(answer.get("status", "")).upper()
            if status in _DONE:
                return
            if status in _BROKEN:
                raise DeployError(
                    f"statement {index} ended {status}: {await self._failure(session, operation)}"
                )
            if time.monotonic() - started > self._deadline:
                raise DeployError(f"statement {index} still {status} after {self._deadline:g}s")
            await self._sleep(self._poll)

    async def _failure(self, session: str, operation: str) -> str:
        try:
            await self._call("GET", f"/sessions/{session}/operations/{operation}/result/0?rowFormat=JSON")
        except HttpError as error:
            return _errors(error)
        return "no error detail from the gateway"

    async def _job_id(self, session: str, operation: str, index: int) -> str | None:
        path = f"/sessions/{session}/operations/{operation}/result/0?rowFormat=JSON"
        for _ in range(int(self._deadline / max(self._poll, 0.01)) + 1):
            try:
                answer = await self._call("GET", path)
            except HttpError as error:
                raise DeployError(f"statement {index} failed: {_errors(error)}") from None
            if answer.get("jobID"):
                return str(answer["jobID"])
            rows = (answer.get("results") or {}).get("data") or []
            for row in rows:
                fields = row.get("fields") if isinstance(row, Mapping) else None
                if fields:
                    return str(fields[0])
            if answer.get("resultType") == "NOT_READY":
                await self._sleep(self._poll)
                continue
            return None
        return None

    async def _stop_previous(self, previous: Mapping[str, Any] | None) -> str | None:
        if (
            not previous
            or previous.get("target") not in ("sql-gateway", "flink-session")
            or self._rest is None
        ):
            return None
        job_id = previous.get("job_id")
        if not job_id:
            return None
        try:
            return await self._rest.stop_with_savepoint(str(job_id), self._savepoint_dir)
        except HttpError as error:
            raise DeployError(f"cannot stop the previous job {job_id} with a savepoint: {error}") from None

    async def stop(self, deployment: Mapping[str, Any], *, savepoint: bool = True) -> str | None:
        job_id = deployment.get("job_id")
        if self._rest is None or not job_id:
            raise DeployError(
                "stopping needs the Flink REST URL (STREAMWRIGHT_ROUTER_FLINK_REST_URL) and a job id"
            )
        try:
            if savepoint:
                return await self._rest.stop_with_savepoint(str(job_id), self._savepoint_dir)
            await self._rest.cancel(str(job_id))
        except HttpError as error:
            raise DeployError(f"cannot stop Flink job {job_id}: {_errors(error)}") from None
        return None


def _errors(error: HttpError) -> str:
    if error.errors:
        # Flink puts the summary first and the stack trace after; keep the cause lines.
        lines = [line.strip() for e in error.errors for line in e.splitlines() if line.strip()]
        causes = [line for line in lines if line.startswith("Caused by:")]
        head = lines[0] if lines else str(error)
        return head + (f" ({causes[-1]})" if causes else "")
    return str(error)
