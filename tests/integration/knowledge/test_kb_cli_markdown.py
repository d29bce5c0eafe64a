"""`streamwright kb commit|check` of a request-v3 markdown document: the kb CLI has it checked by
`streamwright check --json` in a child process. The kb commands on spec files: tests/unit/knowledge/test_kb_cli.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services.knowledge.entrypoints.cli import register

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PAYMENTS = (
    Path(__file__).resolve().parents[2] / "fixtures" / "requests" / "payments-request-v3.md"
).read_text(encoding="utf-8")


def test_markdown_request_is_checked_by_the_ingest_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It accepts a request-v3 document and commits what the request checker made of it."""
    monkeypatch.setenv("STREAMWRIGHT_HOME", str(tmp_path / "home"))
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    path = tmp_path / "payments-request-v3.md"
    path.write_text(PAYMENTS, encoding="utf-8")
    committed = runner.invoke(app, ["kb", "commit", str(path)])
    assert committed.exit_code == 0 and "payments: committed version 1" in committed.output, committed.output
    broken = tmp_path / "broken.md"
    broken.write_text(PAYMENTS.replace("job_info:", "job_infox:"), encoding="utf-8")
    checked = runner.invoke(app, ["kb", "check", str(broken)])
    assert checked.exit_code == 1 and "rejected" in checked.output
