"""The validator's oracle against hand-written jobs: correct ones pass, single-fault ones are caught.

From the request alone (its hand-written cases removed) the validator generates test data,
computes the expected rows, runs the job under validation on them and reports Critical findings
for wrong rows (`accuracy.oracle_column`, `accuracy.oracle_rows`). This is its acceptance suite:

- `tests/fixtures/handwritten/<example>.sql`: each example's job written by hand (CTEs,
  subqueries, other aliases and casts than the compiler's), correct: no Critical finding;
- `<example>.no-password.sql`: the same with the JDBC passwords left to deployment-time
  injection: only `sql.jdbc_password_missing` findings, one per such table, naming it;
- `variants.yaml`: single-fault variants, each one realistic mistake and the finding that must
  name it (code, severity critical, substrings of its message).

One Flink engine and one private PostgreSQL for the module (exact runs). System tier:
`make test-system`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.flinksql.spec import RequestSpec
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars
from services.validator.adapters.engine_runner import EngineRunner
from services.validator.domain.model import Finding, Report
from services.validator.handlers import ValidationUseCase

pytestmark = [pytest.mark.system, pytest.mark.timeout(1800)]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REQUESTS = FIXTURES / "requests"
HANDWRITTEN = FIXTURES / "handwritten"
EXAMPLES = ("orders", "payments", "user-activity")
MIN_VARIANTS = 30
ORACLE_CODES = ("accuracy.oracle_column", "accuracy.oracle_rows")


@dataclass(frozen=True)
class Variant:
    name: str
    example: str
    base: str
    replace: tuple[tuple[str, str], ...]
    code: str
    mentions: tuple[str, ...]
    fault: str
    plans: bool  # false only where Flink itself refuses the fault (the static rule's reason to exist)

    def base_sql(self) -> str:
        return (HANDWRITTEN / self.base).read_text(encoding="utf-8")

    def sql(self) -> str:
        text = self.base_sql()
        for old, new in self.replace:
            assert text.count(old) == 1, f"{self.name}: {old!r} does not occur exactly once"
            text = text.replace(old, new, 1)
        return text


def _variants() -> list[Variant]:
    data: dict[str, Any] = yaml.safe_load((HANDWRITTEN / "variants.yaml").read_text(encoding="utf-8"))
    return [
        Variant(
            name=v["name"],
            example=v["example"],
            base=v["base"],
            replace=tuple((r["old"], r["new"]) for r in v["replace"]),
            code=v["expect"]["code"],
            mentions=tuple(v["expect"].get("mentions") or ()),
            fault=v["fault"],
            plans=bool(v.get("plans", True)),
        )
        for v in data["variants"]
    ]


VARIANTS = _variants()


@dataclass(frozen=True)
class Example:
    spec: RequestSpec  # the request without its cases: the oracle works from the request alone
    reference_sql: str  # the compiled job


@pytest.fixture(scope="module")
def runner() -> Iterator[EngineRunner]:
    directory = default_jar_dir()
    ensure_connector_jars(directory)
    engine = EngineRunner(directory, use_postgres=True)
    engine.warm()
    assert engine.unavailable_reason is None, engine.unavailable_reason
    assert engine.postgres() is not None, "the oracle's runs must be exact: PostgreSQL is needed"
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def use_case(runner: EngineRunner) -> ValidationUseCase:
    return ValidationUseCase(engine=runner, knowledge=None, language="en")


@pytest.fixture(scope="module")
def examples() -> dict[str, Example]:
    out = {}
    for name in EXAMPLES:
        result = check_document((REQUESTS / f"{name}-request-v3.md").read_text(encoding="utf-8"))
        assert result.spec is not None, result.errors
        spec = result.spec.model_copy(update={"cases": ()})
        job = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="test")
        out[name] = Example(spec, job.sql)
    return out


async def _validate(use_case: ValidationUseCase, example: Example, sql: str) -> Report:
    return await use_case.validate(example.spec, sql, reference_sql=example.reference_sql, language="en")


def _critical(report: Report) -> list[Finding]:
    return [f for f in report.findings if f.severity == "critical"]


def _names(finding: Finding, mentions: tuple[str, ...]) -> bool:
    """The finding names each of `mentions` where a diagnosis must: an oracle column finding is
    about that column (its `name`), an oracle rows finding names it in its likely cause (the rows
    and the input it prints hold every column and field name anyway), a static finding in its text."""
    wanted = [m.lower() for m in mentions]
    if finding.code == "accuracy.oracle_column":
        return (finding.name or "").lower() in wanted
    if finding.code == "accuracy.oracle_rows":
        _, _, cause = finding.message.partition("likely cause: ")
        return bool(cause) and all(m in cause.lower() for m in wanted)
    return all(m in finding.message.lower() for m in wanted)


def _shown(findings: list[Finding]) -> str:
    return "\n".join(f"  {f.code} [{f.location}]: {f.message}" for f in findings) or "  (none)"


def _password_less_tables(sql: str) -> set[str]:
    """JDBC tables of a job file that set a username and no password (a plain reading of the DDL)."""
    found = set()
    for match in re.finditer(r"CREATE\s+(?:TEMPORARY\s+)?TABLE\s+`?(\w+)`?(.*?)\);", sql, re.I | re.S):
        options = match.group(2)
        jdbc = re.search(r"'connector'\s*=\s*'jdbc'", options) is not None
        if jdbc and "'username'" in options and "'password'" not in options:
            found.add(match.group(1))
    return found


# ---- the manifest itself (no engine)


def test_the_manifest_has_enough_single_fault_variants() -> None:
    assert len(VARIANTS) >= MIN_VARIANTS
    names = [v.name for v in VARIANTS]
    assert len(names) == len(set(names)), "variant names are unique"
    for example in EXAMPLES:
        assert sum(v.example == example for v in VARIANTS) >= 10, example
    for v in VARIANTS:
        assert v.example in EXAMPLES, v.name
        assert (HANDWRITTEN / v.base).is_file(), v.name
        assert v.replace, v.name
        base = v.base_sql()
        for old, _ in v.replace:
            assert base.count(old) == 1, f"{v.name}: {old!r} occurs {base.count(old)} times in {v.base}"
        assert v.sql() != base, v.name
        assert v.code in ORACLE_CODES or v.code.startswith("sql."), v.name
        assert v.plans or v.code.startswith("sql."), f"{v.name}: a job that does not plan cannot be run"
        assert v.fault.strip(), v.name


def test_every_correct_job_has_a_no_password_twin() -> None:
    for example in EXAMPLES:
        correct = (HANDWRITTEN / f"{example}.sql").read_text(encoding="utf-8")
        twin = (HANDWRITTEN / f"{example}.no-password.sql").read_text(encoding="utf-8")
        assert not _password_less_tables(correct), example
        assert _password_less_tables(twin), example


# ---- correct jobs


@pytest.mark.parametrize("example", EXAMPLES)
async def test_a_correct_hand_written_job_has_no_critical_finding(
    use_case: ValidationUseCase, examples: dict[str, Example], example: str
) -> None:
    sql = (HANDWRITTEN / f"{example}.sql").read_text(encoding="utf-8")
    report = await _validate(use_case, examples[example], sql)
    critical = _critical(report)
    assert not critical, f"{example}.sql is correct, yet:\n{_shown(critical)}"


@pytest.mark.parametrize("example", EXAMPLES)
async def test_a_job_leaving_passwords_to_deployment_is_only_undeployable(
    use_case: ValidationUseCase, examples: dict[str, Example], example: str
) -> None:
    sql = (HANDWRITTEN / f"{example}.no-password.sql").read_text(encoding="utf-8")
    tables = _password_less_tables(sql)
    report = await _validate(use_case, examples[example], sql)
    critical = _critical(report)
    shown = _shown(critical)
    # one sql.jdbc_password_missing per table (the rule reports each table), nothing else:
    # the oracle plans and runs the job with a placeholder password and finds its rows right
    assert [f.code for f in critical] == ["sql.jdbc_password_missing"] * len(tables), shown
    assert {f.name for f in critical} == tables, shown
    for f in critical:
        assert f.name is not None and f.name in f.message, shown


# ---- single-fault variants


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
async def test_a_single_fault_is_reported(
    use_case: ValidationUseCase, examples: dict[str, Example], variant: Variant
) -> None:
    report = await _validate(use_case, examples[variant.example], variant.sql())
    same_code = [f for f in report.findings if f.code == variant.code]
    hits = [f for f in same_code if f.severity == "critical" and _names(f, variant.mentions)]
    assert hits, (
        f"{variant.name}: {variant.fault}\n"
        f"expected a critical {variant.code} naming {list(variant.mentions)}; "
        f"findings with that code:\n{_shown(same_code)}\n"
        f"critical findings:\n{_shown(_critical(report))}"
    )
