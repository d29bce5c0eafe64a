"""Lookup join keys of different types are compared by value, and the generated test data fits
the dimension key types (request-format §4: `ON <alias>.<target_field> = <source>`).

The fixtures keycast-request-v3.md and health-request-v3.md come from a tester's documents: a
`Long` payload key against an INT dimension key, `String` against VARCHAR(5), `BigDecimal`
against INT, `Integer` against BIGINT, `String` against VARCHAR(20) and CHAR(4).
"""

from __future__ import annotations

from gen_support import HERE, PROFILE

from services.flinksql.spec import RequestSpec
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.domain.oracle import interpret, judge_case

FIXTURES = HERE / "fixtures"


def _spec(text: str) -> RequestSpec:
    result = check_document(text)
    assert result.spec is not None, [e.render() for e in result.errors]
    return result.spec


def _fixture(name: str) -> RequestSpec:
    return _spec((FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8"))


def _on_clauses(sql: str) -> list[str]:
    lines = [line.strip() for line in sql.splitlines()]
    return [line for line in lines if line.startswith("ON ") and not line.startswith("ON CONFLICT")]


def test_narrowing_keys_compare_the_values_not_a_converted_value() -> None:
    """It keeps the dimension key bare, compares character keys as they are, and looks a numeric
    key up through TRY_CAST only together with the row's key equal to the value itself."""
    job = compile_job(_fixture("keycast"), profile=PROFILE, revision=1, generator_version="0.1.0")
    assert _on_clauses(job.sql) == [
        "ON `dim1`.`patient_id` = TRY_CAST(`ev`.`patientId` AS INT)"
        " AND TRY_CAST(`dim1`.`patient_id` AS BIGINT) = `ev`.`patientId`",
        "ON `dim2`.`ward_code` = `ev`.`wardCode`",
        "ON `dim3`.`bed_no` = TRY_CAST(`ev`.`bedNo` AS INT)"
        " AND TRY_CAST(`dim3`.`bed_no` AS DECIMAL(38, 18)) = `ev`.`bedNo`",
    ]
    assert "AS VARCHAR(5)" not in job.sql


def test_widening_key_is_a_plain_cast() -> None:
    """An INT payload key against a BIGINT dimension key keeps every value: a plain CAST."""
    text = (FIXTURES / "health-request-v3.md").read_text(encoding="utf-8")
    job = compile_job(_spec(text), profile=PROFILE, revision=1, generator_version="0.1.0")
    on = _on_clauses(job.sql)
    assert on[1] == (
        "ON `dim2`.`doctor_no` = CAST(`ev`.`doctorNo` AS BIGINT) AND (`dim2`.`clinic_code` = `ev`.`clinicCode`)"
    )
    assert on[2] == "ON `dim3`.`insurer_id` = `ev`.`insurerId`"
    readme = job.files[job.paths.readme]
    assert "source CAST to BIGINT, a widening" in readme
    assert "source TRY_CAST to INT to look the row up" in readme


def test_the_oracle_expects_no_false_match() -> None:
    """The interpreter (the validator's oracle) gives the case's rows: 4294967297 is not 1,
    'ICU-NORTH' is not 'ICU-N', 1.6 is not 1."""
    spec = _fixture("keycast")
    assert spec.cases
    assert judge_case(spec, spec.cases[0]).equal
    rows = interpret(spec, spec.cases[0].events, spec.cases[0].dimensions)
    v1 = next(r for r in rows if r["visit_id"] == "V1")
    assert v1 == {"visit_id": "V1", "patient_name": None, "ward_name": None, "bed_label": None}
