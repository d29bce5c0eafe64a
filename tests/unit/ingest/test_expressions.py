"""Scalar expressions: parse, render, analyse; hostile input."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.flinksql import expr as ex
from services.flinksql.ddl import read_create_table as parse_create_table
from services.flinksql.sqltypes import JAVA_TO_FLINK, can_cast, insert_assignable, parse_type
from services.ingest.domain.expressions import ExpressionError, TypeEnv, analyze, parse_expression

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def col_sql(column: ex.Column) -> str:
    return f"`{column.qualifier}`.`{column.name}`"


def round_trip(e: ex.Expr) -> str:
    text = ex.render(e, col_sql)
    assert parse_expression(text) == e, text
    assert ex.render(parse_expression(text), col_sql) == text
    assert ex.ExprHolder.model_validate_json(ex.ExprHolder(expr=e).model_dump_json()).expr == e
    return text


# ---------------------------------------------------------------- the examples


class Example:
    def __init__(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        self.blocks: dict[str, object] = {}
        for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
            self.blocks.update(yaml.safe_load(block))
        java = re.search(r"```java\n(.*?)```", text, re.S)
        assert java
        payload = {
            name: JAVA_TO_FLINK.get(jtype)
            for jtype, name in re.findall(r"private (\w+) (\w+);", java.group(1))
        }
        aliases: dict[str, dict[str, object]] = {}
        self.result = None
        for heading, ddl in re.findall(r"###[^\n]*?(维表\d+|表名)[^\n]*\n.*?```sql\n(.*?)```", text, re.S):
            table = parse_create_table(ddl)
            if heading.startswith("维表"):
                aliases["dim" + heading[2:]] = {c.name: c.type for c in table.columns}
            else:
                self.result = table
        self.env = TypeEnv(payload=payload, aliases=aliases)

    def expressions(self) -> list[tuple[str, str]]:
        out = [(f"mapping {k}", str(v)) for k, v in self.blocks["field_mapping"].items()]  # type: ignore[attr-defined]
        special = self.blocks.get("special_conditions") or {}
        out += [("filter", f) for f in special.get("data_filters", [])]  # type: ignore[attr-defined]
        out += [(f"rule {k}", r["condition"]) for k, r in (special.get("business_rules") or {}).items()]  # type: ignore[attr-defined]
        for name, join in (self.blocks.get("join_relationships") or {}).items():  # type: ignore[attr-defined]
            if join.get("additional_condition"):
                out.append((f"join {name}", join["additional_condition"]))
        return out


def _examples() -> list[Example]:
    return [Example(p) for p in sorted(EXAMPLES.glob("*/*-request-v3.md"))] if EXAMPLES.is_dir() else []


def test_every_example_expression_round_trips_and_types() -> None:
    """It parses every mapping, filter, rule and join condition of the examples, renders text that
    re-parses to the same AST, infers a type without errors, and each mapping fits its column."""
    count = 0
    for example in _examples():
        assert example.result is not None
        columns = {c.name: c.type for c in example.result.columns}
        for where, text in example.expressions():
            parsed = parse_expression(text)
            round_trip(parsed)
            analysis = analyze(parsed, example.env)
            assert analysis.errors == [], (where, analysis.problems)
            assert analysis.type is not None, where
            if where.startswith("mapping "):
                target = columns[where.removeprefix("mapping ")]
                assert insert_assignable(analysis.type, target) or can_cast(analysis.type, target), where
            else:
                assert analysis.type.root == "BOOLEAN", where
                assert not analysis.has_aggregate
            count += 1
    assert count >= 45


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "CAST(payload.orderAmount - COALESCE(payload.discountAmount, 0) AS DECIMAL(12, 2))",
            "DECIMAL(12, 2)",
        ),
        ("TO_TIMESTAMP_LTZ(payload.createdAt, 3)", "TIMESTAMP_LTZ(3)"),
        ("payload.orderAmount - COALESCE(payload.discountAmount, 0)", "DECIMAL(38, 17)"),
        ("COALESCE(dim1.shop_name, '未知店铺')", "STRING NOT NULL"),
        ("payload.itemCount", "INT"),
        ("payload.orderStatus IN (1, 2, 3)", "BOOLEAN"),
        ("payload.orderId IS NOT NULL", "BOOLEAN NOT NULL"),
        ("payload.orderAmount * 2", "DECIMAL(38, 7)"),
        ("payload.itemCount + payload.createdAt", "BIGINT"),
        ("payload.itemCount / 2", "INT"),
        ("payload.itemCount * 1.5E0", "DOUBLE"),
        ("payload.channel || '-' || payload.userId", "STRING"),
        ("SUM(payload.itemCount)", "INT"),
        ("SUM(payload.orderAmount)", "DECIMAL(38, 18)"),
        ("AVG(payload.itemCount)", "INT"),
        ("COUNT(DISTINCT payload.userId)", "BIGINT NOT NULL"),
        ("MAX(payload.createdAt)", "BIGINT"),
        ("CAST(TO_TIMESTAMP_LTZ(payload.createdAt, 3) AS DATE)", "DATE"),
        ("DATE_FORMAT(TO_TIMESTAMP_LTZ(payload.createdAt, 3), 'yyyy-MM-dd')", "STRING"),
        ("EXTRACT(HOUR FROM TO_TIMESTAMP_LTZ(payload.createdAt, 3))", "BIGINT"),
        ("TIMESTAMPADD(DAY, 1, TO_TIMESTAMP(payload.channel))", "TIMESTAMP(3)"),
        ("CURRENT_TIMESTAMP", "TIMESTAMP_LTZ(3) NOT NULL"),
        ("CASE WHEN payload.itemCount > 1 THEN 'many' ELSE 'one' END", "VARCHAR(4) NOT NULL"),
        ("CASE WHEN payload.itemCount > 1 THEN 1 END", "INT"),
        ("ROUND(payload.orderAmount, 2)", "DECIMAL(23, 2)"),
        ("1 + 2.50", "DECIMAL(13, 2) NOT NULL"),
        ("TRY_CAST(payload.channel AS INT)", "INT"),
        ("IF(payload.itemCount > 0, payload.itemCount, 0)", "INT"),
        ("CHAR_LENGTH(payload.channel)", "INT"),
        ("DATE '2025-01-01' + INTERVAL '1' DAY", "DATE NOT NULL"),
    ],
)
def test_inferred_types(text: str, expected: str) -> None:
    """It infers Flink's result types for literals, arithmetic, built-ins and aggregates."""
    env = _examples()[0].env  # orders
    analysis = analyze(parse_expression(text), env)
    assert analysis.errors == []
    assert analysis.type is not None
    assert analysis.type.sql() == expected


ENV = TypeEnv(
    payload={
        "a": JAVA_TO_FLINK["Integer"],
        "d": JAVA_TO_FLINK["BigDecimal"],
        "s": JAVA_TO_FLINK["String"],
        "l": None,
    },
    aliases={"dim1": {"x": parse_type("INT"), "value": parse_type("STRING")}},
)


@pytest.mark.parametrize(
    ("text", "fragment", "name"),
    [
        ("payload.zz", "unknown payload field", "zz"),
        ("payload.A", "did you mean payload.a", "A"),
        ("payload.l", "unsupported Java type", "l"),
        ("dim2.x", "unknown alias", "dim2"),
        ("dim1.y", "unknown column", "y"),
        ("SUM(MAX(payload.a))", "nested inside another aggregate", "MAX"),
        ("payload.a + SUM(payload.a)", "mix aggregates", "a"),
        ("COALESCE()", "takes at least 1 argument", "COALESCE"),
        ("NULLIF(payload.a)", "takes 2 argument", "NULLIF"),
        ("CAST(TO_TIMESTAMP_LTZ(payload.a, 3) AS INT)", "is not supported by Flink", "CAST"),
        ("SUM(payload.s)", "needs a numeric argument", "SUM"),
        ("payload.s + 1", "cannot be applied", None),
        ("payload.a AND TRUE", "needs BOOLEAN operands", None),
        ("CASE WHEN payload.a THEN 1 END", "must be BOOLEAN", None),
        ("CASE WHEN TRUE THEN 1 ELSE DATE '2025-01-01' END", "incompatible types", None),
    ],
)
def test_analysis_problems(text: str, fragment: str, name: str | None) -> None:
    """It reports reference, aggregation, arity and type problems as errors."""
    analysis = analyze(parse_expression(text), ENV)
    messages = [p for p in analysis.errors if fragment in p.message]
    assert messages, analysis.problems
    if name is not None:
        assert messages[0].name == name


def test_builtin_outside_the_catalog_is_info_only() -> None:
    """It gives a Flink built-in it has no rule for type None and an info note, not an error."""
    analysis = analyze(parse_expression("TO_BASE64(payload.s)"), ENV)
    assert analysis.type is None
    assert analysis.errors == []
    assert [p.level for p in analysis.problems] == ["info"]


def test_unknown_function_is_an_error() -> None:
    """It rejects a function Flink does not have: a request cannot register a UDF."""
    analysis = analyze(parse_expression("MY_UDF(payload.a)"), ENV)
    assert [(p.level, p.kind, p.name) for p in analysis.problems] == [("error", "unknown_function", "MY_UDF")]


def test_reserved_word_columns() -> None:
    """It accepts reserved words as qualified column names, backquoted or not."""
    assert parse_expression("dim1.`value`") == ex.Column(qualifier="dim1", name="value")
    assert parse_expression("payload.from") == ex.Column(qualifier="payload", name="from")
    assert analyze(parse_expression("UPPER(dim1.`value`)"), ENV).errors == []


def test_nondeterministic_and_divisions() -> None:
    """It flags non-deterministic functions and divisions without a zero guard."""
    a = analyze(parse_expression("CASE WHEN NOW() > CURRENT_TIMESTAMP THEN RAND() END"), ENV)
    assert a.nondeterministic == ["CURRENT_TIMESTAMP", "NOW", "RAND"]
    assert len(analyze(parse_expression("payload.d / payload.a"), ENV).unguarded_divisions) == 1
    assert len(analyze(parse_expression("payload.d / 0"), ENV).unguarded_divisions) == 1
    for guarded in [
        "payload.d / 100",
        "payload.d / NULLIF(payload.a, 0)",
        "CASE WHEN payload.a > 0 THEN payload.d / payload.a ELSE 0 END",
        "CASE WHEN payload.a <> 0 THEN payload.d / payload.a END",
        "IF(payload.a <> 0, payload.d / payload.a, NULL)",
        "payload.d / CAST(NULLIF(payload.a, 0) AS DECIMAL(10, 2))",
    ]:
        assert analyze(parse_expression(guarded), ENV).unguarded_divisions == [], guarded
    assert analyze(parse_expression("UNIX_TIMESTAMP(payload.s)"), ENV).nondeterministic == []


def test_helpers() -> None:
    """It walks pre-order and lists columns and aggregate calls."""
    parsed = parse_expression("SUM(payload.a) + COUNT(*) + MAX(dim1.x)")
    assert [c.name for c in ex.columns(parsed)] == ["a", "x"]
    assert [c.name for c in ex.aggregate_calls(parsed)] == ["SUM", "COUNT", "MAX"]
    assert isinstance(next(ex.walk(parsed)), ex.Binary)


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("a.b != 1", "(`a`.`b` <> 1)"),
        ("a.b % 2", "MOD(`a`.`b`, 2)"),
        ("NOT a.b = 1 AND a.c", "((NOT (`a`.`b` = 1)) AND `a`.`c`)"),
        ("a.b OR a.c AND a.d", "(`a`.`b` OR (`a`.`c` AND `a`.`d`))"),
        ("1 + 2 * 3", "(1 + (2 * 3))"),
        ("'x' || 'y' = 'xy'", "(('x' || 'y') = 'xy')"),
        ("-(2)", "(- (2))"),
        ("-2", "-2"),
        ("'it''s'", "'it''s'"),
        ("a.b NOT BETWEEN SYMMETRIC 1 AND 2", "(`a`.`b` NOT BETWEEN SYMMETRIC 1 AND 2)"),
        ("a.b NOT LIKE 'a!%' ESCAPE '!'", "(`a`.`b` NOT LIKE 'a!%' ESCAPE '!')"),
        ("a.b SIMILAR TO 'x+'", "(`a`.`b` SIMILAR TO 'x+')"),
        ("a.b IS NOT TRUE", "(`a`.`b` IS NOT TRUE)"),
        ("a.b IS DISTINCT FROM 1", "(`a`.`b` IS DISTINCT FROM 1)"),
        ("a.b NOT IN ('x', 'y')", "(`a`.`b` NOT IN ('x', 'y'))"),
        ("extract(day from a.t)", "EXTRACT(DAY FROM `a`.`t`)"),
        ("TRIM(a.s)", "TRIM(BOTH ' ' FROM `a`.`s`)"),
        ("trim(trailing 'x' from a.s)", "TRIM(TRAILING 'x' FROM `a`.`s`)"),
        ("POSITION('a' IN a.s)", "POSITION('a' IN `a`.`s`)"),
        ("SUBSTRING(a.s FROM 2 FOR 3)", "SUBSTRING(`a`.`s` FROM 2 FOR 3)"),
        ("SUBSTRING(a.s, 2)", "SUBSTRING(`a`.`s` FROM 2)"),
        ("substr(a.s, 2, 1)", "SUBSTR(`a`.`s`, 2, 1)"),
        ("CEILING(a.t TO HOUR)", "CEIL(`a`.`t` TO HOUR)"),
        ("current_date", "CURRENT_DATE"),
        ("LOCALTIMESTAMP", "LOCALTIMESTAMP"),
        ("now()", "NOW()"),
        ("INTERVAL '1-2' YEAR TO MONTH", "INTERVAL '1-2' YEAR TO MONTH"),
        ("TIMESTAMP '2025-01-01 00:00:00.123'", "TIMESTAMP '2025-01-01 00:00:00.123'"),
        ("CAST(a.b AS TIMESTAMP(3) WITH LOCAL TIME ZONE)", "CAST(`a`.`b` AS TIMESTAMP_LTZ(3))"),
        ("TRY_CAST(a.b AS dec(5,1))", "TRY_CAST(`a`.`b` AS DECIMAL(5, 1))"),
        ("count(all a.b)", "COUNT(`a`.`b`)"),
        ("CASE a.b WHEN 1 THEN 'x' END", "CASE `a`.`b` WHEN 1 THEN 'x' END"),
        (".5e-3", "0.5E-3".replace("0.5", ".5")),
    ],
)
def test_render_canonical(text: str, rendered: str) -> None:
    """It renders canonical, fully parenthesised Flink SQL that re-parses to the same AST."""
    parsed = parse_expression(text)
    assert round_trip(parsed) == rendered


def test_render_refuses_unsafe_names() -> None:
    """It refuses to render a function name or number text that could inject SQL."""
    with pytest.raises(ex.RenderError):
        ex.render(ex.Call(name="X(1); DROP TABLE t; --"), col_sql)
    with pytest.raises(ex.RenderError):
        ex.render(ex.NumberLit(text="1; DROP"), col_sql)
    assert ex.render(ex.StringLit(value="'); DROP TABLE t; --"), col_sql) == "'''); DROP TABLE t; --'"


REJECTED = [
    ("1); DROP TABLE x; --", "';' is not allowed", None),
    ("payload.a; payload.b", "';' is not allowed", None),
    ("'a' || (SELECT secret FROM t)", "SELECT is not allowed", "SELECT"),
    ("payload.a IN (SELECT 1)", "SELECT is not allowed", "SELECT"),
    ("(WITH x AS (SELECT 1) SELECT 1)", "WITH is not allowed", "WITH"),
    ("payload.a FROM t", "FROM is not allowed", "FROM"),
    ("payload.a UNION payload.b", "UNION is not allowed", "UNION"),
    ("DROP TABLE t", "DROP is not allowed", "DROP"),
    ("EXISTS (SELECT 1)", "EXISTS is not allowed", "EXISTS"),
    ("payload.a -- comment", "comments are not allowed", None),
    ("payload.a /* c */", "comments are not allowed", None),
    ("'abc", "unterminated string literal", None),
    ("dim1.`abc", "unterminated backquoted identifier", None),
    ("orderId", "bare column name", "orderId"),
    ("UPPER(orderId)", "payload.orderId", "orderId"),
    ("payload.", "expected a column name after 'payload.'", "payload"),
    ("dim1.x.y.z", "exactly two parts", "dim1.x"),
    ("payload.`a b`", "invalid name", "a b"),
    ("payload.`1a`", "invalid name", "1a"),
    ("", "empty expression", None),
    ("   ", "empty expression", None),
    ("(payload.a", "missing ')'", None),
    ("payload.a)", "unexpected ')'", None),
    ("payload.a payload.b", "after the expression", None),
    ("1 +", "operand is missing", None),
    ('"a"', "double quotes", None),
    ("payload.a{1}", "unexpected character", None),  # a[1] is element access (test_expr_collections)
    ("SUM(*)", "only allowed in COUNT(*)", None),
    ("payload.*", "expected a column name", "payload"),
    ("CAST(payload.a AS FOO)", "invalid CAST target type", None),
    ("CAST(payload.a AS DECIMAL(50))", "precision must be between 1 and 38", None),
    ("CASE WHEN payload.a THEN 1", "CASE without END", None),
    ("CASE END", "at least one WHEN", None),
    ("EXTRACT(FORTNIGHT FROM payload.t)", "expected a time unit", None),
    ("INTERVAL 1 DAY", "quoted value after INTERVAL", None),
    ("12abc", "malformed number", None),
    ("a.b(1)", "qualified function names", "a"),
    ("payload.a IS 5", "expected NULL, TRUE, FALSE or UNKNOWN", None),
    ("AND", "unexpected keyword AND", "AND"),
    ("UPPER(DISTINCT payload.s)", "unexpected keyword DISTINCT", "DISTINCT"),
    ("(" * 100 + "1" + ")" * 100, "nested too deeply", None),
    ("NOT " * 100 + "TRUE", "nested too deeply", None),
    ("x" * 30000, "too long", None),
]


@pytest.mark.parametrize(("text", "fragment", "name"), REJECTED)
def test_rejected_expressions(text: str, fragment: str, name: str | None) -> None:
    """It rejects statements, injections, comments, bare names and malformed text precisely."""
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    assert fragment in info.value.message
    assert info.value.name == name
    assert 0 <= info.value.offset <= len(text)


def test_injection_inside_string_is_just_text() -> None:
    """It keeps SQL-looking text inside a string literal as data."""
    parsed = parse_expression("payload.s = '1); DROP TABLE x; -- /* SELECT'")
    assert isinstance(parsed, ex.Binary)
    assert parsed.right == ex.StringLit(value="1); DROP TABLE x; -- /* SELECT")


# ---------------------------------------------------------------- property tests

_ALPHABET = st.sampled_from(
    [
        *list("abcxyzABC_019 .,()'`\"*+-/%<>=!|;\n\t[]"),
        "--",
        "/*",
        "SELECT",
        "payload.",
        "CASE",
        "WHEN",
        "END",
        "é",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(_ALPHABET, max_size=60).map("".join)))
def test_arbitrary_text_only_raises_expression_error(text: str) -> None:
    """It never raises anything but ExpressionError and never takes more than a second."""
    start = time.monotonic()
    with contextlib.suppress(ExpressionError):
        parse_expression(text)
    assert time.monotonic() - start < 1.0


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
_TYPES = st.sampled_from(
    ["INT", "STRING", "DECIMAL(12, 2)", "TIMESTAMP_LTZ(3)", "ARRAY<INT NOT NULL>", "ROW<`a` INT>"]
)
_LEAVES = st.one_of(
    st.builds(ex.NumberLit, text=st.from_regex(r"-?[0-9]{1,5}(\.[0-9]{1,3})?", fullmatch=True)),
    st.builds(ex.ApproxLit, text=st.from_regex(r"[0-9]\.[0-9]E-?[0-9]", fullmatch=True)),
    st.builds(ex.StringLit, value=st.text(max_size=8)),
    st.builds(ex.BoolLit, value=st.booleans()),
    st.just(ex.NullLit()),
    st.builds(ex.Column, qualifier=_NAMES, name=_NAMES),
    st.builds(ex.TypedLit, type_name=st.just("DATE"), value=st.just("2025-01-01")),
    st.builds(ex.IntervalLit, value=st.just("1"), unit=st.sampled_from(["DAY", "HOUR"])),
    st.just(ex.Call(name="CURRENT_TIMESTAMP")),
    st.just(ex.Call(name="COUNT", star=True)),
)


def _extend(children: st.SearchStrategy[ex.Expr]) -> st.SearchStrategy[ex.Expr]:
    binary_ops = st.sampled_from(
        ["+", "-", "*", "/", "||", "=", "<>", "<", ">=", "AND", "OR", "IS DISTINCT FROM"]
    )
    return st.one_of(
        st.builds(ex.Binary, op=binary_ops, left=children, right=children),
        st.builds(ex.Unary, op=st.sampled_from(["NOT", "-", "+"]), operand=children),
        st.builds(ex.IsTest, operand=children, test=st.sampled_from(["NULL", "TRUE"]), negated=st.booleans()),
        st.builds(ex.Between, operand=children, low=children, high=children, negated=st.booleans()),
        st.builds(ex.InList, operand=children, items=st.lists(children, min_size=1, max_size=3).map(tuple)),
        st.builds(ex.Like, operand=children, pattern=children, negated=st.booleans()),
        st.builds(
            ex.Call,
            name=st.sampled_from(["COALESCE", "UPPER", "MY_FN"]),
            args=st.lists(children, min_size=1, max_size=3).map(tuple),
        ),
        st.builds(ex.Call, name=st.just("SUM"), args=st.tuples(children), distinct=st.booleans()),
        st.builds(ex.Cast, expr=children, type=_TYPES.map(parse_type), safe=st.booleans()),
        st.builds(
            ex.Case,
            operand=st.none() | children,
            whens=st.lists(
                st.builds(ex.When, condition=children, result=children), min_size=1, max_size=2
            ).map(tuple),
            default=st.none() | children,
        ),
        st.builds(ex.Call, name=st.just("EXTRACT"), args=st.tuples(st.just(ex.Symbol(name="DAY")), children)),
        st.builds(ex.Call, name=st.just("SUBSTRING"), args=st.tuples(children, children)),
    )


@settings(max_examples=300, deadline=None)
@given(st.recursive(_LEAVES, _extend, max_leaves=12))
def test_generated_ast_round_trips(tree: ex.Expr) -> None:
    """It renders any AST to text that parses back to the same AST (and the same text)."""
    try:
        round_trip(tree)
    except ExpressionError as exc:
        # Only the nesting limit may stop a generated tree.
        assert "nested too deeply" in exc.message
