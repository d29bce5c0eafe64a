"""`streamwright check` and `streamwright init` through typer's CliRunner."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import typer
from typer.testing import CliRunner

from services.ingest.entrypoints.cli import register

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _copy(tmp_path: Path, name: str = "orders") -> Path:
    target = tmp_path / f"{name}-request-v3.md"
    shutil.copy(FIXTURES / f"{name}-request-v3.md", target)
    return target


def test_valid_document_exits_zero_with_summary(tmp_path: Path) -> None:
    """It exits 0 for a valid document and prints a short summary."""
    result = runner.invoke(_app(), ["check", str(_copy(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "dwd_order_wide" in result.output


def test_sidecar_cases_are_found_beside_the_document(tmp_path: Path) -> None:
    """It checks `<name>.cases.yaml` beside the document when no --cases is given."""
    document = _copy(tmp_path)
    shutil.copy(FIXTURES / "orders.cases.yaml", tmp_path / "orders.cases.yaml")
    result = runner.invoke(_app(), ["check", str(document)])
    assert result.exit_code == 0, result.output
    assert "4 case(s)" in result.output


def test_rejected_document_exits_one_with_every_error(tmp_path: Path) -> None:
    """It exits 1 and prints each error as `<line>: [<block>] <message> (<name>) — hint: <hint>`."""
    document = _copy(tmp_path)
    text = document.read_text(encoding="utf-8")
    text = text.replace('domain: "orders"', 'domain: "../x"').replace('"dim2.province_name"', '"dim7.x"')
    document.write_text(text, encoding="utf-8")
    result = runner.invoke(_app(), ["check", str(document)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if " — hint: " in line]
    assert len(lines) >= 2
    assert all(re.match(r"^\d+: \[[^\]]+\] .+ — hint: .+$", line) for line in lines)
    assert any("(../x)" in line for line in lines) and any("(dim7)" in line for line in lines)


def test_json_output_shapes(tmp_path: Path) -> None:
    """It prints {valid, spec, warnings} or {valid, errors, warnings} with --json."""
    document = _copy(tmp_path)
    good = json.loads(runner.invoke(_app(), ["check", str(document), "--json"]).output)
    assert good["valid"] is True and good["spec"]["job"]["domain"] == "orders" and good["warnings"] == []
    document.write_text(document.read_text(encoding="utf-8").replace("job_info:", "job:"), encoding="utf-8")
    result = runner.invoke(_app(), ["check", str(document), "--json"])
    bad = json.loads(result.output)
    assert result.exit_code == 1 and bad["valid"] is False
    assert {"message", "block", "line", "name", "hint"} <= set(bad["errors"][0])


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    """It exits 2 with a clear message when the file is missing or a directory."""
    missing = runner.invoke(_app(), ["check", str(tmp_path / "nope.md")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    directory = runner.invoke(_app(), ["check", str(tmp_path)])
    assert directory.exit_code == 2 and "directory" in directory.output


def test_init_then_fill_placeholders_then_check_passes(tmp_path: Path) -> None:
    """It writes a template that check rejects until the placeholders are filled, then accepts."""
    created = runner.invoke(_app(), ["init", "fleet-ops", "--out", str(tmp_path)])
    assert created.exit_code == 0, created.output
    path = Path(created.output.strip())
    assert path == tmp_path / "fleet-ops-request-v3.md"
    rejected = runner.invoke(_app(), ["check", str(path)])
    assert rejected.exit_code == 1 and "<your_job_name>" in rejected.output
    path.write_text(re.sub(r"<your_(\w+)>", r"\1", path.read_text(encoding="utf-8")), encoding="utf-8")
    accepted = runner.invoke(_app(), ["check", str(path)])
    assert accepted.exit_code == 0, accepted.output


def test_init_refuses_to_overwrite_and_bad_domains(tmp_path: Path) -> None:
    """It never overwrites a file and rejects a domain outside its pattern."""
    assert runner.invoke(_app(), ["init", "orders", "--out", str(tmp_path)]).exit_code == 0
    again = runner.invoke(_app(), ["init", "orders", "--out", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output
    bad = runner.invoke(_app(), ["init", "../etc", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "invalid domain" in bad.output
