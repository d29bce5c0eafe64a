"""Lookup join keys of different types are compared by value, and the generated test data fits
the dimension key types (request-format §4: `ON <alias>.<target_field> = <source>`).

The fixtures keycast-request-v3.md and health-request-v3.md come from a tester's documents: a
`Long` payload key against an INT dimension key, `String` against VARCHAR(5), `BigDecimal`
against INT, `Integer` against BIGINT, `String` against VARCHAR(20) and CHAR(4).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
import yaml
from gen_support import HERE, PROFILE

from services.flinksql.spec import RequestSpec
from services.flinksql.sqltypes import FlinkType
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.domain.oracle import interpret, judge_case

FIXTURES = HERE / "fixtures"
INT_RANGE = {"TINYINT": 2**7, "SMALLINT": 2**15, "INT": 2**31, "BIGINT": 2**63}


def _spec(text: str) -> RequestSpec:
    result = check_document(text)
    assert result.spec is not None, [e.render() for e in result.errors]
    return result.spec


def _fixture(name: str) -> RequestSpec:
    return _spec((FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8"))


def _on_clauses(sql: str) -> list[str]:
    lines = [line.strip() for line in sql.splitlines()]
    return [line for line in lines if line.startswith("ON ") and not line.startswith("ON CONFLICT")]


def _test_data(spec: RequestSpec) -> dict[str, Any]:
    job = compile_job(spec, profile=PROFILE, revision=1, generator_version="0.1.0")
    data: dict[str, Any] = yaml.safe_load(job.files[job.paths.test_data])["test_data"]
    return data


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


def _fits(value: Any, t: FlinkType) -> bool:
    """True when a test-data value is a valid value of the column type (as PostgreSQL loads it)."""
    if value is None:
        return True
    root = t.root
    if root in INT_RANGE:
        return isinstance(value, int) and -INT_RANGE[root] <= value < INT_RANGE[root]
    if root == "DECIMAL":
        d = Decimal(str(value))
        assert t.precision is not None and t.scale is not None
        return d == d.quantize(Decimal(1).scaleb(-t.scale)) and abs(d) < Decimal(10) ** (
            t.precision - t.scale
        )
    if root == "VARCHAR":
        return isinstance(value, str) and len(value) <= (t.length or 0)
    if root == "CHAR":
        return isinstance(value, str) and len(value) == t.length
    if root == "STRING":
        return isinstance(value, str)
    if root in ("FLOAT", "DOUBLE"):
        return isinstance(value, int | float)
    if root == "BOOLEAN":
        return isinstance(value, bool)
    return True


def _same(a: Any, b: Any) -> bool:
    """Exact equality of two key values: text as it is, numbers (or numeric text) by value."""
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except ArithmeticError:
        return False


@pytest.mark.parametrize("name", ["keycast", "health"])
def test_dimension_rows_fit_their_column_types(name: str) -> None:
    """Every generated dimension value is valid for its DDL type (no BIGINT 1736208000002 in an
    INT key, no 13-character text in a VARCHAR(5), CHAR(n) exactly n long)."""
    spec = _fixture(name)
    data = _test_data(spec)
    for dim in spec.dimensions:
        rows = data["dimensions"][dim.table.name]
        assert rows
        for row in rows:
            for col in dim.table.columns:
                assert _fits(row.get(col.name), col.type), (dim.table.name, col.name, row.get(col.name))


@pytest.mark.parametrize("name", ["keycast", "health"])
def test_events_hit_miss_and_near_miss_the_dimension_keys(name: str) -> None:
    """The typical event's keys equal a dimension row's key exactly; each miss equals none; a
    near miss (a value a lossy conversion would turn into the key) is there for each join whose
    key types differ that way, and equals no key."""
    spec = _fixture(name)
    data = _test_data(spec)
    events = {e["purpose"]: e for e in data["events"]}
    typical = json.loads(events["every referenced field present, every lookup hits"]["event"]["payload"])
    for j in spec.joins:
        keys = [r[j.target_field] for r in data["dimensions"][j.target_table]]
        assert any(_same(typical[j.source_field], k) for k in keys), (j.name, typical[j.source_field], keys)
        miss = json.loads(events[f"lookup {j.name} misses ({j.join_type})"]["event"]["payload"])
        assert not any(_same(miss[j.source_field], k) for k in keys)
        near = [e for p, e in events.items() if p.startswith(f"lookup {j.name} near miss")]
        for e in near:
            value = json.loads(e["event"]["payload"])[j.source_field]
            assert not any(_same(value, k) for k in keys)
    near_joins = {p.split()[1] for p in events if " near miss " in p}
    expected = {"keycast": {"p", "w", "b"}, "health": {"to_patient", "to_insurer"}}[name]
    assert near_joins == expected


def test_oracle_on_the_generated_data_hits_and_misses_as_intended() -> None:
    """On the generated data the interpreter joins the typical event to every dimension row and
    none of the misses or near misses (old data: a key no INT column can hold)."""
    spec = _fixture("keycast")
    data = _test_data(spec)
    events = {e["purpose"]: e["event"] for e in data["events"]}
    typical = events["every referenced field present, every lookup hits"]
    [row] = interpret(spec, [typical], data["dimensions"])
    assert all(row[c] is not None for c in ("patient_name", "ward_name", "bed_label")), row
    columns = {"p": "patient_name", "w": "ward_name", "b": "bed_label"}
    for purpose, event in events.items():
        match = re.match(r"lookup (\w+) (misses|near miss)", purpose)
        if match is None:
            continue
        [row] = interpret(spec, [event], data["dimensions"])
        column = columns[match.group(1)]
        assert row[column] is None, (purpose, row)
        assert all(row[c] is not None for c in columns.values() if c != column), (purpose, row)


def test_readme_shows_no_control_characters() -> None:
    """The README carries the job name as the SQL header does: terminal escapes and line breaks
    become spaces (a spec that did not pass the ingest checks, e.g. a spec_json, included)."""
    spec = _fixture("keycast")
    name = "\x1b[2J\x1b[32mvalid: fine\x1b[0m\rX\u202eY"
    spec = spec.model_copy(update={"job": spec.job.model_copy(update={"name": name})})
    job = compile_job(spec, profile=PROFILE, revision=1, generator_version="0.1.0")
    readme = job.files[job.paths.readme]
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", readme)
    title = readme.splitlines()[0]
    header = next(line for line in job.sql.splitlines() if "generated job:" in line)
    assert title == f"# {header.split('generated job: ', 1)[1]} — generated Flink SQL job (v3)"
    assert title.startswith("# [2J [32mvalid: fine [0m X Y")
