"""The router's deployers use the runner's checks before anything starts or stops (no process, no
socket: the runner child and Flink's REST API are faked)."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from test_runner_checks import ENV, JOB

from services.flinksql.artifacts import ArtifactLayout
from services.flinksql.statements import script_digest
from services.router.adapters.flink_rest import FlinkRest
from services.router.adapters.flink_session import FlinkSessionDeployer
from services.router.adapters.job_config import JobConfigError, read_declared_secrets, secrets_from_job_config
from services.router.adapters.sql_gateway import SqlGatewayDeployer
from services.router.ports import DeployError, RestoreFailed, StartRequest

JOB_ID = "b" * 32


class FakeRest:
    """Flink's REST API as the deployers use it; records what they asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def job_state(self, job_id: str) -> str:
        self.calls.append(("state", job_id))
        return "RUNNING"

    async def stop_with_savepoint(self, job_id: str, directory: str | None) -> str:
        self.calls.append(("stop", job_id))
        return "file:///sp/old"

    async def wait_running(self, job_id: str, **kwargs: Any) -> None:
        self.calls.append(("wait", job_id))

    async def cancel(self, job_id: str) -> None:
        self.calls.append(("cancel", job_id))


def _artifacts(root: Path, secrets: list[str]) -> str:
    path = root / ArtifactLayout("orders").job_config
    path.parent.mkdir(parents=True)
    entries = [{"name": s, "env": "SW_SECRET_X", "key": "value"} for s in secrets]
    path.write_text(yaml.safe_dump({"job": {"domain": "orders"}, "secrets": entries}), encoding="utf-8")
    return str(root)


def _request(artifact_ref: str | None, *, digest: str | None = None, sql: str = JOB) -> StartRequest:
    return StartRequest(
        run_id="run-1",
        domain="orders",
        revision=2,
        attempt=1,
        sql=sql,
        artifact_ref=artifact_ref,
        previous={"target": "flink-session", "job_id": "c" * 32},
        sql_digest=digest,
    )


def _session(rest: FakeRest) -> FlinkSessionDeployer:
    return FlinkSessionDeployer(
        "http://127.0.0.1:8081", rest=cast(FlinkRest, rest), jars=["/opt/jars/kafka.jar"], python="/py"
    )


async def test_the_session_deployer_hands_the_runner_the_file_digest_and_declared_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It runs `python -m services.runner` on a private copy of the SQL with the validated digest,
    the declared secrets, the jars and the savepoint of the job it stopped; the file is removed."""
    rest = FakeRest()
    deployer = _session(rest)
    seen: dict[str, Any] = {}

    async def fake_runner(args: list[str]) -> str:
        path = Path(args[args.index("--sql") + 1])
        seen.update(args=args, sql=path.read_bytes(), mode=stat.S_IMODE(path.stat().st_mode), path=path)
        return JOB_ID

    monkeypatch.setattr(deployer, "_run_runner", fake_runner)
    request = _request(_artifacts(tmp_path, ["dim-reader"]), digest=script_digest(JOB))
    result = await deployer.start(request)
    assert result.job_id == JOB_ID and result.savepoint_restored == "file:///sp/old"
    assert result.detail == {
        "submitter": "services.runner",
        "sql_digest": script_digest(JOB),
        "secrets": ["dim-reader"],
    }
    args = seen["args"]
    assert args[args.index("--digest") + 1] == script_digest(JOB)
    assert args[args.index("--remote") + 1] == "127.0.0.1:8081"
    assert args[args.index("--secret") + 1] == "dim-reader"
    assert args[args.index("--jars") + 1] == "/opt/jars/kafka.jar"
    assert args[args.index("--savepoint") + 1] == "file:///sp/old"
    assert args[args.index("--pipeline-name") + 1] == "streamwright-orders-r2"
    assert seen["sql"] == JOB.encode() and seen["mode"] == 0o600
    assert not seen["path"].exists()
    assert ("stop", "c" * 32) in rest.calls and ("wait", JOB_ID) in rest.calls
    assert "--allow-non-restored-state" not in args


async def test_a_session_upgrade_that_does_not_start_carries_the_savepoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It fails an upgrade whose new job Flink refuses with RestoreFailed and the stopped job's
    savepoint (the router restarts that job from it); it passes an approved drop of state on."""
    rest = FakeRest()
    deployer = _session(rest)
    runs: list[list[str]] = []

    async def refusing_runner(args: list[str]) -> str:
        runs.append(args)
        raise DeployError(
            "Flink refused the job: Cannot map checkpoint/savepoint state for operator 90bea66d"
        )

    monkeypatch.setattr(deployer, "_run_runner", refusing_runner)
    request = _request(_artifacts(tmp_path, ["dim-reader"]), digest=script_digest(JOB))
    with pytest.raises(RestoreFailed) as caught:
        await deployer.start(replace(request, allow_non_restored_state=True))
    assert caught.value.savepoint == "file:///sp/old" and "Cannot map" in str(caught.value)
    assert "--allow-non-restored-state" in runs[0]
    # Restoring from a savepoint the router gave (a stopped job): a plain failure, nothing stopped here.
    rest.calls.clear()
    with pytest.raises(DeployError) as plain:
        await deployer.start(replace(request, previous=None, restore_from="file:///sp/given"))
    assert not isinstance(plain.value, RestoreFailed) and rest.calls == []


@pytest.mark.parametrize(
    ("digest", "secrets", "sql", "fragment"),
    [
        (None, ["dim-reader"], JOB, "no validated statement digest"),
        ("sha256:other", ["dim-reader"], JOB, "sha256:other"),
        ("<digest>", [], JOB, "does not declare"),
        ("<digest>", ["dim-reader"], JOB + "DROP TABLE `src`;", "DROP"),
    ],
    ids=["no-digest", "mismatch", "undeclared-secret", "refused-kind"],
)
async def test_the_session_deployer_refuses_before_stopping_anything(
    tmp_path: Path, digest: str | None, secrets: list[str], sql: str, fragment: str
) -> None:
    """It refuses a run without a validated digest, with another digest, an undeclared secret or a
    refused statement, before it stops the domain's running job or starts a process."""
    rest = FakeRest()
    request = _request(
        _artifacts(tmp_path, secrets), digest=script_digest(sql) if digest == "<digest>" else digest, sql=sql
    )
    with pytest.raises(DeployError) as caught:
        await _session(rest).start(request)
    assert fragment in str(caught.value)
    if digest == "sha256:other":
        assert script_digest(sql) in str(caught.value)
    assert rest.calls == []


async def test_a_missing_job_config_is_named(tmp_path: Path) -> None:
    """It names the job config it could not read instead of starting without declared secrets."""
    with pytest.raises(DeployError, match=r"orders-job\.yml"):
        await _session(FakeRest()).start(_request(str(tmp_path), digest=script_digest(JOB)))


def test_declared_secrets_are_read_as_the_generator_writes_them(tmp_path: Path) -> None:
    """It reads secrets[].name of the job config, and refuses another shape."""
    assert read_declared_secrets(_artifacts(tmp_path, ["b", "a"]), "orders") == ("b", "a")
    assert secrets_from_job_config({"job": {}}) == ()
    for bad in ([], {"secrets": "a"}, {"secrets": [{"env": "X"}]}, {"secrets": [{"name": "../x"}]}):
        with pytest.raises(JobConfigError):
            secrets_from_job_config(bad)
    with pytest.raises(JobConfigError):
        read_declared_secrets(str(tmp_path), "../etc")


def _gateway(**kwargs: Any) -> SqlGatewayDeployer:
    return SqlGatewayDeployer("http://127.0.0.1:9", environ=ENV, **kwargs)


def test_the_gateway_sends_the_kernel_statements_checked_and_resolved(tmp_path: Path) -> None:
    """It sends the kernel's statements (comments kept) with declared secrets resolved as the runner does."""
    request = _request(_artifacts(tmp_path, ["dim-reader"]), digest=script_digest(JOB))
    steps = _gateway()._checked_statements(request)
    assert len(steps) == 4 and steps[0].text.startswith("-- Values")
    assert "'password' = 's3cr3t'" in steps[2].text and "${secret:" not in steps[2].text


@pytest.mark.parametrize(
    ("digest", "sql", "fragment"),
    [
        (None, JOB, "no validated statement digest"),
        ("sha256:other", JOB, "digest mismatch"),
        ("<digest>", JOB.replace("SELECT `id`", "SELECT /*+ STATE_TTL('1d') */ `id`"), "hint"),
    ],
)
async def test_the_gateway_refuses_before_opening_a_session(
    tmp_path: Path, digest: str | None, sql: str, fragment: str
) -> None:
    """It refuses with the runner's checks before it talks to the gateway (which is not even there)."""
    request = _request(
        _artifacts(tmp_path, ["dim-reader"]),
        digest=script_digest(sql) if digest == "<digest>" else digest,
        sql=sql,
    )
    with pytest.raises(DeployError) as caught:
        await _gateway().start(request)
    assert fragment in str(caught.value) and "session" not in str(caught.value)


def test_the_gateway_refuses_a_run_without_a_validated_digest() -> None:
    """It sends nothing the validator did not verify: no digest, no start."""
    request = _request(None, sql=JOB.replace("'${secret:dim-reader}'", "'plain'"))
    with pytest.raises(DeployError, match="no validated statement digest"):
        _gateway()._checked_statements(request)
    with_digest = _request(None, digest=script_digest(request.sql or ""), sql=request.sql or "")
    assert len(_gateway()._checked_statements(with_digest)) == 4


def test_no_module_submits_with_the_old_submitter() -> None:
    """It keeps one submission path: the old flink_submit child is gone."""
    root = Path(__file__).resolve().parents[3]
    assert not (root / "services" / "router" / "adapters" / "flink_submit.py").exists()
    assert os.path.isfile(root / "services" / "runner" / "__main__.py")
