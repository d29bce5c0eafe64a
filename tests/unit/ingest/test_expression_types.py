"""Operand and argument types: `check` rejects what Flink 2.3 rejects, and nothing Flink accepts.

The verdicts in data/flink_type_matrix.tsv come from Flink 2.3 itself (data/flink_type_probe.py
plans `SELECT <expr> FROM t` with PyFlink over columns typed like payload fields). Every
expression Flink accepts must pass the checker (a false rejection blocks a valid job); every one
marked `n` must be rejected (Flink would reject the generated job with a message about generated
SQL lines instead of the document).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.flinksql.sqltypes import JAVA_TO_FLINK, parse_type
from services.ingest.domain.check_expressions import Where, warn_result_cast
from services.ingest.domain.checks import check_document
from services.ingest.domain.errors import Issues
from services.ingest.domain.expressions import TypeEnv, analyze, parse_expression

DATA = Path(__file__).parent / "data" / "flink_type_matrix.tsv"
ORDERS = Path(__file__).resolve().parents[3] / "examples" / "orders" / "orders-request-v3.md"

ENV = TypeEnv(
    payload={
        "code": JAVA_TO_FLINK["String"],
        "txt": JAVA_TO_FLINK["String"],
        "qty": JAVA_TO_FLINK["Integer"],
        "big": JAVA_TO_FLINK["Long"],
        "ms": JAVA_TO_FLINK["Long"],
        "sm": JAVA_TO_FLINK["Short"],
        "ti": JAVA_TO_FLINK["Byte"],
        "price": JAVA_TO_FLINK["BigDecimal"],
        "ratio": JAVA_TO_FLINK["Double"],
        "fl": JAVA_TO_FLINK["Float"],
        "urgent": JAVA_TO_FLINK["Boolean"],
    },
    aliases={
        "t": {
            "vc": parse_type("VARCHAR(5)"),
            "ch": parse_type("CHAR(3)"),
            "ts": parse_type("TIMESTAMP(3)"),
            "ltz": parse_type("TIMESTAMP_LTZ(3)"),
            "d": parse_type("DATE"),
            "tm": parse_type("TIME(0)"),
        }
    },
)


def _matrix() -> list[tuple[str, str]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            verdict, expr = line.split("\t")
            rows.append((verdict, expr))
    return rows


def _errors(text: str) -> list[str]:
    return [p.message for p in analyze(parse_expression(text), ENV).errors]


def test_matrix_is_large_and_covers_both_verdicts() -> None:
    """The recorded matrix is the real thing: thousands of verdicts, both ways."""
    verdicts = [v for v, _ in _matrix()]
    assert verdicts.count("Y") > 1000
    assert verdicts.count("n") > 2000
    assert verdicts.count("m") < 60


def test_nothing_flink_accepts_is_rejected() -> None:
    """It raises no error on any expression Flink 2.3 accepted."""
    wrong = [(expr, _errors(expr)) for verdict, expr in _matrix() if verdict == "Y" and _errors(expr)]
    assert wrong == []


def test_what_flink_rejects_is_rejected() -> None:
    """It raises an error on every expression Flink 2.3 rejected, except the recorded misses."""
    missed = [expr for verdict, expr in _matrix() if verdict == "n" and not _errors(expr)]
    assert missed == []


# The tester's repros (one mapping each) and Flink's verdict on them, with the message we give.
REJECTED = [
    ("CASE WHEN payload.code = 1 THEN 'a' END", "= cannot compare payload.code STRING with 1 INT"),
    ("CONCAT(payload.price, 'x')", "CONCAT argument 1 (payload.price) is DECIMAL(38, 18)"),
    ("SUBSTRING(payload.qty, 1, 2)", "SUBSTRING argument 1 (payload.qty) is INT"),
    ("UPPER(payload.qty)", "accepts only a character string"),
    ("DATE_FORMAT(payload.qty, 'yyyy')", "a character string, TIMESTAMP or TIMESTAMP_LTZ"),
    ("TO_TIMESTAMP_LTZ(payload.code, 3)", "TO_TIMESTAMP_LTZ(<string>, '<format>')"),
    ("COALESCE(payload.price, 'x')", "COALESCE values have no common type"),
    ("IF(payload.qty > 0, 1, 'x')", "IF branch values have no common type"),
    ("CASE WHEN payload.code IN ('A', 1) THEN 'a' END", "IN list values have no common type"),
    ("CASE WHEN payload.qty LIKE '1%' THEN 'a' END", "LIKE argument 1 (payload.qty) is INT"),
    ("payload.code || payload.qty", "|| argument 2 (payload.qty) is INT"),
    ("IF(payload.urgent, NULL, payload.qty)", "untyped NULL"),
    ("CONCAT(payload.code, NULL)", "CONCAT argument 2 (NULL) is an untyped NULL"),
    ("SUBSTRING(payload.code, payload.ratio)", "accepts only an integer"),
    ("NOT payload.qty", "NOT needs a BOOLEAN operand"),
    ("payload.qty IS TRUE", "IS TRUE needs a BOOLEAN operand"),
    ("payload.qty < t.ts", "< cannot compare"),
    ("t.d BETWEEN t.ts AND t.ts", "BETWEEN cannot compare"),
    ("NULLIF(payload.code, 0)", "NULLIF cannot compare"),
    ("CASE payload.qty WHEN 'a' THEN 1 END", "CASE cannot compare"),
    ("CASE WHEN payload.urgent THEN t.d ELSE t.ts END", "CASE branch values have no common type"),
    ("MY_UDF(payload.code)", "unknown function MY_UDF"),
    ("1e400", "numeric literal 1E400 is out of range: it overflows DOUBLE"),
    ("-1E400 < payload.ratio", "overflows DOUBLE"),
]


@pytest.mark.parametrize(("text", "fragment"), REJECTED)
def test_rejected_with_a_precise_message(text: str, fragment: str) -> None:
    """It rejects each type error Flink reports, naming the operand, its type and what fits."""
    errors = _errors(text)
    assert any(fragment in e for e in errors), errors


ACCEPTED = [
    "CASE WHEN payload.price BETWEEN 'a' AND 'z' THEN 'a' END",  # Calcite converts the string
    "CASE WHEN payload.urgent = 'true' THEN 'a' END",
    "payload.code < payload.qty",
    "payload.code IN (1, 2)",
    "payload.qty IN (1, 2.5, NULL)",
    "t.ts = payload.code",
    "t.ts = t.ltz",
    "COALESCE(t.d, t.ts)",
    "TO_TIMESTAMP_LTZ(payload.code)",
    "TO_TIMESTAMP_LTZ(payload.code, 'yyyy-MM-dd HH:mm:ss')",
    "TO_TIMESTAMP_LTZ(payload.code, 'yyyy-MM-dd HH:mm:ss', 'UTC')",
    "TO_TIMESTAMP_LTZ(payload.price, 3)",
    "DATE_FORMAT(payload.code, 'yyyy')",
    "CONCAT(payload.code, CAST(NULL AS STRING))",
    "IF(payload.urgent, CAST(NULL AS INT), payload.qty)",
    "1e-400",
    "1.7976931348623157E308",
    "TO_BASE64(payload.code)",  # a Flink built-in outside the checker's catalog
    "JSON_QUERY(payload.code, '$.a')",
    "UPPER(t.vc) || t.ch",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted_like_flink(text: str) -> None:
    """It accepts what Flink accepts, the implicit conversions Flink does make included."""
    assert _errors(text) == []


def _orders_with(mapping: str) -> str:
    text = ORDERS.read_text(encoding="utf-8")
    old = '  channel: "payload.channel"\n'
    assert old in text
    return text.replace(old, f'  channel: "{mapping}"\n')


def _line_of_channel(text: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if re.match(r"\s+channel: ", line))


@pytest.mark.parametrize(
    ("mapping", "code", "hint"),
    [
        ("UPPER(payload.itemCount)", "expressions.type", "CAST the operand"),
        ("MY_UDF(payload.channel)", "expressions.unknown_function", "Flink built-in function"),
        ("UPPER(payload.channel, payload.channel)", "expressions.arity", "number of arguments"),
        ("CAST(1e400 AS STRING)", "expressions.literal", "a value the type can hold"),
    ],
)
def test_document_issue_names_the_kind_line_and_column(mapping: str, code: str, hint: str) -> None:
    """Through check: the issue has its own code and hint per kind, the mapping's document line
    and the result column's name."""
    text = _orders_with(mapping)
    result = check_document(text)
    assert not result.valid
    issues = [e for e in result.errors if e.code == code]
    assert len(issues) == 1, [e.render() for e in result.errors]
    assert hint in issues[0].hint
    assert issues[0].line == _line_of_channel(text)
    assert issues[0].name == "channel"
    assert issues[0].block == "field_mapping"


def test_unknown_references_keep_their_own_codes_and_hints() -> None:
    """An unknown payload field or alias is a reference error with a reference hint, never the
    type hint about CASTing arguments."""
    for mapping, code in (
        ("UPPER(payload.nope)", "references.unknown_payload_field"),
        ("UPPER(dim9.shop_name)", "references.unknown_alias"),
    ):
        result = check_document(_orders_with(mapping))
        codes = {e.code for e in result.errors}
        assert code in codes, [e.render() for e in result.errors]
        assert "expressions.type" not in codes
        assert all("CAST" not in e.hint for e in result.errors)


def test_no_follow_on_reference_errors_without_a_payload_class() -> None:
    """A payload class without fields is reported once; its field references are not reported
    again as unknown (they were, with the type hint about CASTing arguments)."""
    text = re.sub(
        r"```java\n.*?```", "```java\npublic class OrderPayload {\n}\n```", ORDERS.read_text(), flags=re.S
    )
    result = check_document(text)
    codes = [e.code for e in result.errors]
    assert "payload.no_fields" in codes
    assert not any("payload field" in e.message for e in result.errors), [e.render() for e in result.errors]


# CAST of text fails the job on a value that does not parse (Flink 2.3, run on PyFlink: DECIMAL,
# INT, BOOLEAN, DATE, TIMESTAMP); TRY_CAST gives NULL; BIGINT -> INT narrowing wraps, no failure.
@pytest.mark.parametrize(
    ("text", "warned"),
    [
        ("CAST(payload.code AS DECIMAL(10, 2))", True),
        ("CAST(payload.code AS INT)", True),
        ("CAST(payload.code AS BOOLEAN)", True),
        ("CAST(t.vc AS DATE)", True),
        ("CAST(UPPER(payload.code) AS TIMESTAMP(3))", True),
        ("TRY_CAST(payload.code AS INT)", False),
        ("CAST('2025-01-01' AS DATE)", False),  # a literal: Flink checks it when planning
        ("CAST(payload.code AS VARCHAR(5))", False),
        ("CAST(payload.big AS INT)", False),
        ("CAST(payload.price AS DECIMAL(12, 2))", False),
    ],
)
def test_cast_of_text_warns_that_a_bad_event_fails_the_job(text: str, warned: bool) -> None:
    """It warns (not rejects) on a CAST that raises at run time on unparsable text."""
    analysis = analyze(parse_expression(text), ENV)
    assert analysis.errors == []
    warnings = [p for p in analysis.problems if p.kind == "cast_may_fail"]
    assert [p.level for p in warnings] == (["warning"] if warned else [])
    if warned:
        assert "fails the job" in warnings[0].message


def test_cast_warning_through_check_has_its_hint_and_line() -> None:
    """Through check: a warning with code, TRY_CAST hint, line and column; still valid."""
    text = _orders_with("CAST(payload.userId AS INT)")
    result = check_document(text)
    found = [w for w in result.warnings if w.code == "expressions.cast_may_fail"]
    assert len(found) == 1, [w.render() for w in result.warnings]
    assert "TRY_CAST" in found[0].hint
    assert found[0].line == _line_of_channel(text)
    assert found[0].name == "channel"


def test_result_column_cast_warning_helper() -> None:
    """warn_result_cast (for check_mappings): a STRING mapping into a DECIMAL column warns with a
    TRY_CAST hint; a numeric mapping or a string column does not."""
    where = Where("field_mapping", 58, "amount", multiline=True)
    issues = Issues()
    assert warn_result_cast(JAVA_TO_FLINK["String"], parse_type("DECIMAL(12, 2)"), where, issues)
    assert not warn_result_cast(JAVA_TO_FLINK["BigDecimal"], parse_type("DECIMAL(12, 2)"), where, issues)
    assert not warn_result_cast(JAVA_TO_FLINK["String"], parse_type("VARCHAR(10)"), where, issues)
    assert not warn_result_cast(None, parse_type("INT"), where, issues)
    [warning] = issues.warnings
    assert (warning.code, warning.line, warning.name) == ("types.cast_may_fail", 58, "amount")
    assert "TRY_CAST(<expression> AS DECIMAL(12, 2))" in warning.hint
    assert issues.errors == []
