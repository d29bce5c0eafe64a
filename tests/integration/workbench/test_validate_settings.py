"""`streamwright validate` on the real engine reads the validator service's settings from the
environment (rules file, language, case switch), as the service does."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.bootstrap import load_rule_config
from services.validator.domain.rules import RuleConfig
from services.workbench import validate_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
ORDERS = FIXTURES / "orders-request-v3.md"
MISSING_CONDITION = " AND (`dim1`.`shop_status` = 1)"
app = typer.Typer()
validate_cli.register(app)


def test_the_environment_s_rules_language_and_case_switch_reach_the_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A rule the service's rules file downgrades does not fail the CLI's gate; no cases, English."""
    for name in list(os.environ):
        if name.startswith("STREAMWRIGHT_VALIDATOR_"):
            monkeypatch.delenv(name)
    spec = check_document(ORDERS.read_text(encoding="utf-8")).spec
    assert spec is not None
    sql = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="t").sql
    broken = tmp_path / "job.sql"
    broken.write_text(sql.replace(MISSING_CONDITION, ""), encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  compliance.join_condition_mismatch: {severity: warning, points: 7}\n")
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_RULES_PATH", str(rules))
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_LANGUAGE", "en")
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_RUN_CASES", "false")
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_KNOWLEDGE_TARGET", "127.0.0.1:9")  # nothing listens

    result = CliRunner().invoke(app, ["validate", str(ORDERS), "--sql", str(broken), "--json"])

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["rule_set_version"] == load_rule_config(rules).version() != RuleConfig.default().version()
    [hit] = [f for f in payload["findings"] if f["code"] == "compliance.join_condition_mismatch"]
    assert (hit["severity"], hit["points_lost"]) == ("warning", 7.0) and payload["gate_passed"]
    assert payload["cases"] == [] and payload["provisional"]  # cases off, knowledge unreachable
    assert not any(re.search(r"[\u4e00-\u9fff]", r) for r in payload["provisional_reasons"])
    reasons = payload["provisional_reasons"]
    assert any(r.startswith("the knowledge service was unreachable") and "127.0.0.1:9" in r for r in reasons)
    assert "data-accuracy runs were skipped" in reasons
