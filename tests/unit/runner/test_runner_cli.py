"""`python -m services.runner` as a function: arguments, files, exit codes, the JSON line (no JVM)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from test_runner_checks import ENV, JOB

from services.flinksql.job_policy import RunPlan, UsageError
from services.flinksql.statements import script_digest
from services.runner.__main__ import jar_urls, main
from services.runner.job import Submission


class FakeFlink:
    def __init__(self, answer: str | BaseException = "f" * 32) -> None:
        self.answer = answer
        self.calls: list[tuple[RunPlan, Submission]] = []

    def __call__(self, plan: RunPlan, submission: Submission) -> str:
        self.calls.append((plan, submission))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def _run(
    argv: list[str], *, env: dict[str, str] | None = None, flink: FakeFlink | None = None
) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, environ=ENV if env is None else env, submit=flink or FakeFlink(), out=out, err=err)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines  # exactly one JSON line for the deployer
    return code, json.loads(lines[0]), err.getvalue()


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    path = tmp_path / "job.sql"
    path.write_text(JOB, encoding="utf-8")
    return path


def test_submits_the_plan_and_prints_the_job_id_and_digest(job_file: Path, tmp_path: Path) -> None:
    """It checks, resolves and hands the plan to Flink; exit 0, the job id and the digest on stdout."""
    jar = tmp_path / "connector.jar"
    jar.write_bytes(b"PK")
    flink = FakeFlink()
    code, answer, log = _run(
        [
            "--sql", str(job_file), "--digest", script_digest(JOB), "--secret", "dim-reader",
            "--remote", "127.0.0.1:8081", "--jars", str(jar), "--jars", "https://repo/x.jar",
            "--savepoint", "file:///sp/1", "--pipeline-name", "streamwright-orders-r1",
        ],
        flink=flink,
    )  # fmt: skip
    assert code == 0 and answer == {"job_id": "f" * 32, "digest": script_digest(JOB)}
    [(plan, submission)] = flink.calls
    assert "'password' = 's3cr3t'" in plan.steps[2].text
    assert submission == Submission(
        remote=("127.0.0.1", 8081),
        jars=f"{jar.resolve().as_uri()};https://repo/x.jar",
        savepoint="file:///sp/1",
        pipeline_name="streamwright-orders-r1",
    )
    assert script_digest(JOB) in log and "s3cr3t" not in log


@pytest.mark.parametrize(
    ("extra", "allowed"),
    [
        (["--savepoint", "file:///sp/1", "--allow-non-restored-state"], True),
        (["--savepoint", "file:///sp/1"], False),
        (["--allow-non-restored-state"], False),  # nothing to restore: nothing to skip
    ],
)
def test_dropped_state_is_allowed_only_when_asked_and_restoring(
    extra: list[str], allowed: bool, job_file: Path
) -> None:
    """It lets a restore skip unmapped savepoint state only with --allow-non-restored-state and a savepoint."""
    flink = FakeFlink()
    code, _, _ = _run(
        ["--sql", str(job_file), "--digest", script_digest(JOB), "--secret", "dim-reader", *extra],
        flink=flink,
    )
    assert code == 0 and flink.calls[0][1].allow_non_restored_state is allowed


def test_inside_flink_there_is_no_remote_target(job_file: Path) -> None:
    """It leaves the execution target to the Flink that started it when --remote is not given."""
    flink = FakeFlink()
    code, _, _ = _run(
        ["--sql", str(job_file), "--digest", script_digest(JOB), "--secret", "dim-reader"], flink=flink
    )
    assert code == 0 and flink.calls[0][1] == Submission()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--digest", "sha256:x"], "--sql"),
        (["--sql", "/nonexistent/job.sql", "--digest", "sha256:x"], "cannot read"),
        (
            ["--sql", "{job}", "--digest", "{digest}", "--secret", "dim-reader", "--remote", "nohost"],
            "HOST:PORT",
        ),
        (
            ["--sql", "{job}", "--digest", "{digest}", "--secret", "dim-reader", "--jars", "/no/such.jar"],
            "not found",
        ),
        (["--sql", "{job}", "--digest", "{digest}", "--secret", "bad name"], "not a secret name"),
        (["--sql", "{job}", "--digest", "{digest}", "--bogus"], "unrecognized"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], fragment: str, job_file: Path) -> None:
    """It exits 2 with a usage error as the JSON line, submitting nothing."""
    filled = [a.format(job=job_file, digest=script_digest(JOB)) for a in argv]
    flink = FakeFlink()
    code, answer, _ = _run(filled, flink=flink)
    assert code == 2 and answer["kind"] == "usage" and fragment in answer["error"]
    assert flink.calls == []


@pytest.mark.parametrize(
    ("digest", "secrets", "env", "fragment"),
    [
        ("sha256:not-it", ["dim-reader"], ENV, "digest mismatch"),
        (None, [], ENV, "does not declare"),
        (None, ["dim-reader"], {}, "SW_SECRET_DIM_READER"),
    ],
)
def test_refusals_exit_3(
    job_file: Path, digest: str | None, secrets: list[str], env: dict[str, str], fragment: str
) -> None:
    """It exits 3 when the SQL is not what may run, submitting nothing."""
    argv = ["--sql", str(job_file), "--digest", digest or script_digest(JOB)]
    for name in secrets:
        argv += ["--secret", name]
    flink = FakeFlink()
    code, answer, _ = _run(argv, env=env, flink=flink)
    assert code == 3 and answer["kind"] == "refused" and fragment in answer["error"]
    assert flink.calls == []


def test_an_engine_error_exits_1_with_its_deepest_cause(job_file: Path) -> None:
    """It reports Flink's error in one line (first line and deepest cause) and exits 1."""
    error = RuntimeError("org.apache.flink.table.api.ValidationException: bad\nCaused by: x.Y: the reason")
    code, answer, _ = _run(
        ["--sql", str(job_file), "--digest", script_digest(JOB), "--secret", "dim-reader"],
        flink=FakeFlink(error),
    )
    assert code == 1 and answer["kind"] == "engine" and "the reason" in answer["error"]
    assert answer["digest"] == script_digest(JOB)


def test_check_only_needs_no_secret_values(job_file: Path) -> None:
    """It checks digest, kinds and secret placement without resolving or submitting anything."""
    flink = FakeFlink()
    code, answer, _ = _run(
        ["--sql", str(job_file), "--digest", script_digest(JOB), "--secret", "dim-reader", "--check-only"],
        env={},
        flink=flink,
    )
    assert code == 0 and answer == {"checked": True, "digest": script_digest(JOB), "statements": 4}
    assert flink.calls == []


def test_the_file_is_read_byte_for_byte(tmp_path: Path) -> None:
    """It keeps a carriage return inside a literal (no newline translation), so the digest matches."""
    sql = JOB.replace("'the dimension'", "'two\r\nlines'")
    path = tmp_path / "crlf.sql"
    path.write_bytes(sql.encode("utf-8"))
    code, answer, _ = _run(["--sql", str(path), "--digest", script_digest(sql), "--secret", "dim-reader"])
    assert code == 0, answer


def test_jar_urls() -> None:
    """It turns paths into file URLs, keeps URLs, splits ';' lists and refuses a missing jar."""
    assert jar_urls(["https://a/x.jar;https://b/y.jar", ""]) == "https://a/x.jar;https://b/y.jar"
    with pytest.raises(UsageError):
        jar_urls(["/no/such.jar"])
