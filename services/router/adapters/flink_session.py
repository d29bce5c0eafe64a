"""The `flink-session` deployer: the job submitted to a Flink session cluster by the SQL runner.

Submission goes through the project's runner (`python -m services.runner --remote HOST:PORT`,
PyFlink's TableEnvironment with `execution.target: remote`) in a child process, so the router
never hosts a JVM; the job is then watched through Flink's REST API (`FlinkRest`) until it has
stayed RUNNING (and checkpointed, when asked). An upgrade stops the domain's previous job with
a savepoint and starts the new one from it; when the new one then does not start (or does not
stay RUNNING), the failure is a `RestoreFailed` carrying that savepoint, and the router restarts
the previous revision from it.

Only SQL with a validated statement digest starts: the deployer checks the run's SQL with the
runner's own checks (`services.flinksql.job_policy`: digest, statement kinds, hints, secret
placement) before it stops anything, writes it to a private temp file (0600) and hands the
runner the file, the digest and the job's declared secrets (from its job config under
`artifact_ref`); the runner checks all of it again and resolves each `${secret:NAME}` from
`SW_SECRET_<NAME>` in the router's environment (docs/generated-job.md, "The SQL runner").

The connector jars the job needs (Kafka, JDBC, drivers) are shipped with it (`pipeline.jars`):
the `jars` argument (the router's `flink_jars` setting, STREAMWRIGHT_ROUTER_FLINK_JARS), else
none (the cluster's lib/ must then hold them, as the runner image's does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from services.flinksql.job_policy import EXIT_REFUSED, EXIT_USAGE, RunnerError, check_script
from services.mesh.events import Target
from services.router.adapters.flink_rest import FlinkRest
from services.router.adapters.http_json import HttpError
from services.router.adapters.job_config import JobConfigError, read_declared_secrets
from services.router.ports import DeployError, RestoreFailed, StartRequest, StartResult

RUNNER_MODULE = "services.runner"

_TERMINAL_STATES = frozenset({"FAILED", "CANCELED", "FINISHED"})


class FlinkSessionDeployer:
    target: Target = "flink-session"

    def __init__(
        self,
        rest_url: str,
        *,
        rest: FlinkRest,
        stable_seconds: float = 10.0,
        require_checkpoint: bool = False,
        savepoint_dir: str | None = None,
        submit_timeout_s: float = 300.0,
        python: str = sys.executable,
        jars: Sequence[str] = (),
    ) -> None:
        parsed = urlparse(rest_url)
        if not parsed.hostname:
            raise ValueError(f"not a Flink REST URL: {rest_url!r}")
        self._host = parsed.hostname
        self._port = parsed.port or 8081
        self._rest = rest
        self._stable = stable_seconds
        self._checkpoint = require_checkpoint
        self._savepoint_dir = savepoint_dir
        self._timeout = submit_timeout_s
        self._python = python
        self._jars = list(jars)

    async def start(self, request: StartRequest) -> StartResult:
        if not request.sql:
            raise DeployError("no SQL recorded for this run's attempt: nothing to submit")
        if not request.sql_digest:
            raise DeployError(
                "the run has no validated statement digest: only SQL the validator verified is submitted"
            )
        secrets = declared_secrets(request)
        try:  # the runner's own checks, before anything is stopped; it checks again itself
            check_script(request.sql, expected_digest=request.sql_digest, declared_secrets=secrets)
        except RunnerError as refused:
            raise DeployError(f"the SQL runner refuses this job: {refused}") from None
        stopped = None if request.restore_from else await self._stop_previous(request.previous)
        savepoint = request.restore_from or stopped
        try:
            job_id = await self._submit_and_watch(request, secrets, savepoint)
        except DeployError as failure:
            if stopped:  # the previous job is stopped: the router restarts it from its savepoint
                raise RestoreFailed(str(failure), savepoint=stopped) from None
            raise
        return StartResult(
            target=self.target,
            deployment_ref=f"http://{self._host}:{self._port}/jobs/{job_id}",
            job_id=job_id,
            savepoint_restored=savepoint,
            detail={"submitter": RUNNER_MODULE, "sql_digest": request.sql_digest, "secrets": list(secrets)},
        )

    async def _submit_and_watch(
        self, request: StartRequest, secrets: Sequence[str], savepoint: str | None
    ) -> str:
        """Submit the job (from `savepoint`) and watch it until it has stayed RUNNING; its id."""
        assert request.sql is not None and request.sql_digest is not None
        job_id = await self._submit(
            request.sql,
            [
                "--digest",
                request.sql_digest,
                "--remote",
                f"{self._host}:{self._port}",
                "--pipeline-name",
                f"streamwright-{request.domain}-r{request.revision}",
                *(arg for name in secrets for arg in ("--secret", name)),
                *(arg for jar in self._jars for arg in ("--jars", jar)),
                *(("--savepoint", savepoint) if savepoint else ()),
                *(("--allow-non-restored-state",) if savepoint and request.allow_non_restored_state else ()),
            ],
        )
        try:
            await self._rest.wait_running(
                job_id,
                stable_seconds=self._stable,
                require_checkpoint=self._checkpoint,
                deadline_s=self._timeout,
            )
        except DeployError:
            await self._cancel_quietly(job_id)
            raise
        except HttpError as error:
            await self._cancel_quietly(job_id)
            raise DeployError(f"cannot watch Flink job {job_id} after submitting it: {error}") from None
        return job_id

    async def _submit(self, sql: str, args: Sequence[str]) -> str:
        """Run the runner on the SQL (a private temp file, removed after); its Flink job id."""
        fd, path = tempfile.mkstemp(prefix="sw-job-", suffix=".sql")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(sql.encode("utf-8"))  # byte for byte: the digest counts every token
            return await self._run_runner(["--sql", path, *args])
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    async def _run_runner(self, args: Sequence[str]) -> str:
        process = await asyncio.create_subprocess_exec(
            self._python,
            "-m",
            RUNNER_MODULE,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), self._timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise DeployError(
                f"submitting to the Flink session cluster took longer than {self._timeout:g}s"
            ) from None
        answer = _last_json_line(out.decode(errors="replace"))
        if process.returncode == 0 and answer.get("job_id"):
            return str(answer["job_id"])
        detail = answer.get("error")
        if not detail:
            tail = err.decode(errors="replace").strip().splitlines()[-1:]
            detail = tail[0] if tail else f"the runner exited with {process.returncode} and no output"
        if process.returncode == EXIT_REFUSED:
            raise DeployError(f"the SQL runner refused the job: {detail}")
        if process.returncode == EXIT_USAGE:
            raise DeployError(f"the SQL runner was started wrongly: {detail}")
        raise DeployError(f"Flink refused the job: {detail}")

    async def _cancel_quietly(self, job_id: str) -> None:
        """A start that failed its check leaves no job behind (best effort: it may be over already)."""
        try:
            if await self._rest.job_state(job_id) not in _TERMINAL_STATES:
                await self._rest.cancel(job_id)
        except HttpError:
            return

    async def _stop_previous(self, previous: Mapping[str, Any] | None) -> str | None:
        if not previous or previous.get("target") != self.target or not previous.get("job_id"):
            return None
        job_id = str(previous["job_id"])
        try:
            if await self._rest.job_state(job_id) != "RUNNING":
                return None
            return await self._rest.stop_with_savepoint(job_id, self._savepoint_dir)
        except HttpError as error:
            raise DeployError(f"cannot stop the previous job {job_id} with a savepoint: {error}") from None

    async def stop(self, deployment: Mapping[str, Any], *, savepoint: bool = True) -> str | None:
        job_id = deployment.get("job_id")
        if not job_id:
            raise DeployError("the deployment has no Flink job id")
        try:
            if savepoint:
                return await self._rest.stop_with_savepoint(str(job_id), self._savepoint_dir)
            await self._rest.cancel(str(job_id))
        except HttpError as error:
            raise DeployError(f"cannot stop Flink job {job_id}: {error}") from None
        return None


def declared_secrets(request: StartRequest) -> tuple[str, ...]:
    """The job's declared secrets from its job config under `artifact_ref` (none without one)."""
    if not request.artifact_ref:
        return ()
    try:
        return read_declared_secrets(request.artifact_ref, request.domain)
    except JobConfigError as error:
        raise DeployError(f"cannot read the job's declared secrets: {error}") from None


def _last_json_line(output: str) -> dict[str, Any]:
    """The runner's answer: its last stdout line that is a JSON object (the JVM may print too)."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return {}
