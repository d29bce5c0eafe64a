"""The interpreter cross-checks the compiler on spec-derived data, on the real Flink engine.

For every example and fixture request, without its cases, the compiler's job runs (exact, via
PostgreSQL) on the data derived from the spec, and its rows equal the interpreter's: the two
independent readings of the request agree. Then the compiler is broken on purpose, one rule at a
time (test doubles replacing one lowering rule of the generator), and the oracle catches each
on a document that carries no cases at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from services.flinksql.spec import RequestSpec
from services.flinksql.sqltypes import FlinkType
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.generator.domain import lower as lowering
from services.ingest.domain.checks import check_document
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars
from services.validator.adapters.engine_runner import EngineRunner
from services.validator.domain.model import Report
from services.validator.handlers import ValidationUseCase

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[3]
NAMES = ("orders", "payments", "user-activity")
_PATHS = {
    **{f"examples/{n}": ROOT / "examples" / n / f"{n}-request-v3.md" for n in NAMES},
    **{f"fixtures/{n}": ROOT / "tests" / "fixtures" / "requests" / f"{n}-request-v3.md" for n in NAMES},
}
# Every example and fixture request, each distinct text once (the fixtures copy the examples
# today; a fixture that drifts from its example is checked on its own).
DOCUMENTS: dict[str, Path] = {}
for _name, _path in _PATHS.items():
    _same = next((k for k, p in DOCUMENTS.items() if p.read_bytes() == _path.read_bytes()), None)
    if _same is None:
        DOCUMENTS[_name] = _path
    else:
        DOCUMENTS[f"{_same}={_name}"] = DOCUMENTS.pop(_same)


def _spec(path: Path) -> RequestSpec:
    result = check_document(path.read_text(encoding="utf-8"))
    assert result.spec is not None, [e.render() for e in result.errors]
    return result.spec.model_copy(update={"cases": ()})  # the oracle needs no cases


def _compiled(spec: RequestSpec) -> str:
    return compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="test").sql


@pytest.fixture(scope="module")
def use_case() -> Iterator[ValidationUseCase]:
    directory = default_jar_dir()
    ensure_connector_jars(directory)
    runner = EngineRunner(directory, use_postgres=True)
    runner.warm()
    assert runner.unavailable_reason is None
    yield ValidationUseCase(engine=runner, knowledge=None, run_edge_cases=False)
    runner.close()


async def _validated(use_case: ValidationUseCase, spec: RequestSpec, sql: str) -> Report:
    report = await use_case.validate(spec, sql, language="en")
    assert report.oracle is not None, report.engine_notes
    assert report.oracle.fidelity == "exact"
    return report


@pytest.mark.parametrize("document", sorted(DOCUMENTS))
async def test_the_interpreter_and_the_compiler_agree(use_case: ValidationUseCase, document: str) -> None:
    spec = _spec(DOCUMENTS[document])
    report = await _validated(use_case, spec, _compiled(spec))
    oracle = report.oracle
    assert oracle is not None
    assert oracle.oracle == "interpreter" and oracle.data_screened
    assert oracle.job_error is None
    assert oracle.expected_rows and oracle.expected_rows >= 5
    assert oracle.differences == (), [d.model_dump() for d in oracle.differences]
    assert not [f for f in report.findings if f.code.startswith("accuracy.oracle")]


def _every_lookup_inner(original: Callable[..., Any]) -> Callable[..., Any]:
    def broken(*args: Any, **kwargs: Any) -> Any:
        return [replace(lk, join_type="INNER") for lk in original(*args, **kwargs)]

    return broken


def _decimal_scale_one(original: Callable[..., Any]) -> Callable[..., Any]:
    def broken(m: Any) -> FlinkType | None:
        target = original(m)
        if m.column_type.root == "DECIMAL":
            return m.column_type.model_copy(update={"scale": 1}).with_nullable(True)
        return target

    return broken


# (document, the lowering rule replaced, its broken double, the finding it must cause)
BROKEN: dict[str, tuple[str, str, Callable[[Callable[..., Any]], Callable[..., Any]], str]] = {
    "lookup joins always INNER": ("orders", "_lookups", _every_lookup_inner, "accuracy.oracle_rows"),
    "DECIMAL casts at scale 1": (
        "payments",
        "_cast_for",
        _decimal_scale_one,
        "accuracy.oracle_column",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
async def test_a_broken_compiler_rule_is_caught_without_cases(
    use_case: ValidationUseCase, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    document, rule, double, code = BROKEN[name]
    spec = _spec(_PATHS[f"fixtures/{document}"])
    good = _compiled(spec)
    monkeypatch.setattr(lowering, rule, double(getattr(lowering, rule)))
    broken = _compiled(spec)
    assert broken != good
    report = await _validated(use_case, spec, broken)
    critical = [f for f in report.findings if f.code == code and f.severity == "critical"]
    assert critical, [f.message for f in report.findings]
    assert "likely cause" in critical[0].message
    assert not report.gate_passed
