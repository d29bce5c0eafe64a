"""Flink's own REST API (the JobManager's, /jobs/...): job state, checkpoints, stop with savepoint."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from services.router.adapters.http_json import HttpError, request_json
from services.router.ports import DeployError

_FAILED_STATES = {"FAILED", "FAILING", "CANCELED", "CANCELLING", "FINISHED", "SUSPENDED"}
_TERMINAL_STATES = {"FAILED", "CANCELED", "FINISHED"}


class FlinkRest:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        poll_interval: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._poll = poll_interval
        self._sleep = sleep

    async def _get(self, path: str) -> Any:
        return await request_json("GET", self._base + path, timeout=self._timeout)

    async def job_state(self, job_id: str) -> str:
        """GET /jobs/:jobid -> its `state` (RUNNING, FAILED, ...)."""
        answer = await self._get(f"/jobs/{job_id}")
        return str(answer.get("state", "UNKNOWN"))

    async def job_failure(self, job_id: str) -> str | None:
        """Why the job failed (GET /jobs/:jobid/exceptions), when Flink says: the exception's first
        line and its deepest cause, which is where a restore failure says what it is (the top is
        often only "Recovery is suppressed by NoRestartBackoffTimeStrategy")."""
        try:
            answer = await self._get(f"/jobs/{job_id}/exceptions")
        except HttpError:
            return None
        if not isinstance(answer, dict):
            return None
        trace = str(answer.get("root-exception") or "")
        history = (answer.get("exceptionHistory") or {}).get("entries") or []
        if not trace and history:
            first = history[0]
            trace = str(first.get("stacktrace") or first.get("exceptionName") or "")
            if first.get("exceptionName") and not trace.startswith(str(first["exceptionName"])):
                trace = f"{first['exceptionName']}: {trace}"
        return failure_summary(trace) if trace else None

    async def failures(self, job_id: str) -> int:
        """How many failures Flink recorded for the job (GET /jobs/:jobid/exceptions history); 0 when
        the endpoint does not answer (the job's state alone then decides)."""
        try:
            answer = await self._get(f"/jobs/{job_id}/exceptions")
        except HttpError:
            return 0
        if not isinstance(answer, dict):
            return 0
        entries = (answer.get("exceptionHistory") or {}).get("entries") or []
        return len(entries) or (1 if answer.get("root-exception") else 0)

    async def completed_checkpoints(self, job_id: str) -> int:
        answer = await self._get(f"/jobs/{job_id}/checkpoints")
        return int((answer.get("counts") or {}).get("completed", 0))

    async def wait_running(
        self, job_id: str, *, stable_seconds: float, require_checkpoint: bool, deadline_s: float
    ) -> None:
        """Return once the job was RUNNING for `stable_seconds` (and checkpointed) without failing
        once; else DeployError with Flink's cause.

        A job that failed while starting is not started, even if its restart strategy brings it
        back to RUNNING: a restore from incompatible state fails in the tasks (the job stays
        RUNNING or RESTARTING, restarting for ever), so RESTARTING, or any failure in the job's
        exception history when the window ends, fails the start.
        """
        started = time.monotonic()
        running_since: float | None = None
        while True:
            state = await self.job_state(job_id)
            now = time.monotonic()
            if state in _FAILED_STATES or state == "RESTARTING":
                cause = await self.job_failure(job_id)
                what = "failed and is restarting" if state == "RESTARTING" else f"is {state}"
                raise DeployError(f"Flink job {job_id} {what}" + (f": {cause}" if cause else ""))
            if state == "RUNNING":
                running_since = running_since if running_since is not None else now
                stable = now - running_since >= stable_seconds
                if stable and (not require_checkpoint or await self.completed_checkpoints(job_id) > 0):
                    if await self.failures(job_id):
                        cause = await self.job_failure(job_id)
                        raise DeployError(
                            f"Flink job {job_id} failed while starting" + (f": {cause}" if cause else "")
                        )
                    return
            else:
                running_since = None
            if now - started > deadline_s:
                raise DeployError(
                    f"Flink job {job_id} did not stay RUNNING within {deadline_s:g}s (last state {state})"
                )
            await self._sleep(self._poll)

    async def stop_with_savepoint(
        self, job_id: str, target_directory: str | None, *, deadline_s: float = 300
    ) -> str | None:
        """POST /jobs/:jobid/stop, then poll the savepoint trigger; the savepoint's location."""
        body: dict[str, Any] = {"drain": False}
        if target_directory:
            body["targetDirectory"] = target_directory
        trigger = await request_json("POST", f"{self._base}/jobs/{job_id}/stop", body, timeout=self._timeout)
        request_id = trigger.get("request-id")
        if not request_id:
            raise DeployError(f"Flink did not accept stop-with-savepoint for job {job_id}: {trigger}")
        started = time.monotonic()
        while time.monotonic() - started < deadline_s:
            status = await self._get(f"/jobs/{job_id}/savepoints/{request_id}")
            if (status.get("status") or {}).get("id") == "COMPLETED":
                operation = status.get("operation") or {}
                if operation.get("failure-cause"):
                    cause = operation["failure-cause"]
                    raise DeployError(
                        f"stop-with-savepoint of job {job_id} failed: {cause.get('class', cause)}"
                    )
                location = operation.get("location")
                await self.wait_terminal(
                    job_id, deadline_s=max(deadline_s - (time.monotonic() - started), 30)
                )
                return str(location) if location else None
            await self._sleep(self._poll)
        raise DeployError(f"stop-with-savepoint of job {job_id} did not complete within {deadline_s:g}s")

    async def wait_terminal(self, job_id: str, *, deadline_s: float) -> str:
        """Poll until the job reached a globally terminal state (it finishes shortly after its
        stop-with-savepoint completes); its state. So a caller never starts a successor while
        the old job still writes to the same sink."""
        started = time.monotonic()
        while True:
            state = await self.job_state(job_id)
            if state in _TERMINAL_STATES:
                return state
            if time.monotonic() - started > deadline_s:
                raise DeployError(
                    f"Flink job {job_id} is still {state} {deadline_s:g}s after its savepoint completed"
                )
            await self._sleep(self._poll)

    async def cancel(self, job_id: str) -> None:
        """PATCH /jobs/:jobid?mode=cancel."""
        await request_json("PATCH", f"{self._base}/jobs/{job_id}?mode=cancel", timeout=self._timeout)


def failure_summary(trace: str) -> str:
    """A Java stack trace as one line: its first line and, when there is one, its deepest cause."""
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    if not lines:
        return ""
    causes = [line.removeprefix("Caused by:").strip() for line in lines if line.startswith("Caused by:")]
    deepest = causes[-1] if causes else None
    return lines[0] if deepest is None or deepest in lines[0] else f"{lines[0]} (caused by {deepest})"
