"""Generated jobs on the real engine (PyFlink 2.3, one warm JVM for the module).

Every statement of every example (and of a hostile request) is planned by Flink's own parser
and planner, through the validator's engine adapter; the example cases then run the generated
INSERT in batch mode with lookups as regular joins (the adapter's `rewritten` fidelity) and
must give exactly the expected rows. Connectors without jars here are swapped by the adapter
for planning only; a result sink it would swap for an append-only one is given a JDBC
placeholder in the TEST spec so ON CONFLICT keeps an upsert sink to plan against.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.flinksql.spec import RequestSpec
from services.generator.domain import Profile, compile_job
from services.ingest.domain.checks import check_document
from services.validator.adapters.flink_engine import FlinkEngine

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
REQUESTS = ROOT / "tests" / "fixtures" / "requests"
HOSTILE = ROOT / "tests" / "unit" / "generator" / "fixtures" / "hostile-request-v3.md"
EXAMPLES = ("orders", "payments", "user-activity")
PROFILE = Profile.model_validate(
    {
        "name": "it",
        "namespace": "streamwright-it",
        "image": "flink-sql-runner:2.3.0",
        "kafka": {"bootstrap_servers": "kafka:9092"},
        "storage": {"checkpoint_dir": "file:///tmp/cp", "savepoint_dir": "file:///tmp/sp"},
    }
)
PLACEHOLDER_SINK = {"connector": "jdbc", "url": "jdbc:postgresql://placeholder.invalid:5432/sw"}


def _doc(name: str) -> tuple[str, Path | None]:
    if name == "hostile":
        return HOSTILE.read_text(encoding="utf-8"), None
    return (REQUESTS / f"{name}-request-v3.md").read_text(encoding="utf-8"), REQUESTS / f"{name}.cases.yaml"


def _spec(name: str) -> tuple[RequestSpec, list[dict[str, object]]]:
    text, cases_path = _doc(name)
    result = check_document(text)
    assert result.spec is not None, [e.render() for e in result.errors]
    spec = result.spec
    cases = (
        yaml.safe_load(cases_path.read_text(encoding="utf-8"))["cases"]
        if cases_path
        else [c.model_dump() for c in spec.cases]
    )
    return spec, cases


def _plannable(spec: RequestSpec) -> RequestSpec:
    """TEST ONLY: a primary-key sink whose connector has no jar here becomes a JDBC placeholder."""
    if spec.result.primary_key and spec.result.options.get("connector") != "jdbc":
        options = {**PLACEHOLDER_SINK, "table-name": spec.result.name}
        return spec.model_copy(update={"result": spec.result.model_copy(update={"options": options})})
    return spec


@pytest.mark.parametrize("name", (*EXAMPLES, "hostile"))
def test_every_statement_plans_on_flink_2_3(engine: FlinkEngine, name: str) -> None:
    """It produces SQL whose every statement Flink 2.3 parses, validates and optimises."""
    spec, _ = _spec(name)
    job = compile_job(_plannable(spec), target="2.3", profile=PROFILE, revision=1, generator_version="0.1.0")
    report = engine.plan(job.sql)
    assert report.ok, [e.message for e in report.errors]
    assert all(s.kind != "OTHER" for s in report.statements)


@pytest.mark.parametrize("name", EXAMPLES)
def test_target_1_20_output_plans_without_on_conflict(engine: FlinkEngine, name: str) -> None:
    """It plans the 1.20 output (no ON CONFLICT) with 2.3's pre-2.3 upsert behaviour switched on."""
    spec, _ = _spec(name)
    job = compile_job(_plannable(spec), target="1.20", profile=PROFILE, revision=1, generator_version="0.1.0")
    assert "ON CONFLICT" not in job.sql
    # TEST ONLY: 2.3 requires the clause by default; this option restores 1.x's behaviour.
    report = engine.plan("SET 'table.exec.sink.require-on-conflict' = 'false';\n" + job.sql)
    assert report.ok, [e.message for e in report.errors]


# ~15-25 s per example on Flink (the default tier keeps the compiler-vs-interpreter cross-check):
# system tier, to keep `make test` within its 10 minutes.
@pytest.mark.system
@pytest.mark.parametrize("name", (*EXAMPLES, "hostile"))
def test_example_cases_give_expected_rows(engine: FlinkEngine, name: str) -> None:
    """It gives exactly each case's expected rows when the generated INSERT runs (rewritten)."""
    spec, cases = _spec(name)
    job = compile_job(spec, target="2.3", profile=PROFILE, revision=1, generator_version="0.1.0")
    assert cases
    failures = []
    for case in cases:
        result = engine.run_case(job.sql, case, postgres=None, fidelity="rewritten")
        if not result.passed:
            failures.append((case["name"], result))
    assert failures == []
