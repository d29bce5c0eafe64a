"""`streamwright validate` / `test` and the validator service are wired by one builder, from one
set of settings, so the CLI and the service cannot score a job differently.

The engine and the knowledge client are replaced by in-process fakes (no JVM, no socket): the
test is about the wiring, and about the score it produces, not about Flink.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import typer
from typer.testing import CliRunner

from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.mesh.metrics import MeshMetrics
from services.mesh.settings import MeshSettings
from services.validator import bootstrap
from services.validator.domain.model import CaseFacts, KnowledgeFacts, PlanFacts
from services.validator.domain.rules import RuleConfig
from services.workbench import validate_cli

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
ORDERS = FIXTURES / "orders-request-v3.md"
# The orders job without one of its join conditions: Critical by default (the gate fails);
# the rules file below makes it a 7-point Warning, so the gate passes only if the rules apply.
MISSING_CONDITION = " AND (`dim1`.`shop_status` = 1)"
RULES = "rules:\n  compliance.join_condition_mismatch: {severity: warning, points: 7}\n"
CJK = re.compile(r"[\u4e00-\u9fff]")

app = typer.Typer()
validate_cli.register(app)


class FakeEngine:
    """Stands in for EngineRunner: records how it was built; plans nothing (provisional score)."""

    built: ClassVar[list[FakeEngine]] = []

    def __init__(self, jar_dir: Path | None = None, *, use_postgres: bool = True) -> None:
        self.jar_dir = jar_dir
        self.use_postgres = use_postgres
        self.unavailable_reason: str | None = None
        self.closed = False
        FakeEngine.built.append(self)

    def warm(self) -> dict[str, float]:
        return {"engine_ready": 0.0}

    def engine(self) -> None:
        return None

    def plan(self, sql: str) -> PlanFacts:
        return PlanFacts(ran=False, notes=("fake engine",))

    def run_all_cases(self, sql: str, cases: list[dict[str, Any]], **_: Any) -> list[CaseFacts]:
        return [CaseFacts(name=str(c["name"]), passed=True) for c in cases]

    def close(self) -> None:
        self.closed = True


class FakeKnowledge:
    """Stands in for KnowledgeClient: records its construction; knowledge answers "compatible"."""

    built: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, settings: MeshSettings, **kwargs: Any) -> None:
        FakeKnowledge.built.append(kwargs)
        self.target = kwargs.get("target") or "knowledge:default"

    async def check_conflicts(self, domain: str, spec_json: str) -> KnowledgeFacts:
        return KnowledgeFacts(available=True, compatible=True)


class FakeContext:
    """What `bootstrap.build` uses of a ServiceContext, without a broker or a store."""

    def __init__(self, settings: MeshSettings) -> None:
        self.service = "validator"
        self.settings = settings
        self.metrics = MeshMetrics()
        self.store = object()
        self.publisher = object()
        self.subscribed: list[str] = []

    def subscribe(self, source: Any, handler: Any) -> None:
        self.subscribed.append(source.__name__)


@pytest.fixture
def builds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[list[tuple[str, bootstrap.Validation]]]:
    """A clean STREAMWRIGHT_ environment, the fakes, and every build_validation call (knowledge, result)."""
    for name in list(os.environ):
        if name.startswith("STREAMWRIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STREAMWRIGHT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_WARM_ON_START", "false")
    monkeypatch.setattr(bootstrap, "EngineRunner", FakeEngine)
    monkeypatch.setattr(bootstrap, "KnowledgeClient", FakeKnowledge)
    FakeEngine.built, FakeKnowledge.built = [], []
    calls: list[tuple[str, bootstrap.Validation]] = []
    real = bootstrap.build_validation

    def spy(settings: Any, **kwargs: Any) -> bootstrap.Validation:
        built = real(settings, **kwargs)
        calls.append((kwargs.get("knowledge", "wait"), built))
        return built

    monkeypatch.setattr(bootstrap, "build_validation", spy)
    yield calls


def _broken_job(tmp_path: Path) -> tuple[Any, str, Path]:
    spec = check_document(ORDERS.read_text(encoding="utf-8")).spec
    assert spec is not None
    sql = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="t").sql
    assert MISSING_CONDITION in sql
    path = tmp_path / "job.sql"
    path.write_text(sql.replace(MISSING_CONDITION, ""), encoding="utf-8")
    return spec, path.read_text(encoding="utf-8"), path


def test_the_cli_and_the_service_score_a_job_alike_from_the_same_environment(
    builds: list[tuple[str, bootstrap.Validation]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Rules file, knowledge timeout and language set in the environment reach both; same score."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_RULES_PATH", str(rules))
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_KNOWLEDGE_TIMEOUT_S", "7.5")
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_LANGUAGE", "en")
    spec, sql, sql_path = _broken_job(tmp_path)

    # the service, as its process builds it (settings from the environment)
    ctx = FakeContext(MeshSettings())
    parts = bootstrap.build(ctx)  # type: ignore[arg-type]
    assert parts.service_names and ctx.subscribed == ["RequestAccepted", "SqlGenerated", "RunCompleted"]
    [(_, service)] = builds
    compiled = validate_cli._compile(spec)
    assert compiled is not None
    test_data, _ = validate_cli._artifacts(compiled[1], spec.job.domain)
    # the CLI scores a --sql job with the generated test data and no job config: so does this
    report = asyncio.run(service.use_case.validate(spec, sql, test_data=test_data, job_config=None))

    # the workbench
    result = CliRunner().invoke(app, ["validate", str(ORDERS), "--sql", str(sql_path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [knowledge for knowledge, _ in builds] == ["wait", "once"]

    # the rules file applies in both: the gate passes only with it
    configured = bootstrap.load_rule_config(rules).version()
    assert configured != RuleConfig.default().version()
    assert service.rule_config.version() == payload["rule_set_version"] == configured
    assert report.gate_passed and payload["gate_passed"]
    # ... and they score alike, finding for finding, in the configured language
    assert payload["score"] == report.score
    assert [(f["code"], f["severity"], f["points_lost"], f["message"]) for f in payload["findings"]] == [
        (f.code, f.severity, f.points_lost, f.message) for f in report.findings
    ]
    assert ("compliance.join_condition_mismatch", "warning", 7.0) in [
        (f.code, f.severity, f.points_lost) for f in report.findings
    ]
    assert payload["provisional_reasons"] == list(report.provisional_reasons)
    assert not any(CJK.search(reason) for reason in payload["provisional_reasons"])
    # the knowledge timeout from the environment, in both; only the wait differs, on purpose
    service_kw, cli_kw = FakeKnowledge.built
    assert service_kw["timeout"] == cli_kw["timeout"] == 7.5
    assert (service_kw["unavailable_wait_s"], cli_kw["unavailable_wait_s"]) == (30.0, 0.0)
    assert FakeEngine.built[-1].closed


def test_without_the_rules_setting_the_same_job_fails_the_gate_in_the_cli(
    builds: list[tuple[str, bootstrap.Validation]], tmp_path: Path
) -> None:
    """The control for the test above: with the default rules the missing condition is Critical."""
    _, _, sql_path = _broken_job(tmp_path)
    result = CliRunner().invoke(app, ["validate", str(ORDERS), "--sql", str(sql_path), "--json"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["rule_set_version"] == RuleConfig.default().version() and not payload["gate_passed"]
    assert FakeKnowledge.built[0]["timeout"] == 5.0  # the settings' default, not a CLI constant


def test_a_flag_overrides_only_the_setting_it_names(
    builds: list[tuple[str, bootstrap.Validation]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--no-cases turns the cases off; everything else stays as the environment says."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_RULES_PATH", str(rules))
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_RUN_EDGE_CASES", "false")
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_USE_POSTGRES", "false")
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_JAR_DIR", str(tmp_path / "jars"))

    flagged = validate_cli.validation(validator_run_cases=False)
    plain = validate_cli.validation(validator_run_cases=None)
    jarred = validate_cli.validation(validator_jar_dir=tmp_path / "other")
    assert not flagged.use_case.run_cases and plain.use_case.run_cases
    for built in (flagged, plain, jarred):
        assert built.rule_config.version() == bootstrap.load_rule_config(rules).version()
        assert not built.use_case.run_edge_cases
    assert [(e.jar_dir, e.use_postgres) for e in FakeEngine.built] == [
        (tmp_path / "jars", False),
        (tmp_path / "jars", False),
        (tmp_path / "other", False),
    ]
    assert [knowledge for knowledge, _ in builds] == ["once"] * 3


def test_the_case_switch_in_the_environment_holds_for_the_cli_too(
    builds: list[tuple[str, bootstrap.Validation]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """STREAMWRIGHT_VALIDATOR_RUN_CASES=false turns the CLI's case runs off, as it does the service's."""
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_RUN_CASES", "false")
    assert not validate_cli.validation().use_case.run_cases
    bootstrap.build(FakeContext(MeshSettings()))  # type: ignore[arg-type]
    assert not builds[-1][1].use_case.run_cases


def test_the_test_command_runs_on_the_engine_the_settings_describe(
    builds: list[tuple[str, bootstrap.Validation]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`streamwright test` takes its engine from the same builder: jar dir and PostgreSQL from the env."""
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_USE_POSTGRES", "false")
    result = CliRunner().invoke(
        app,
        ["test", str(ORDERS), "--cases", str(FIXTURES / "orders.cases.yaml"), "--jar-dir", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith("0 failed")
    [engine] = FakeEngine.built
    assert (engine.jar_dir, engine.use_postgres, engine.closed) == (tmp_path, False, True)
    assert [knowledge for knowledge, _ in builds] == ["once"]


def test_bad_settings_exit_2_and_a_misspelt_flag_is_refused(
    builds: list[tuple[str, bootstrap.Validation]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An invalid variable or rules file exits 2 naming it; an unknown settings field is a bug."""
    with pytest.raises(TypeError, match="validator_run_case"):
        validate_cli.validation(validator_run_case=False)
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_KNOWLEDGE_TIMEOUT_S", "0")
    result = CliRunner().invoke(app, ["validate", str(ORDERS)])
    assert result.exit_code == 2 and "STREAMWRIGHT_VALIDATOR_KNOWLEDGE_TIMEOUT_S" in result.output
    monkeypatch.delenv("STREAMWRIGHT_VALIDATOR_KNOWLEDGE_TIMEOUT_S")
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  no.such_rule: off\n", encoding="utf-8")
    monkeypatch.setenv("STREAMWRIGHT_VALIDATOR_RULES_PATH", str(bad))
    result = CliRunner().invoke(app, ["validate", str(ORDERS)])
    assert result.exit_code == 2 and "no.such_rule" in result.output
    assert builds == [] and FakeEngine.built == []
