"""ARRAY[...] / MAP[...] constructors, ROW(...) and element access `a[i]` / `m[k]`: parsed into
calls, rendered back as Flink SQL, typed as PyFlink 2.3 types them (TYPEOF), checked end to end."""

from __future__ import annotations

import pytest

from services.flinksql import collection_types as ct
from services.flinksql import sqltypes as st
from services.flinksql.expr import Call, Column, ExprHolder, columns, render
from services.flinksql.expr_parse import ExpressionError, parse_expression
from services.ingest.domain.checks import check_document


def _sql(text: str) -> str:
    return render(parse_expression(text), lambda c: f"`ev`.`{c.name}`")


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        ("ARRAY[payload.a, 'x']", "ARRAY[`ev`.`a`, 'x']"),
        ("array [1]", "ARRAY[1]"),
        ("MAP['level', payload.n, 'k', 2]", "MAP['level', `ev`.`n`, 'k', 2]"),
        ("ROW(payload.a, 1)", "ROW(`ev`.`a`, 1)"),
        ("SPLIT(payload.s, ',')[1]", "(SPLIT(`ev`.`s`, ','))[1]"),
        ("MAP['k', 1]['k'] IS NULL", "((MAP['k', 1])['k'] IS NULL)"),
        ("-ARRAY[1, 2][payload.n + 1] * 3", "((- (ARRAY[1, 2])[(`ev`.`n` + 1)]) * 3)"),
        ("ARRAY[ARRAY[1]][1][1]", "((ARRAY[ARRAY[1]])[1])[1]"),
    ],
)
def test_constructors_and_element_access_render_as_flink_sql(text: str, sql: str) -> None:
    """It parses the bracket syntax (binding `[...]` tighter than any operator) and renders it back."""
    assert _sql(text) == sql


def test_the_ast_is_plain_calls_and_round_trips_through_json() -> None:
    """It keeps constructors and element access as calls (ARRAY, MAP, ITEM), serialisable like any expression."""
    expr = parse_expression("MAP['k', ARRAY[payload.a]]['k'][1]")
    assert isinstance(expr, Call)
    assert expr.name == "ITEM"
    inner = expr.args[0]
    assert isinstance(inner, Call)
    assert inner.name == "ITEM"
    assert isinstance(inner.args[0], Call)
    assert inner.args[0].name == "MAP"
    assert ExprHolder.model_validate_json(ExprHolder(expr=expr).model_dump_json()).expr == expr
    assert columns(expr) == [Column(qualifier="payload", name="a")]


@pytest.mark.parametrize(
    ("text", "fragment", "offset"),
    [
        ("ARRAY[]", "ARRAY[] needs at least one element", 6),
        ("MAP[]", "MAP[] needs at least one key and one value", 4),
        ("1 + MAP['a', 1, 'b']", "MAP[...] takes keys and values in pairs", 4),
        ("ARRAY(1, 2)", "ARRAY(...) is not a Flink value constructor: write ARRAY[...]", 0),
        ("1 + ITEM(ARRAY[1], 1)", "ITEM(...) is not a Flink SQL function: write <array>[<index>]", 4),
        ("payload.a[]", "expected an index or a key between '[' and ']'", 10),
        ("ARRAY[1, 2", "expected ']' closing ARRAY[", 10),
        ("SPLIT(payload.s, ',')[1", "expected ']' closing the element access", 23),
        ("payload.a]", "unexpected ']' after the expression", 9),
    ],
)
def test_malformed_brackets_are_refused_precisely(text: str, fragment: str, offset: int) -> None:
    """It refuses empty, unpaired, unclosed and parenthesised constructors with what to write instead."""
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    assert fragment in info.value.message
    assert info.value.offset == offset


NN_INT = st.simple("INT", False)


@pytest.mark.parametrize(
    ("rule", "args", "sql"),
    [
        # figures from PyFlink 2.3: SELECT TYPEOF(<expr>, TRUE)
        (ct.array_type, [st.char(1, False), st.char(2, False)], "ARRAY<VARCHAR(2) NOT NULL> NOT NULL"),
        (ct.array_type, [NN_INT, st.NULL], "ARRAY<INT> NOT NULL"),
        (ct.array_type, [NN_INT, st.decimal(2, 1, False)], "ARRAY<DECIMAL(11, 1) NOT NULL> NOT NULL"),
        (ct.array_type, [st.STRING, st.char(1, False)], "ARRAY<STRING> NOT NULL"),
        (ct.map_type, [st.char(5, False), NN_INT], "MAP<CHAR(5) NOT NULL, INT NOT NULL> NOT NULL"),
        (
            ct.map_type,
            [st.char(1, False), NN_INT, st.char(1, False), st.INT],
            "MAP<CHAR(1) NOT NULL, INT> NOT NULL",
        ),
        (
            ct.row_type,
            [NN_INT, st.char(1, False)],
            "ROW<`EXPR$0` INT NOT NULL, `EXPR$1` CHAR(1) NOT NULL> NOT NULL",
        ),
        (ct.item_type, [st.parse_type("ARRAY<INT NOT NULL> NOT NULL"), NN_INT], "INT"),
        (ct.item_type, [st.parse_type("MAP<STRING, DOUBLE NOT NULL>"), st.STRING], "DOUBLE"),
    ],
)
def test_result_types_follow_flink(rule: ct.Rule, args: list[st.FlinkType], sql: str) -> None:
    """It types constructors from their elements' common type (NOT NULL) and element access as nullable."""
    result = rule(args)
    assert result is not None
    assert result.sql() == sql


@pytest.mark.parametrize(
    ("rule", "args"),
    [
        (ct.array_type, [NN_INT, st.STRING]),  # Flink: "Parameters must be of the same type"
        (ct.array_type, [NN_INT, None]),
        (ct.array_type, [st.NULL]),
        (ct.map_type, [st.STRING]),
        (ct.row_type, [NN_INT, st.NULL]),
        (ct.item_type, [st.STRING, NN_INT]),
        (ct.item_type, [None, NN_INT]),
    ],
)
def test_result_type_is_unknown_when_flink_would_not_say(
    rule: ct.Rule, args: list[st.FlinkType | None]
) -> None:
    """It gives no type for incompatible or unknown elements and for indexing a non-collection."""
    assert rule(args) is None


DOC = """# probe

## Job info
```yaml
job_info:
  name: "probe"
  domain: "probe"
  event_type: "probe_evt"
  time_zone: "Asia/Kolkata"
```

## Source
```java
public class P {
    private Long id;
    private String s;
    private Integer n;
}
```

## Result table
```sql
CREATE TABLE r (
    k BIGINT NOT NULL,
    tags ARRAY<STRING>,
    attrs MAP<STRING, INT>,
    pair ROW<a STRING, b INT>,
    first_tag STRING,
    PRIMARY KEY (k) NOT ENFORCED
) WITH ('connector' = 'print');
```

## Field mapping
```yaml
field_mapping:
  k: "payload.id"
  tags: "ARRAY[payload.s, 'x']"
  attrs: "MAP['n', payload.n]"
  pair: "ROW(payload.s, payload.n)"
  first_tag: "ARRAY[payload.s, 'x'][2]"
```

## Special conditions
```yaml
special_conditions:
  data_filters:
    - "ARRAY[payload.n, 2][1] > 0 AND MAP['k', payload.s]['k'] IS NOT NULL"
    - "SPLIT(payload.s, ',')[1] <> ''"
```
"""


def test_check_accepts_constructors_with_their_types() -> None:
    """It accepts constructors and element access in mappings and filters and records their Flink types."""
    result = check_document(DOC)
    assert result.errors == []
    assert result.spec is not None
    types = {m.column: m.expression.type for m in result.spec.mappings}
    assert types["tags"] is not None
    assert types["tags"].sql() == "ARRAY<STRING> NOT NULL"
    assert types["attrs"] is not None
    assert types["attrs"].sql() == "MAP<CHAR(1) NOT NULL, INT> NOT NULL"
    assert types["pair"] is not None
    assert types["pair"].root == "ROW"
    assert types["first_tag"] == st.STRING
    assert len(result.spec.filters) == 2


def test_check_rejects_a_mapping_whose_constructor_cannot_be_cast_to_the_column() -> None:
    """It rejects an ARRAY<INT> mapping into a MAP column with both types in the message."""
    text = DOC.replace("attrs: \"MAP['n', payload.n]\"", 'attrs: "ARRAY[payload.n]"')
    messages = [e.message for e in check_document(text).errors if e.name == "attrs"]
    assert messages == ["mapping type ARRAY<INT> NOT NULL cannot be CAST to column type MAP<STRING, INT>"]
