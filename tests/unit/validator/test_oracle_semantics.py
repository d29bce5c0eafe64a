"""The oracle's semantics, construct by construct (request-format.md §3-§5 and the decisions in
docs/request-format-decisions.md, "The validator's interpreter")."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from oracle_support import expression, fixture_spec, remap

from services.flinksql.spec import Aggregation
from services.validator.domain.oracle import JobFailure, Unsupported, interpret
from services.validator.domain.oracle.evaluate import Evaluator, Scope, payload_json
from services.validator.domain.oracle.scalars import java_double_text


def value(text: str, payload: dict[str, Any] | str | None = None, **rows: dict[str, Any] | None) -> object:
    """`text` evaluated on the orders spec (Asia/Shanghai) over one payload and joined rows."""
    raw = payload if isinstance(payload, str) or payload is None else json.dumps(payload)
    scope = Scope(payload=payload_json(raw), rows=dict(rows))
    return Evaluator(fixture_spec("orders")).eval(expression(text).ast, scope)[0]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"orderStatus": 2}, 2),
        ({"orderStatus": "2"}, 2),
        ({"orderStatus": 2.5}, 2),
        ({"orderStatus": " 7 "}, 7),
        ({"orderStatus": "abc"}, None),
        ({"orderStatus": 3000000000}, None),
        ({"orderStatus": {"a": 1}}, None),
        ({"orderStatus": [1]}, None),
        ({"orderStatus": None}, None),
        ({}, None),
        ('{"orderStatus": ', None),
        ("[1, 2]", None),
        (None, None),
    ],
)
def test_a_payload_field_is_try_cast_of_json_value(payload: Any, expected: object) -> None:
    """It reads `payload.f` as TRY_CAST(JSON_VALUE(payload, '$.f') AS T): a bad value is NULL."""
    assert value("payload.orderStatus", payload) == expected


def test_payload_numbers_and_strings() -> None:
    """It reads BigDecimal from numbers and numeric strings; String fields hold Java's text."""
    assert value("payload.orderAmount", {"orderAmount": 258.0}) == Decimal("258")
    assert value("payload.orderAmount", {"orderAmount": "1234567.891"}) == Decimal("1234567.891")
    assert value("payload.orderId", {"orderId": 12}) == "12"
    assert value("payload.orderId", {"orderId": 1e-07}) == "1E-7"  # BigDecimal text, as on Flink
    assert value("payload.orderId", '{"orderId": 258.00}') == "258.00"
    assert value("payload.orderId", '{"orderId": 1.0E10}') == "1.0E+10"
    assert value("payload.orderId", '{"orderId": -0.0}') == "0.0"
    assert value("payload.orderStatus", {"orderStatus": ".5"}) == 0
    assert value("payload.orderStatus", {"orderStatus": "-2.9"}) == -2
    assert value("payload.createdAt", {"createdAt": 1736179199.9}) == 1736179199
    assert value("payload.createdAt", '{"createdAt": 1.7361791999E9}') == 1736179199  # plain text
    assert value("payload.createdAt", '{"createdAt": 1.0E10}') is None  # "1.0E+10" is no BIGINT
    assert value("payload.orderId", {"orderId": True}) == "true"
    assert [java_double_text(x) for x in (258.0, 1e7, 0.001, 12345.5, -0.0)] == [
        "258.0",
        "1.0E7",
        "0.001",
        "12345.5",
        "-0.0",
    ]


def test_decimal_cast_rounds_half_up_and_overflows_to_null() -> None:
    """It rounds DECIMAL half-up (away from zero) and gives NULL on precision overflow."""
    assert value("CAST(-0.005 AS DECIMAL(3, 2))") == Decimal("-0.01")
    assert value("CAST(0.125 AS DECIMAL(3, 2))") == Decimal("0.13")
    assert value("CAST(12345 AS DECIMAL(3, 1))") is None
    assert value("CAST(2.7 AS INT)") == 2
    assert value("CAST(-2.7 AS INT)") == -2


def test_integer_arithmetic_wraps_and_divides_toward_zero() -> None:
    """It follows Java: INT overflow wraps, integer division truncates, division by 0 fails."""
    assert value("2147483647 + 1") == -2147483648
    assert value("7 / 2") == 3
    assert value("-7 / 2") == -3
    assert value("1.0 / 3") == Decimal("0.333333333333")  # DECIMAL(2, 1) / INT: scale 1 + 10 + 1
    with pytest.raises(JobFailure):
        value("1 / 0")
    with pytest.raises(JobFailure):
        value("CAST('abc' AS INT)")
    assert value("TRY_CAST('abc' AS INT)") is None
    assert (value("-7 % 3"), value("5.5 % 2"), value("TRY_CAST('.' AS INT)")) == (-1, Decimal("1.5"), 0)
    assert (value("TRY_CAST('yes' AS BOOLEAN)"), value("TRY_CAST(' true ' AS BOOLEAN)")) == (True, None)
    assert value("CASE WHEN 1 = 0 THEN 1 / 0 ELSE 5 END") == 5


def test_three_valued_logic() -> None:
    """It gives NULL where SQL does, and FALSE/TRUE where one side decides."""
    assert value("CAST(NULL AS BOOLEAN) AND FALSE") is False
    assert value("CAST(NULL AS BOOLEAN) OR TRUE") is True
    assert value("NOT CAST(NULL AS BOOLEAN)") is None
    assert value("3 IN (1, NULL)") is None
    assert value("1 IN (1, NULL)") is True
    assert value("3 NOT IN (1, 2)") is True
    assert value("payload.orderStatus BETWEEN 1 AND 3", {"orderStatus": 2}) is True
    assert value("payload.orderStatus = 1", {}) is None
    assert value("payload.orderStatus IS NULL", {}) is True
    assert value("payload.orderStatus IS DISTINCT FROM 1", {}) is True
    assert value("payload.channel LIKE 'A_P%'", {"channel": "APP"}) is True


def test_strings_and_case() -> None:
    assert value("UPPER(payload.channel) || '-' || TRIM(' x ')", {"channel": "web"}) == "WEB-x"
    assert value("CONCAT_WS('/', 'a', CAST(NULL AS STRING), 'b')") == "a/b"
    assert value("SUBSTRING('abcdef', 2, 3)") == "bcd"
    assert value("CASE payload.orderStatus WHEN 1 THEN 'a' ELSE 'b' END", {}) == "b"
    assert value("COALESCE(dim1.shop_name, '未知店铺')", dim1=None) == "未知店铺"
    assert value("COALESCE(dim1.shop_name, '未知店铺')", dim1={"shop_name": "x"}) == "x"


def test_time_functions_use_the_job_time_zone() -> None:
    """It converts instants in Asia/Shanghai for DATE, TIMESTAMP and DATE_FORMAT."""
    ms = {"createdAt": 1736179199999}  # 2025-01-06 23:59:59.999 +08:00
    assert value("CAST(TO_TIMESTAMP_LTZ(payload.createdAt, 3) AS DATE)", ms) == date(2025, 1, 6)
    assert value("CAST(TO_TIMESTAMP_LTZ(payload.createdAt, 3) AS TIMESTAMP(3))", ms) == datetime(
        2025, 1, 6, 23, 59, 59, 999000
    )
    assert value("DATE_FORMAT(TO_TIMESTAMP_LTZ(payload.createdAt + 1, 3), 'yyyy-MM-dd HH:mm')", ms) == (
        "2025-01-07 00:00"
    )
    assert value("TO_TIMESTAMP('2025-01-06 10:00:00')") == datetime(2025, 1, 6, 10)
    assert value("TO_TIMESTAMP('yesterday')") is None
    assert value("EXTRACT(HOUR FROM TO_TIMESTAMP_LTZ(0, 0))") == 8


@pytest.mark.parametrize(
    ("text", "construct"),
    [
        ("CURRENT_TIMESTAMP", "non-deterministic function CURRENT_TIMESTAMP"),
        ("MD5('x')", "function MD5"),
        ("'a' SIMILAR TO 'b'", "SIMILAR TO"),
        ("payload.orderId = 1", "comparison of STRING with INT"),
        ("INTERVAL '1' DAY", "node IntervalLit"),
    ],
)
def test_unsupported_constructs_are_named(text: str, construct: str) -> None:
    """It refuses what it does not interpret, naming the construct, instead of guessing."""
    with pytest.raises(Unsupported) as err:
        value(text, {"orderId": "O1"})
    assert construct in err.value.construct


def _order(order_id: str, amount: object, **extra: object) -> dict[str, Any]:
    payload = {"orderId": order_id, "orderAmount": amount, "orderStatus": 2, "createdAt": 0, **extra}
    return {"domain": "orders", "type": "order_created", "payload": payload}


def test_upsert_keeps_the_last_row_per_key_and_drops_null_in_not_null_columns() -> None:
    """It keeps the last row written per primary key, in event order, and drops NULL keys."""
    spec = fixture_spec("orders")
    rows = interpret(spec, [_order("A", 1), _order("B", 2), _order("A", 3)], {})
    assert [(r["order_id"], r["order_amount"]) for r in rows] == [
        ("B", Decimal("2.00")),
        ("A", Decimal("3.00")),
    ]
    keyless = remap(spec, "order_id", "dim1.shop_name")
    assert interpret(keyless, [_order("A", 1)], {}) == []


def test_a_global_aggregate_writes_no_row_without_input() -> None:
    """It writes nothing when no event survives a job whose every mapping aggregates (§5)."""
    spec = fixture_spec("user-activity")
    for column, text in {"stat_date": "MAX(payload.userId)", "user_id": "MIN(payload.userId)"}.items():
        spec = remap(spec, column, text)
    spec = remap(spec, "member_level", "COUNT(*)")
    spec = spec.model_copy(update={"aggregation": Aggregation(is_aggregate=True, group_by=())})
    assert interpret(spec, [], {}) == []
    event = {
        "domain": "user-activity",
        "type": "user_action",
        "payload": {"userId": "U1", "actionTime": 0, "platform": "ios", "stayMillis": 5},
    }
    (row,) = interpret(spec, [event, event], {})
    assert (row["stat_date"], row["member_level"], row["action_count"], row["total_stay_ms"]) == (
        "U1",
        2,
        2,
        10,
    )


def test_aggregates_skip_nulls_and_sum_of_nothing_is_null() -> None:
    spec = fixture_spec("user-activity")
    spec = remap(spec, "total_stay_ms", "SUM(payload.stayMillis)")
    spec = remap(spec, "view_count", "AVG(payload.stayMillis)")
    event = {
        "domain": "user-activity",
        "type": "user_action",
        "payload": {"userId": "U1", "actionTime": 0, "platform": "ios"},
    }
    (row,) = interpret(spec, [event], {})
    assert row["total_stay_ms"] is None and row["view_count"] is None and row["session_count"] == 0
    events = [dict(event, payload={**event["payload"], "stayMillis": n}) for n in (1, 2)]  # type: ignore[dict-item]
    (row,) = interpret(spec, events, {})
    assert (row["total_stay_ms"], row["view_count"]) == (3, 1)  # AVG of BIGINT truncates


def test_aggregates_follow_flink_types() -> None:
    """As checked on Flink 2.x: SUM of INT wraps, AVG of an integer truncates toward zero, AVG
    of DECIMAL(p, s) has scale max(6, s)."""
    spec = fixture_spec("user-activity")
    spec = remap(spec, "total_stay_ms", "SUM(CAST(payload.stayMillis AS INT))")
    spec = remap(spec, "view_count", "AVG(payload.stayMillis)")
    spec = remap(
        spec, "session_count", "CAST(AVG(CAST(payload.stayMillis AS DECIMAL(5, 1))) * 1000000 AS BIGINT)"
    )
    base = {"userId": "U1", "actionTime": 0, "platform": "ios"}
    events = [
        {"domain": "user-activity", "type": "user_action", "payload": {**base, "stayMillis": n}}
        for n in (2147483647, 1)
    ]
    (row,) = interpret(spec, events, {})
    assert (row["total_stay_ms"], row["view_count"]) == (-2147483648, 1073741824)
    negative = [dict(e, payload={**base, "stayMillis": n}) for e, n in zip(events, (-3, -4), strict=True)]
    (row,) = interpret(spec, negative, {})
    assert (row["view_count"], row["session_count"]) == (-3, -3500000)
