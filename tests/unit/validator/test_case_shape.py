"""Cases against a job (`domain.cases`) and their PostgreSQL schema (`domain.pg_schema`): which
tables a case run needs, why a case cannot run, how its rows are judged, what an exact run
creates in PostgreSQL. Pure, no engine and no server."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from services.flinksql.sqltypes import parse_type
from services.validator.domain.case_batch import JobScript
from services.validator.domain.cases import (
    Case,
    CaseInvalid,
    CaseShape,
    ExactUnsupported,
    PendingCase,
    events_jsonl,
    summary_line,
)
from services.validator.domain.pg_schema import check_postgres_fit, literal, pg_setup_sql, pg_type

JOB = """SET 'table.local-time-zone' = 'Asia/Shanghai';
CREATE TABLE `BusinessEvent` (
  `domain` STRING, `type` STRING, `payload` STRING, `create_time` BIGINT, `proc_time` AS PROCTIME()
) WITH ('connector' = 'kafka', 'format' = 'json');
CREATE TABLE `dim_shop` (
  `shop_id` STRING NOT NULL, `name` STRING, PRIMARY KEY (`shop_id`) NOT ENFORCED
) WITH ('connector' = 'jdbc', 'table-name' = 'dim_shop');
CREATE TABLE `orders_wide` (
  `id` STRING NOT NULL, `shop_name` STRING, `amount` DECIMAL(10, 2), `paid_at` TIMESTAMP_LTZ(3),
  PRIMARY KEY (`id`) NOT ENFORCED
) WITH ('connector' = 'jdbc', 'table-name' = 'orders_wide');
INSERT INTO `orders_wide`
SELECT JSON_VALUE(`e`.`payload`, '$.id'), `d`.`name`,
  CAST(JSON_VALUE(`e`.`payload`, '$.amount') AS DECIMAL(10, 2)), TO_TIMESTAMP_LTZ(`e`.`create_time`, 3)
FROM `BusinessEvent` AS `e`
LEFT JOIN `dim_shop` FOR SYSTEM_TIME AS OF `e`.`proc_time` AS `d` ON `d`.`shop_id` = `e`.`domain`;
"""

EXPECTED = {"id": "o1", "shop_name": "Shop 'One'", "amount": "12.50", "paid_at": "2023-11-15 06:13:20.000"}


def _case(**changes: Any) -> Case:
    data: dict[str, Any] = {
        "name": "paid order",
        "events": [
            {
                "domain": "s1",
                "type": "paid",
                "payload": {"id": "o1", "amount": 12.5},
                "create_time": "1700000000000",
            }
        ],
        "dimensions": {"dim_shop": [{"shop_id": "s1", "name": "Shop 'One'"}]},
        "expected": [EXPECTED],
    }
    return Case.from_mapping({**data, **changes})


def test_a_case_finds_the_source_the_lookups_and_the_result() -> None:
    """It takes BusinessEvent as the source, the FOR SYSTEM_TIME tables as lookups, the INSERT
    target as the result with its physical columns and key."""
    shape = CaseShape.of(JobScript.read(JOB), _case())
    assert (shape.source, shape.lookups, shape.result) == ("BusinessEvent", ["dim_shop"], "orders_wide")
    assert [n for n, _ in shape.result_columns] == ["id", "shop_name", "amount", "paid_at"]
    assert shape.result_pk == ("id",)
    assert [n for n, _, _ in shape.types["BusinessEvent"]] == ["domain", "type", "payload", "create_time"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dimensions": {"dim_city": []}}, "dimension 'dim_city' is not a lookup table of the job"),
        ({"dimensions": {"dim_shop": [{"shop_id": "s1", "owner": "x"}]}}, "unknown column(s) owner"),
        ({"dimensions": {"dim_shop": [{"name": "x"}]}}, "leaves out NOT NULL/key column(s) shop_id"),
        ({"expected": [{"id": "o1", "total": 1}]}, "missing columns ['amount', 'paid_at', 'shop_name']"),
    ],
)
def test_a_case_that_does_not_fit_the_job_is_invalid(changes: dict[str, Any], message: str) -> None:
    """It names the dimension, row and columns that do not fit the job's tables."""
    with pytest.raises(
        CaseInvalid, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        CaseShape.of(JobScript.read(JOB), _case(**changes))


def test_a_job_without_one_insert_has_no_case_shape() -> None:
    """It refuses a job with no INSERT, or with two."""
    for script in (JOB[: JOB.index("INSERT")], JOB + JOB[JOB.index("INSERT") :]):
        with pytest.raises(CaseInvalid, match="exactly one INSERT"):
            CaseShape.of(JobScript.read(script), _case())


def test_events_become_json_lines_with_the_payload_as_text() -> None:
    """It writes each event as one JSON line, its payload as JSON text (§8) and its time as a number."""
    [line] = events_jsonl(_case()).splitlines()
    event = json.loads(line)
    assert event == {
        "domain": "s1",
        "type": "paid",
        "payload": '{"id": "o1", "amount": 12.5}',
        "create_time": 1700000000000,
    }
    assert events_jsonl(_case(events=[])) == ""


def test_a_pending_case_is_judged_against_its_expected_rows() -> None:
    """It passes when the rows match in the job's time zone and fails listing what differs."""
    job = JobScript.read(JOB)
    case = _case()
    shape = CaseShape.of(job, case)
    produced = {
        "id": "o1",
        "shop_name": "Shop 'One'",
        "amount": Decimal("12.50"),
        "paid_at": "2023-11-15 06:13:20",
    }
    passed = PendingCase(case, shape, "exact", None, rows=[produced], batch_size=3).result(job)
    assert passed.passed and passed.batch_size == 3 and passed.rows[0]["amount"] == "12.50"
    failed = PendingCase(case, shape, "rewritten", "no PostgreSQL", rows=[]).result(job)
    assert not failed.passed and failed.missing == (EXPECTED,) and failed.fallback_reason == "no PostgreSQL"
    crashed = PendingCase(case, shape, "exact", None, error="boom").result(job)
    assert (crashed.passed, crashed.error) == (False, "boom")
    assert PendingCase(case, shape, "exact", None).result(job).error == "the case produced no result"
    assert summary_line([passed, failed, crashed]) == "1 passed, 2 failed"


def test_flink_types_map_to_postgresql_columns() -> None:
    """It stores each Flink type in the PostgreSQL type JDBC writes it to; none for nested types."""
    assert pg_type(parse_type("DECIMAL(10, 2)")) == "numeric(10, 2)"
    assert pg_type(parse_type("TIMESTAMP_LTZ(9)")) == "timestamptz(6)"
    assert pg_type(parse_type("TIMESTAMP")) == "timestamp(6)"
    assert pg_type(parse_type("TINYINT")) == "smallint"
    assert pg_type(parse_type("VARCHAR(20)")) == "text"
    with pytest.raises(ExactUnsupported, match="ARRAY<INT> has no PostgreSQL column"):
        pg_type(parse_type("ARRAY<INT>"))


def test_an_exact_run_needs_names_postgresql_takes_unquoted() -> None:
    """It refuses a reserved word as a lookup/result table or column name (JDBC does not quote)."""
    plain = JobScript.read(JOB.replace("`paid_at` TIMESTAMP_LTZ(3)", "`paid_at` TIMESTAMP(3)"))
    check_postgres_fit(CaseShape.of(plain, _case()))
    job = JobScript.read(JOB)
    # Flink's JDBC connector has no TIMESTAMP_LTZ converter: such a case runs rewritten
    with pytest.raises(ExactUnsupported, match=r"orders_wide\.paid_at is TIMESTAMP_LTZ\(3\)"):
        check_postgres_fit(CaseShape.of(job, _case()))
    fraction = JobScript.read(JOB.replace("`paid_at` TIMESTAMP_LTZ(3)", "`paid_at` TIME(3)"))
    with pytest.raises(ExactUnsupported, match=r"paid_at is TIME\(3\): Flink's JDBC connector drops"):
        check_postgres_fit(CaseShape.of(fraction, _case()))
    for precision in (0, 9):  # Flink's PostgreSQL dialect: TIMESTAMP(1) to TIMESTAMP(6)
        stamp = JobScript.read(JOB.replace("`paid_at` TIMESTAMP_LTZ(3)", f"`paid_at` TIMESTAMP({precision})"))
        with pytest.raises(
            ExactUnsupported, match=rf"paid_at is TIMESTAMP\({precision}\): Flink's PostgreSQL"
        ):
            check_postgres_fit(CaseShape.of(stamp, _case()))
    renamed = JobScript.read(JOB.replace("`shop_name`", "`user`"))
    expected = {**EXPECTED, "user": EXPECTED["shop_name"]}
    del expected["shop_name"]
    with pytest.raises(ExactUnsupported, match=r"column orders_wide\.user is a PostgreSQL reserved word"):
        check_postgres_fit(CaseShape.of(renamed, _case(expected=[expected])))


def test_a_cases_schema_holds_its_tables_and_dimension_rows() -> None:
    """It creates the lookup and result tables with their keys, and inserts the dimension rows as
    quoted literals."""
    job = JobScript.read(JOB)
    case = _case()
    sql = pg_setup_sql("sw_case_1", job, CaseShape.of(job, case), case)
    assert sql.splitlines() == [
        "CREATE SCHEMA sw_case_1;",
        "CREATE TABLE sw_case_1.dim_shop (shop_id text NOT NULL, name text, PRIMARY KEY (shop_id));",
        "CREATE TABLE sw_case_1.orders_wide (id text NOT NULL, shop_name text, amount numeric(10, 2), "
        "paid_at timestamptz(3), PRIMARY KEY (id));",
        "INSERT INTO sw_case_1.dim_shop (shop_id, name) VALUES ('s1', 'Shop ''One''');",
    ]
    assert literal(None) == "NULL"
    with pytest.raises(ValueError, match="NUL"):
        literal("a\x00b")
