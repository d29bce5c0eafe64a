"""The oracle's numeric and padding functions against values checked on Flink 2.x (PyFlink 2.3,
batch mode): each row is `SELECT CAST(expr AS STRING), TYPEOF(expr)` as Flink answered it, either
on literals or on columns read from a CSV file (so no constant folding hides the runtime code).
The interpreter must give the same value and the same type."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from oracle_support import expression, fixture_spec

from services.validator.domain.oracle import JobFailure, Unsupported
from services.validator.domain.oracle.evaluate import Evaluator, Scope, java_pow, payload_json
from services.validator.domain.oracle.scalars import java_double_text, to_text


def typed(text: str, payload: dict[str, Any] | None = None) -> tuple[str | None, str]:
    """`text` on the orders spec: the value as Flink's CAST(… AS STRING) writes it, and its type."""
    scope = Scope(payload=payload_json(json.dumps(payload or {})))
    ev = Evaluator(fixture_spec("orders"))
    value, vtype = ev.eval(expression(text).ast, scope)
    shown = None if value is None else to_text(value, vtype, ev.zone)
    return shown, vtype.sql().removesuffix(" NOT NULL")


# (expression, Flink's CAST(expr AS STRING), Flink's TYPEOF(expr) without NOT NULL)
FLINK = [
    # ROUND on DECIMAL: HALF_UP; DECIMAL(1 + p - s + r, r) for 0 <= r < s, (min(38, 1 + p - s), 0) for r < 0
    ("ROUND(CAST(2.345 AS DECIMAL(10,3)), 2)", "2.35", "DECIMAL(10, 2)"),
    ("ROUND(CAST(-2.345 AS DECIMAL(10,3)), 2)", "-2.35", "DECIMAL(10, 2)"),
    ("ROUND(CAST(2.344 AS DECIMAL(10,3)), 2)", "2.34", "DECIMAL(10, 2)"),
    ("ROUND(CAST(1250.5 AS DECIMAL(10,1)), -2)", "1300", "DECIMAL(10, 0)"),
    ("ROUND(CAST(1249.5 AS DECIMAL(10,1)), -2)", "1200", "DECIMAL(10, 0)"),
    ("ROUND(CAST(-1250 AS DECIMAL(10,0)), -2)", "-1300", "DECIMAL(11, 0)"),
    ("ROUND(CAST(2.5 AS DECIMAL(10,1)))", "3", "DECIMAL(10, 0)"),
    ("ROUND(CAST(-2.5 AS DECIMAL(10,1)), 0)", "-3", "DECIMAL(10, 0)"),
    ("ROUND(CAST(2.3 AS DECIMAL(5,1)), 3)", "2.3", "DECIMAL(5, 1)"),
    ("ROUND(CAST(99.995 AS DECIMAL(5,3)), 2)", "100.00", "DECIMAL(5, 2)"),
    ("ROUND(CAST(999.5 AS DECIMAL(4,1)), 0)", "1000", "DECIMAL(4, 0)"),
    ("ROUND(CAST(9.99 AS DECIMAL(38,2)), 1)", "10.0", "DECIMAL(38, 1)"),
    ("ROUND(CAST(NULL AS DECIMAL(10,3)), 2)", None, "DECIMAL(10, 2)"),
    ("ROUND(2.345, 2)", "2.35", "DECIMAL(4, 2)"),
    ("ROUND(CAST(2.345 AS DECIMAL(10,3)), 5)", "2.345", "DECIMAL(10, 3)"),
    # runtime, DECIMAL(10, 3) column
    ("ROUND(CAST(-0.004 AS DECIMAL(10,3)), 2)", "0.00", "DECIMAL(10, 2)"),
    ("ROUND(CAST(2.345 AS DECIMAL(10,3)), -2)", "0", "DECIMAL(8, 0)"),
    ("ROUND(CAST(1250.500 AS DECIMAL(10,3)), -2)", "1300", "DECIMAL(8, 0)"),
    ("ROUND(CAST(1250.500 AS DECIMAL(10,3)))", "1251", "DECIMAL(8, 0)"),
    ("ROUND(CAST(1.005 AS DECIMAL(10,3)), 2)", "1.01", "DECIMAL(10, 2)"),
    # ROUND on DOUBLE: BigDecimal.valueOf (the shortest text) then HALF_UP; FLOAT widened first
    ("ROUND(2.5E0)", "3.0", "DOUBLE"),
    ("ROUND(-2.5E0)", "-3.0", "DOUBLE"),
    ("ROUND(0.285E0, 2)", "0.29", "DOUBLE"),
    ("ROUND(1.005E0, 2)", "1.01", "DOUBLE"),
    ("ROUND(1234.5678E0, -2)", "1200.0", "DOUBLE"),
    ("ROUND(CAST(0.285 AS FLOAT), 2)", "0.28", "FLOAT"),
    # runtime, DOUBLE and FLOAT columns (a rounded zero is 0.0, never -0.0)
    ("ROUND(-0.004E0, 2)", "0.0", "DOUBLE"),
    ("ROUND(-0.004E0)", "0.0", "DOUBLE"),
    ("ROUND(1234.5678E0, 2)", "1234.57", "DOUBLE"),
    ("ROUND(1234.5678E0)", "1235.0", "DOUBLE"),
    ("ROUND(CAST(-0.285 AS FLOAT), 2)", "-0.28", "FLOAT"),
    ("ROUND(CAST(-1.5 AS FLOAT), 2)", "-1.5", "FLOAT"),
    # ROUND on integers: the type kept, Java's narrowing wraps
    ("ROUND(CAST(-125 AS TINYINT), -1)", "126", "TINYINT"),
    ("ROUND(CAST(-9223372036854775807 AS BIGINT), -1)", "9223372036854775806", "BIGINT"),
    ("ROUND(-2147483648, -1)", "2147483646", "INT"),
    ("ROUND(15, -1)", "20", "INT"),
    ("ROUND(14, -1)", "10", "INT"),
    ("ROUND(-15, -1)", "-20", "INT"),
    ("ROUND(15)", "15", "INT"),
    ("ROUND(15, 2)", "15", "INT"),
    ("ROUND(CAST(15 AS BIGINT), -1)", "20", "BIGINT"),
    ("ROUND(CAST(125 AS TINYINT), -1)", "-126", "TINYINT"),
    ("ROUND(CAST(32767 AS SMALLINT), -1)", "-32766", "SMALLINT"),
    ("ROUND(2147483647, -1)", "-2147483646", "INT"),
    # FLOOR / CEIL: DECIMAL(p, s) -> DECIMAL(p, 0); others keep their type
    ("FLOOR(CAST(2.345 AS DECIMAL(10,3)))", "2", "DECIMAL(10, 0)"),
    ("FLOOR(CAST(-2.345 AS DECIMAL(10,3)))", "-3", "DECIMAL(10, 0)"),
    ("CEIL(CAST(2.345 AS DECIMAL(10,3)))", "3", "DECIMAL(10, 0)"),
    ("CEIL(CAST(-2.345 AS DECIMAL(10,3)))", "-2", "DECIMAL(10, 0)"),
    ("CEILING(CAST(2.000 AS DECIMAL(10,3)))", "2", "DECIMAL(10, 0)"),
    ("FLOOR(CAST(999.9 AS DECIMAL(4,1)))", "999", "DECIMAL(4, 0)"),
    ("CEIL(CAST(999.9 AS DECIMAL(4,1)))", "1000", "DECIMAL(4, 0)"),
    ("FLOOR(2.5E0)", "2.0", "DOUBLE"),
    ("FLOOR(CAST(-0.004 AS DECIMAL(10,3)))", "-1", "DECIMAL(10, 0)"),
    ("CEIL(CAST(-0.004 AS DECIMAL(10,3)))", "0", "DECIMAL(10, 0)"),
    ("CEIL(-0.004E0)", "-0.0", "DOUBLE"),
    ("FLOOR(0.285E0)", "0.0", "DOUBLE"),
    ("FLOOR(CAST(-0.285 AS FLOAT))", "-1.0", "FLOAT"),
    ("CEIL(-2.5E0)", "-2.0", "DOUBLE"),
    ("FLOOR(CAST(2.5 AS FLOAT))", "2.0", "FLOAT"),
    ("FLOOR(7)", "7", "INT"),
    ("CEIL(CAST(7 AS BIGINT))", "7", "BIGINT"),
    ("FLOOR(CAST(NULL AS DECIMAL(10,2)))", None, "DECIMAL(10, 0)"),
    # GREATEST / LEAST: the common type; NULL when any argument is NULL (Flink 2.x)
    ("GREATEST(1, 2, 3)", "3", "INT"),
    ("LEAST(1, 2, 3)", "1", "INT"),
    ("GREATEST(1, CAST(NULL AS INT), 3)", None, "INT"),
    ("LEAST(1, CAST(NULL AS INT), 3)", None, "INT"),
    ("GREATEST('a', 'bc')", "bc", "VARCHAR(2)"),
    ("LEAST('abc', 'b')", "abc", "VARCHAR(3)"),
    ("GREATEST(DATE '2024-01-01', DATE '2024-02-01')", "2024-02-01", "DATE"),
    ("GREATEST(TRUE, FALSE)", "TRUE", "BOOLEAN"),
    ("GREATEST(CAST(-15 AS INT), 2, 3)", "3", "INT"),
    ("LEAST(-2147483648, -2)", "-2147483648", "INT"),
    ("GREATEST(CAST('hé' AS STRING), CAST('0' AS STRING))", "hé", "STRING"),
    ("LEAST(CAST('abc' AS STRING), CAST('' AS STRING))", "", "STRING"),
    (
        "GREATEST(CAST('2024-01-31 10:00:00' AS TIMESTAMP(3)), CAST('2024-02-29 10:00:00' AS TIMESTAMP(3)))",
        "2024-02-29 10:00:00.000",
        "TIMESTAMP(3)",
    ),
    # LPAD / RPAD: a longer text is cut to the length; the pad repeats and is cut
    ("LPAD('hi', 4, '??')", "??hi", "STRING"),
    ("LPAD('hi', 5, 'xy')", "xyxhi", "STRING"),
    ("LPAD('hello', 2, '?')", "he", "STRING"),
    ("RPAD('hi', 5, 'xy')", "hixyx", "STRING"),
    ("RPAD('hello', 2, '?')", "he", "STRING"),
    ("LPAD('hi', 0, '?')", "", "STRING"),
    ("LPAD(CAST(NULL AS STRING), 4, '?')", None, "STRING"),
    ("LPAD('hi', CAST(NULL AS INT), '?')", None, "STRING"),
    ("LPAD(CAST(7 AS STRING), 3, '0')", "007", "STRING"),
    # runtime: a negative length or an empty pad is NULL (on literals the planner fails instead)
    ("LPAD(CAST('abc' AS STRING), -1, CAST('' AS STRING))", None, "STRING"),
    ("RPAD(CAST('a' AS STRING), -2, CAST('b' AS STRING))", None, "STRING"),
    ("LPAD(CAST('hi' AS STRING), 4, CAST('' AS STRING))", None, "STRING"),
    ("LPAD(CAST('hé' AS STRING), 0, CAST('0' AS STRING))", "", "STRING"),
    ("RPAD(CAST('hi' AS STRING), 4, CAST('xy' AS STRING))", "hixy", "STRING"),
    ("LPAD(CAST('hello' AS STRING), 4, '0')", "hell", "STRING"),
    ("RPAD(CAST('hello' AS STRING), 6, 'xy')", "hellox", "STRING"),
    # POWER: always DOUBLE, Java's Math.pow
    ("POWER(2, 3)", "8.0", "DOUBLE"),
    ("POWER(2.5E0, 2)", "6.25", "DOUBLE"),
    ("POWER(CAST(1.5 AS DECIMAL(5,2)), 2)", "2.25", "DOUBLE"),
    ("POWER(-8, 0.5)", "NaN", "DOUBLE"),
    ("POWER(0, -1)", "Infinity", "DOUBLE"),
    ("POWER(2, -2)", "0.25", "DOUBLE"),
    ("POWER(CAST(NULL AS INT), 2)", None, "DOUBLE"),
    ("POWER(10, 20)", "1.0E20", "DOUBLE"),
    ("POWER(2.5E0, 4)", "39.0625", "DOUBLE"),
    ("POWER(0.285E0, -1)", "3.5087719298245617", "DOUBLE"),
    ("POWER(-0.004E0, 3)", "-6.4E-8", "DOUBLE"),
    ("POWER(-1, 0.285E0)", "NaN", "DOUBLE"),
    ("POWER(0, 1.005E0)", "0.0", "DOUBLE"),
    ("POWER(CAST(2.345 AS DECIMAL(10,3)), 2)", "5.4990250000000005", "DOUBLE"),
    ("POWER(CAST(99.995 AS DECIMAL(10,3)), 2)", "9999.000025000001", "DOUBLE"),
    ("POWER(CAST(1.005 AS DECIMAL(10,3)), 2)", "1.0100249999999997", "DOUBLE"),
    # TIMESTAMPDIFF of TIMESTAMP(3) columns: whole units, truncated toward zero (runtime)
    *[
        (f"TIMESTAMPDIFF({unit}, CAST('{a}' AS TIMESTAMP(3)), CAST('{b}' AS TIMESTAMP(3)))", v, "INT")
        for a, b, values in [
            ("2024-01-31 10:00:00", "2024-02-29 10:00:00", ("2505600", "41760", "696", "29")),
            ("2024-01-01 00:00:00.900", "2024-01-01 00:00:01.100", ("0", "0", "0", "0")),
            ("2024-01-03 09:00:00", "2024-01-01 10:00:00", ("-169200", "-2820", "-47", "-1")),
            ("2020-02-29 00:00:00", "2021-02-28 23:59:59", ("31622399", "527039", "8783", "365")),
            ("2024-01-01 00:00:59", "2024-01-01 00:00:00", ("-59", "0", "0", "0")),
            ("2024-03-31 00:30:00", "2024-03-30 23:30:00", ("-3600", "-60", "-1", "0")),
        ]
        for unit, v in zip(("SECOND", "MINUTE", "HOUR", "DAY"), values, strict=True)
    ],
    (
        "TIMESTAMPDIFF(DAY, CAST(NULL AS TIMESTAMP(3)), CAST('2024-01-01 00:00:00' AS TIMESTAMP(3)))",
        None,
        "INT",
    ),
    # DECIMAL products: DECIMAL(p1 + p2 + 1, s1 + s2) (runtime)
    ("CAST(2.345 AS DECIMAL(10,3)) * CAST(2.345 AS DECIMAL(10,3))", "5.499025", "DECIMAL(21, 6)"),
    ("CAST(2.35 AS DECIMAL(5,2)) * CAST(2.3 AS DECIMAL(4,1))", "5.405", "DECIMAL(10, 3)"),
    # ABS: Java's Math.abs overflows on the minimum
    ("ABS(CAST(-2.5 AS DECIMAL(5,1)))", "2.5", "DECIMAL(5, 1)"),
    ("ABS(-2147483648)", "-2147483648", "INT"),
    ("ABS(CAST(-128 AS TINYINT))", "-128", "TINYINT"),
    ("ABS(-2.5E0)", "2.5", "DOUBLE"),
]


@pytest.mark.parametrize(("text", "flink_value", "flink_type"), FLINK)
def test_function_gives_flinks_value_and_type(text: str, flink_value: str | None, flink_type: str) -> None:
    assert typed(text) == (flink_value, flink_type)


def test_round_reads_payload_decimals_as_the_job_does() -> None:
    """The fraud request's `ROUND(payload.amount * payload.fxRate, 2)`, on a payload field."""
    assert typed("ROUND(payload.orderAmount * 1.005, 2)", {"orderAmount": "10.00"})[0] == "10.05"


def test_greatest_of_mixed_types_is_not_guessed() -> None:
    """On Flink 2.x GREATEST(DECIMAL(10,3) column, INT column) and LEAST(DECIMAL, DOUBLE) fail the
    job at run time (on literals the planner folds them): the oracle does not guess."""
    with pytest.raises(Unsupported, match="different types"):
        typed("GREATEST(CAST(2.5 AS DECIMAL(10,3)), payload.orderStatus)")
    with pytest.raises(Unsupported, match="different types"):
        typed("LEAST(CAST(2.5 AS DECIMAL(10,3)), 2.5E0)")


@pytest.mark.parametrize(
    "text",
    [
        "TIMESTAMPDIFF(MONTH, CAST('2024-01-01 00:00:59' AS TIMESTAMP(3)), CAST('2024-01-01 00:00:00' AS TIMESTAMP(3)))",
        "TIMESTAMPDIFF(DAY, TO_TIMESTAMP_LTZ(0, 3), TO_TIMESTAMP_LTZ(172800000, 3))",
    ],
)
def test_timestampdiff_beyond_what_was_matched_is_not_guessed(text: str) -> None:
    """Flink says -1 MONTH for those 59 seconds back; LTZ arguments were not checked across zones."""
    with pytest.raises(Unsupported, match="TIMESTAMPDIFF"):
        typed(text)


def test_round_of_nan_fails_the_job_as_flink_does() -> None:
    """Flink: ROUND(CAST('NaN' AS DOUBLE), 2) fails (BigDecimal.valueOf refuses NaN)."""
    with pytest.raises(JobFailure):
        typed("ROUND(CAST('NaN' AS DOUBLE), 2)")


def test_round_needs_literal_digits() -> None:
    with pytest.raises(Unsupported, match="integer literal"):
        typed("ROUND(2.5, payload.orderStatus)")


def test_pad_beyond_the_bmp_is_not_guessed() -> None:
    with pytest.raises(Unsupported, match="UTF-16"):
        typed("LPAD('\U0001f600', 4, '?')")


def test_java_pow_special_cases() -> None:
    assert math.isnan(java_pow(1.0, math.nan)) and math.isnan(java_pow(-1.0, math.inf))
    assert java_pow(math.nan, 0.0) == 1.0
    assert java_pow(-0.0, -1.0) == -math.inf and java_pow(0.0, -1.0) == math.inf
    assert java_pow(-10.0, 401.0) == -math.inf and java_pow(10.0, 400.0) == math.inf
    assert java_double_text(java_pow(2.0, 0.5)) == "1.4142135623730951"
