"""`streamwright test` and `streamwright validate` on the real engine, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from services.workbench import validate_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
app = typer.Typer()
validate_cli.register(app)
runner = CliRunner()


# Three cold CLI processes (~30 s each): system tier, to keep `make test` within its 10 minutes.
@pytest.mark.system
@pytest.mark.parametrize("name", ["orders", "payments", "user-activity"])
def test_every_example_validates_without_critical_and_its_cases_pass(name: str, tmp_path: Path) -> None:
    """It generates, plans and runs every case of each example: no Critical, all cases pass, gate passes."""
    result = runner.invoke(
        app,
        [
            "validate",
            str(FIXTURES / f"{name}-request-v3.md"),
            "--cases",
            str(FIXTURES / f"{name}.cases.yaml"),
            "--json",
            "--out",
            str(tmp_path),
            "--knowledge",
            "127.0.0.1:9",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [f for f in payload["findings"] if f["severity"] == "critical"] == []
    cases = payload["cases"]
    assert len(cases) >= 4 if name != "user-activity" else len(cases) >= 3
    assert all(c["passed"] for c in cases), cases
    assert {c["fidelity"] for c in cases} == {"exact"}
    assert payload["gate_passed"] and payload["score"] >= 95
    assert {f["severity"] for f in payload["findings"]} <= {"info", "warning"}
    report = tmp_path / "job" / name / "validation" / f"validation-report-{name}-v3.md"
    assert "## 🔬 数据准确性用例" in report.read_text(encoding="utf-8")
    assert json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))["score"] == payload["score"]


def test_a_wrong_expected_row_fails_and_names_the_row(tmp_path: Path) -> None:
    """It prints the missing and unexpected rows of a case with a wrong expected value and exits 1."""
    cases = yaml.safe_load((FIXTURES / "orders.cases.yaml").read_text(encoding="utf-8"))
    case = next(c for c in cases["cases"] if c["name"] == "enriched_orders")
    case["expected"][0]["pay_amount"] = "999.99"
    wrong = tmp_path / "wrong.cases.yaml"
    wrong.write_text(yaml.safe_dump({"cases": [case]}, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(app, ["test", str(FIXTURES / "orders-request-v3.md"), "--cases", str(wrong)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == next(line for line in lines if line.startswith("FAIL enriched_orders (exact"))
    missing = [line for line in lines if line.strip().startswith("missing:")]
    unexpected = [line for line in lines if line.strip().startswith("unexpected:")]
    assert len(missing) == 1 and '"pay_amount": "999.99"' in missing[0] and "O20250106001" in missing[0]
    assert len(unexpected) == 1 and '"pay_amount": "237.50"' in unexpected[0]
    assert lines[-1] == "0 passed, 1 failed"


def test_a_hand_written_broken_job_fails_the_gate_with_json_findings(tmp_path: Path) -> None:
    """It scores --sql against the request: findings carry severity, dimension and message; exit 1."""
    from services.generator.adapters.profiles_fs import load_profile
    from services.generator.domain import compile_job
    from services.ingest.domain.checks import check_document

    spec = check_document((FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")).spec
    assert spec is not None
    sql = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="t").sql
    broken = tmp_path / "job.sql"
    broken.write_text(sql.replace(" AND (`dim1`.`shop_status` = 1)", ""), encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "validate",
            str(FIXTURES / "orders-request-v3.md"),
            "--sql",
            str(broken),
            "--json",
            "--no-cases",
            "--lang",
            "en",
        ],
    )
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    [hit] = [f for f in payload["findings"] if f["code"] == "compliance.join_condition_mismatch"]
    assert hit["severity"] == "critical" and hit["dimension"] == "business_compliance"
    assert "shop_status" in hit["message"] and not payload["gate_passed"]
    assert payload["provisional"]  # no cases run, knowledge not reachable


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    """It exits 2 for a file that does not exist and for an unknown language."""
    assert runner.invoke(app, ["test", str(tmp_path / "nope.md")]).exit_code == 2
    doc = str(FIXTURES / "orders-request-v3.md")
    assert runner.invoke(app, ["validate", doc, "--lang", "fr"]).exit_code == 2


def test_a_rejected_document_exits_1(tmp_path: Path) -> None:
    """It refuses a document the checker rejects, without starting the engine."""
    bad = tmp_path / "bad.md"
    bad.write_text("# nothing here\n", encoding="utf-8")
    result = runner.invoke(app, ["test", str(bad)])
    assert result.exit_code == 1 and "rejected" in result.output
