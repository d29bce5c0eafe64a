"""`streamwright validate` and `test` take the sidecar cases file `check` finds (request-format.md
§8), through the one lookup (services.ingest.entrypoints.cli.sidecar_cases); `test` with no
case at all exits 1 instead of reporting `0 passed, 0 failed` as a success."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from services.ingest.entrypoints.cli import sidecar_cases
from services.workbench import run_cli
from services.workbench.validate_cli import _checked_spec

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PAYMENTS = EXAMPLES / "payments" / "payments-request-v3.md"


def _copy_alone(tmp_path: Path) -> Path:
    doc = tmp_path / PAYMENTS.name
    shutil.copyfile(PAYMENTS, doc)
    return doc


def test_validate_and_test_read_the_sidecar_check_finds() -> None:
    """The payments example's cases.yaml holds its 3 cases; `check` reports them, and so must the
    spec that `validate` and `test` run (they ran none of them before)."""
    assert sidecar_cases(PAYMENTS) == PAYMENTS.parent / "cases.yaml"
    spec = _checked_spec(PAYMENTS, None)
    assert len(spec.cases) == 3


def test_an_explicit_cases_file_wins_over_the_sidecar(tmp_path: Path) -> None:
    doc = _copy_alone(tmp_path)
    shutil.copyfile(PAYMENTS.parent / "cases.yaml", tmp_path / "cases.yaml")
    mine = tmp_path / "mine.yaml"
    text = (PAYMENTS.parent / "cases.yaml").read_text(encoding="utf-8")
    first_case_only = text[: text.index("\n  - name:", text.index("- name:") + 1)] + "\n"
    mine.write_text(first_case_only, encoding="utf-8")
    assert len(_checked_spec(doc, mine).cases) == 1
    assert len(_checked_spec(doc, None).cases) == 3


def test_the_named_sidecar_comes_before_cases_yaml(tmp_path: Path) -> None:
    """One order for every command: `<name>-request-v3.cases.yaml`, `<name>.cases.yaml`, then
    `cases.yaml`; `run` reads the same file (it missed `<name>-request-v3.cases.yaml`)."""
    doc = _copy_alone(tmp_path)
    assert sidecar_cases(doc) is None and run_cli._sidecar(doc) is None
    (tmp_path / "cases.yaml").write_text("cases: []\n", encoding="utf-8")
    assert sidecar_cases(doc) == tmp_path / "cases.yaml"
    (tmp_path / "payments.cases.yaml").write_text("cases: [] # short\n", encoding="utf-8")
    assert sidecar_cases(doc) == tmp_path / "payments.cases.yaml"
    (tmp_path / "payments-request-v3.cases.yaml").write_text("cases: [] # long\n", encoding="utf-8")
    assert sidecar_cases(doc) == tmp_path / "payments-request-v3.cases.yaml"
    assert run_cli._sidecar(doc) == "cases: [] # long\n"


def test_test_without_any_case_exits_1_and_says_so(tmp_path: Path) -> None:
    """Nothing tested is not a pass: exit 1 with the reason, before any engine starts (the
    unit tier's guard fails the test if a JVM or process were started)."""
    doc = _copy_alone(tmp_path)
    result = CliRunner().invoke(app, ["test", str(doc)])
    assert result.exit_code == 1
    assert "no cases to run" in result.output
    assert "0 passed, 0 failed" not in result.output


def test_the_help_of_test_says_what_no_cases_does() -> None:
    result = CliRunner().invoke(app, ["test", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "exits 1" in text and "sidecar" in text
