"""The CLI's conventions (issue #18 item 6): `--version`, shell completion, `--json` on every
command, one exit-code scheme (services/exit_codes.py). Through typer's CliRunner, with the
network faked: the unit-tier guard proves nothing connects. The same over a real broker and
closed ports: tests/integration/test_cli_json.py; kb: tests/unit/knowledge/test_kb_cli_json.py."""

from __future__ import annotations

import importlib.metadata
import json
import tomllib
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from services import exit_codes
from services.cli import app
from services.cli_output import dumps
from services.mesh.entrypoints import ops_cli
from services.mesh.rpc.streamwright.v1 import router_pb2, validator_pb2
from services.mesh.settings import MeshSettings
from services.mesh.supervisor import Child, Supervisor
from services.router.entrypoints import cli as router_cli
from services.validator.domain.model import CaseFacts
from services.workbench import run_cli, validate_cli

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = ROOT / "tests" / "fixtures" / "requests"
runner = CliRunner()


def _commands() -> dict[str, Any]:
    """Every leaf command by its full name ("doctor", "dlq list", "kb show", ...)."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = command

    walk(get_command(app), [])
    return found


def _rpc_error(code: grpc.StatusCode, details: str = "from the test") -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


# --- --version --------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_version_pyproject_declares(flag: str) -> None:
    """It prints `streamwright <version>` from the installed metadata, i.e. pyproject's version."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    result = runner.invoke(app, [flag])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"streamwright {declared}\n"
    assert declared == importlib.metadata.version("streamwright")


def test_version_wins_over_a_command() -> None:
    """It is eager: `--version` answers before any command (or its missing arguments) runs."""
    result = runner.invoke(app, ["--version", "check"])
    assert (result.exit_code, result.stdout.split()[0]) == (0, "streamwright")


# --- shell completion ---------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_script_calls_streamwright(shell: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--show-completion SHELL` prints a script that runs `streamwright` with its complete variable."""
    # read while the command is built, before CliRunner applies its env: so set here
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = runner.invoke(app, ["--show-completion", shell], prog_name="streamwright")
    assert result.exit_code == 0, result.output
    assert "_STREAMWRIGHT_COMPLETE" in result.stdout and "streamwright" in result.stdout


def test_completion_completes_commands_and_subcommands() -> None:
    """What the bash script asks for: the words that complete the current one."""

    def complete(words: str, cword: int) -> list[str]:
        env = {"_STREAMWRIGHT_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        result = runner.invoke(app, [], prog_name="streamwright", env=env)
        assert result.exit_code == 0, result.output
        return result.stdout.split()

    assert complete("streamwright dl", 1) == ["dlq"]
    assert complete("streamwright kb s", 2) == ["show", "search"]
    assert "--json" in complete("streamwright doctor --", 2)


# --- --json everywhere --------------------------------------------------------------------------


def test_every_command_takes_json() -> None:
    """It fails when a command is added without `--json` (every command prints something)."""
    commands = _commands()
    assert {"doctor", "dlq list", "kb show", "generate", "run", "up", "broker"} <= set(commands)
    missing = sorted(
        name
        for name, command in commands.items()
        if "--json" not in {opt for param in command.params for opt in getattr(param, "opts", ())}
    )
    assert missing == []


def test_json_output_has_no_colour_and_keeps_text_as_is() -> None:
    """Dates ISO 8601, Decimal and Path as their text, bytes decoded, non-ASCII unescaped."""
    from datetime import UTC, datetime

    text = dumps(
        {"when": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), "amount": Decimal("12.50"), "name": "店铺"}
    )
    assert json.loads(text) == {"when": "2025-01-02T03:04:05+00:00", "amount": "12.50", "name": "店铺"}
    assert "\x1b[" not in text and "店铺" in text
    assert json.loads(dumps({"p": Path("/a/b"), "b": b"x"}, line=True)) == {"p": "/a/b", "b": "x"}


def test_doctor_json_lists_every_check_and_fails_on_a_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """One document: ok is false when one check FAILs (exit 1); a fix only where one was given."""
    checks = [
        ops_cli.Check("python", "OK", "3.11.7"),
        ops_cli.Check("broker", "FAIL", "127.0.0.1:1 unreachable", "start one"),
        ops_cli.Check("services", "WARN", "not serving", "streamwright up"),
    ]
    monkeypatch.setattr(ops_cli, "run_checks", lambda settings, error: iter(checks))
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == exit_codes.FAILED, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert [(c["name"], c["status"], c["fix"]) for c in doc["checks"]] == [
        ("python", "OK", None),
        ("broker", "FAIL", "start one"),
        ("services", "WARN", "streamwright up"),
    ]
    monkeypatch.setattr(ops_cli, "run_checks", lambda settings, error: iter(checks[::2]))
    result = runner.invoke(app, ["doctor", "--json"])
    assert (result.exit_code, json.loads(result.stdout)["ok"]) == (0, True)


def test_init_json_names_the_written_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "orders", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == {"domain": "orders", "path": str(tmp_path / "orders-request-v3.md")}
    assert Path(doc["path"]).is_file()


def test_generate_json_lists_the_written_files(tmp_path: Path) -> None:
    """The files are the ones written (each exists), with the options the job was compiled with."""
    doc_path = REQUESTS / "payments-request-v3.md"
    result = runner.invoke(
        app, ["generate", str(doc_path), "--out", str(tmp_path), "--profile", "test", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["domain"], doc["profile"], doc["revision"], doc["out"]) == (
        "payments",
        "test",
        1,
        str(tmp_path),
    )
    assert str(tmp_path / "job/payments/sql/payments_wide_table_v3.sql") in doc["files"]
    assert doc["files"] and all(Path(path).is_file() for path in doc["files"])
    assert isinstance(doc["warnings"], list)
    assert "warning:" not in result.stderr  # with --json the warnings are in the document


def test_submit_json_and_its_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_id, request_id, duplicate; an unreachable ingest exits 3, a refusal 1."""
    from services.ingest.entrypoints import submit

    document = tmp_path / "orders-request-v3.md"
    document.write_text("# request\n", encoding="utf-8")
    answer = SimpleNamespace(run_id="run-1", request_id="req-1", duplicate=True)
    monkeypatch.setattr(submit, "run_submit", lambda *a, **k: answer)
    result = runner.invoke(app, ["submit", str(document), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"run_id": "run-1", "request_id": "req-1", "duplicate": True}

    for code, expected in ((grpc.StatusCode.UNAVAILABLE, 3), (grpc.StatusCode.INVALID_ARGUMENT, 1)):

        def refuse(*args: Any, code: grpc.StatusCode = code, **kwargs: Any) -> Any:
            raise submit.SubmitError("from the test") from _rpc_error(code)

        monkeypatch.setattr(submit, "run_submit", refuse)
        result = runner.invoke(app, ["submit", str(document), "--json"])
        assert (result.exit_code, result.stdout) == (expected, ""), (code, result.output)


@pytest.mark.parametrize("command", [["review", "run-1", "--approve"], ["cancel", "run-1"]])
def test_review_and_cancel_json_print_the_run_read_model(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The document `status --json` prints, from the run the router answered."""
    detail = {"run_id": "run-1", "state": "CANCELLED", "phases": [], "reason": "by the test"}

    async def answer(method: str, request: Any, **kwargs: Any) -> router_pb2.Run:
        return router_pb2.Run(run_id="run-1", state_name="CANCELLED", detail_json=json.dumps(detail))

    monkeypatch.setenv("STREAMWRIGHT_GRPC_AUTH", "off")
    monkeypatch.setattr(router_cli, "_call", answer)
    result = runner.invoke(app, [*command, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == detail


def test_run_json_is_the_outcome_with_the_read_model_and_the_report(tmp_path: Path) -> None:
    """run_id, state, passed, the read-model and the validator's machine report; a timeout says so."""
    detail = {"run_id": "run-1", "state": "IN_REVIEW"}
    run = router_pb2.Run(run_id="run-1", state_name="IN_REVIEW", detail_json=json.dumps(detail))
    report = validator_pb2.Report(
        run_id="run-1", score=91.5, json=json.dumps({"schema_version": 1, "score": 91.5})
    )
    doc = json.loads(dumps(run_cli.outcome_json(Path("o.md"), "run-1", run, report, [tmp_path / "a.sql"])))
    assert doc == {
        "file": "o.md",
        "run_id": "run-1",
        "state": "IN_REVIEW",
        "passed": False,
        "timed_out": False,
        "run": detail,
        "report": {"schema_version": 1, "score": 91.5},
        "written": [str(tmp_path / "a.sql")],
    }
    running = router_pb2.Run(run_id="run-1", state_name="RUNNING")
    assert run_cli.outcome_json(Path("o.md"), "run-1", running, None, [])["passed"] is True
    timed_out = run_cli.outcome_json(Path("o.md"), "run-1", None, None, [])
    assert (timed_out["state"], timed_out["passed"], timed_out["timed_out"]) == (None, False, True)


def test_up_json_names_every_endpoint(tmp_path: Path) -> None:
    """The one line `up --json` prints: the broker and each instance's gRPC and metrics address."""
    supervisor = Supervisor(MeshSettings(home=tmp_path), services={"ingest": "m", "router": "m"})
    supervisor.children = [
        Child(name, "m", grpc, metrics, tmp_path / f"{name}.log", SimpleNamespace(pid=pid), None, service)  # type: ignore[arg-type]
        for name, service, grpc, metrics, pid in (
            ("ingest", "ingest", 50051, 9101, 11),
            ("router", "router", 50055, 9105, 12),
            ("router-2", "router", 41000, 41001, 13),
        )
    ]
    endpoints = json.loads(dumps(supervisor.endpoints(), line=True))
    assert endpoints["broker"]["bootstrap_servers"] == MeshSettings(home=tmp_path).bootstrap_servers
    assert [(s["name"], s["service"], s["grpc"], s["pid"]) for s in endpoints["services"]] == [
        ("ingest", "ingest", "127.0.0.1:50051", 11),
        ("router", "router", "127.0.0.1:50055", 12),
        ("router-2", "router", "127.0.0.1:41000", 13),
    ]
    assert endpoints["services"][2]["metrics"].endswith(":41001/metrics")


class FakeRunner:
    """The engine `streamwright test` runs the cases on, answering `results`."""

    def __init__(self, results: list[CaseFacts], unavailable: str | None = None) -> None:
        self.results, self.unavailable_reason, self.closed = results, unavailable, False

    def warm(self) -> dict[str, float]:
        return {"engine_ready": 0.1}

    def run_all_cases(self, script: str, cases: list[dict[str, Any]]) -> list[CaseFacts]:
        assert "INSERT INTO" in script and cases
        return self.results

    def close(self) -> None:
        self.closed = True


def _test_command(fake: FakeRunner, monkeypatch: pytest.MonkeyPatch, *extra: str) -> Any:
    monkeypatch.setattr(validate_cli, "validation", lambda **flags: SimpleNamespace(engine=fake))
    args = ["test", str(REQUESTS / "orders-request-v3.md"), "--cases", str(REQUESTS / "orders.cases.yaml")]
    return runner.invoke(app, [*args, *extra])


def test_test_json_counts_and_lists_every_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """passed/failed and every case with its rows; a failed case exits 1 with the document printed."""
    fake = FakeRunner(
        [
            CaseFacts(name="happy", passed=True, seconds=1.5),
            CaseFacts(
                name="late",
                passed=False,
                fidelity="rewritten",
                missing=({"order_id": "o-1", "amount": Decimal("12.50")},),
                fallback_reason="no PostgreSQL",
            ),
        ]
    )
    result = _test_command(fake, monkeypatch, "--json")
    assert result.exit_code == exit_codes.FAILED, result.output
    doc = json.loads(result.stdout)
    assert (doc["passed"], doc["failed"]) == (1, 1)
    assert [(c["name"], c["passed"], c["fidelity"]) for c in doc["cases"]] == [
        ("happy", True, "exact"),
        ("late", False, "rewritten"),
    ]
    assert doc["cases"][1]["missing"] == [{"order_id": "o-1", "amount": "12.50"}]
    assert fake.closed


# --- exit codes ---------------------------------------------------------------------------------


def test_the_scheme_is_one_set_of_numbers_and_the_help_shows_it() -> None:
    assert (exit_codes.OK, exit_codes.FAILED, exit_codes.USAGE, exit_codes.UNAVAILABLE) == (0, 1, 2, 3)
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    shown = " ".join(result.stdout.split())
    for text in ("0 ok", "1 failed", "2 usage", "3 unavailable", "--json"):
        assert text in shown, text


@pytest.mark.parametrize(
    "args",
    [
        ["nosuch"],  # unknown command
        ["check", "--no-such-option", "x.md"],  # unknown option
        ["check"],  # missing argument
        ["check", "/nonexistent/orders-request-v3.md"],  # input file missing
        ["generate", str(REQUESTS / "orders-request-v3.md"), "--out", "/tmp/x", "--profile", "staging"],
        ["dlq", "replay", "x.dlq"],  # neither --offset nor --all
        ["review", "run-1"],  # neither --approve nor --reject
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == exit_codes.USAGE, result.output
    assert result.stdout == ""  # the message is on stderr


@pytest.mark.parametrize(
    "args", [["runs"], ["status", "run-1"], ["kb", "history", "orders"], ["dlq", "list"]]
)
def test_invalid_settings_exit_2_naming_the_variable(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before anything connects: the variable is named on stderr, no traceback."""
    monkeypatch.setenv("STREAMWRIGHT_TOPIC_PARTITIONS", "0")
    result = runner.invoke(app, args)
    assert result.exit_code == exit_codes.USAGE, result.output
    assert "STREAMWRIGHT_TOPIC_PARTITIONS" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_rejected_document_exits_1_with_its_verdict_as_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad-request-v3.md"
    bad.write_text("# nothing here\n", encoding="utf-8")
    result = runner.invoke(app, ["check", str(bad), "--json"])
    assert result.exit_code == exit_codes.FAILED
    assert json.loads(result.stdout)["valid"] is False


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.UNAVAILABLE, exit_codes.UNAVAILABLE),
        (grpc.StatusCode.DEADLINE_EXCEEDED, exit_codes.UNAVAILABLE),
        (grpc.StatusCode.NOT_FOUND, exit_codes.FAILED),
        (grpc.StatusCode.FAILED_PRECONDITION, exit_codes.FAILED),
    ],
)
def test_a_router_that_does_not_answer_exits_3_one_that_refuses_1(
    code: grpc.StatusCode, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fail(method: str, request: Any, **kwargs: Any) -> Any:
        router_cli._fail_rpc(_rpc_error(code), "127.0.0.1:1")

    monkeypatch.setattr(router_cli, "_call", fail)
    result = runner.invoke(app, ["cancel", "run-1", "--json"])
    assert (result.exit_code, result.stdout) == (expected, ""), result.output
    assert result.stderr.startswith("error: ")


def test_test_without_a_flink_engine_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRunner([], unavailable="no java on PATH")
    result = _test_command(fake, monkeypatch, "--json")
    assert result.exit_code == exit_codes.UNAVAILABLE, result.output
    assert result.stdout == "" and "no java on PATH" in result.stderr
    assert fake.closed


def test_commands_exit_through_the_scheme_only() -> None:
    """No command module raises a bare number: each exit names its code in services/exit_codes.py."""
    import re

    modules = [
        ROOT / "services" / "mesh" / "entrypoints" / "cli.py",
        ROOT / "services" / "mesh" / "entrypoints" / "ops_cli.py",
        *(ROOT / "services").glob("*/entrypoints/cli.py"),
        *(ROOT / "services" / "workbench").glob("*cli.py"),
    ]
    for module in set(modules):
        text = module.read_text(encoding="utf-8")
        assert not re.findall(r"Exit\(\s*[1-9]", text), module
        assert "from services import exit_codes" in text, module
