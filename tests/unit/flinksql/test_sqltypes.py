"""Flink data types: parsing, normalisation, cast and assignment rules."""

from __future__ import annotations

import pytest

from services.flinksql.lexer import significant, tokenize
from services.flinksql.sqltypes import (
    JAVA_TO_FLINK,
    FlinkType,
    TypeSyntaxError,
    can_cast,
    common_type,
    family,
    insert_assignable,
    join_key_compatible,
    parse_type,
    read_type,
)

P = parse_type

NORMALISATION = [
    ("STRING", "STRING"),
    ("string", "STRING"),
    ("VARCHAR(2147483647)", "STRING"),
    ("VARCHAR(20)", "VARCHAR(20)"),
    ("VARCHAR", "VARCHAR(1)"),
    ("CHAR", "CHAR(1)"),
    ("CHARACTER(3)", "CHAR(3)"),
    ("CHARACTER VARYING(8)", "VARCHAR(8)"),
    ("BOOLEAN", "BOOLEAN"),
    ("TINYINT", "TINYINT"),
    ("SMALLINT", "SMALLINT"),
    ("INTEGER", "INT"),
    ("int", "INT"),
    ("BIGINT", "BIGINT"),
    ("REAL", "FLOAT"),
    ("FLOAT", "FLOAT"),
    ("DOUBLE PRECISION", "DOUBLE"),
    ("DOUBLE", "DOUBLE"),
    ("DECIMAL", "DECIMAL(10, 0)"),
    ("DEC(5)", "DECIMAL(5, 0)"),
    ("NUMERIC(12,2)", "DECIMAL(12, 2)"),
    ("decimal( 38 , 18 )", "DECIMAL(38, 18)"),
    ("DATE", "DATE"),
    ("TIME", "TIME(0)"),
    ("TIME(3) WITHOUT TIME ZONE", "TIME(3)"),
    ("TIMESTAMP", "TIMESTAMP(6)"),
    ("TIMESTAMP(3)", "TIMESTAMP(3)"),
    ("TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP(6)"),
    ("TIMESTAMP(3) WITH LOCAL TIME ZONE", "TIMESTAMP_LTZ(3)"),
    ("TIMESTAMP WITH LOCAL TIME ZONE", "TIMESTAMP_LTZ(6)"),
    ("TIMESTAMP_LTZ(3)", "TIMESTAMP_LTZ(3)"),
    ("BYTES", "BYTES"),
    ("VARBINARY(2147483647)", "BYTES"),
    ("BINARY(4)", "BINARY(4)"),
    ("INT NOT NULL", "INT NOT NULL"),
    ("INT NULL", "INT"),
    ("ARRAY<INT>", "ARRAY<INT>"),
    ("INT ARRAY", "ARRAY<INT>"),
    ("ARRAY<STRING NOT NULL> NOT NULL", "ARRAY<STRING NOT NULL> NOT NULL"),
    ("MULTISET<BIGINT>", "MULTISET<BIGINT>"),
    ("MAP<STRING, DECIMAL(10, 2)>", "MAP<STRING, DECIMAL(10, 2)>"),
    ("ROW<a INT, `b c` STRING>", "ROW<`a` INT, `b c` STRING>"),
    ("ROW(a INT, b STRING 'desc')", "ROW<`a` INT, `b` STRING 'desc'>"),
    ("INTERVAL DAY TO SECOND(3)", "INTERVAL DAY TO SECOND(3)"),
    ("INTERVAL YEAR TO MONTH", "INTERVAL YEAR TO MONTH"),
    ("NULL", "NULL"),
]


@pytest.mark.parametrize(("text", "canonical"), NORMALISATION)
def test_parse_normalises(text: str, canonical: str) -> None:
    """It parses type text, normalises aliases and renders canonical SQL that re-parses equal."""
    parsed = P(text)
    assert parsed.sql() == canonical
    assert P(parsed.sql()) == parsed


def test_string_equals_max_varchar() -> None:
    """It treats STRING and VARCHAR(2147483647) as the same type, and BYTES as VARBINARY(max)."""
    assert P("STRING") == P("VARCHAR(2147483647)")
    assert P("BYTES") == P("VARBINARY(2147483647)")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("DECIMAL(39, 2)", "precision must be between 1 and 38"),
        ("DECIMAL(0)", "precision must be between 1 and 38"),
        ("DECIMAL(5, 6)", "scale must be between 0 and the precision"),
        ("TIMESTAMP(10)", "precision must be between 0 and 9"),
        ("TIME(12)", "precision must be between 0 and 9"),
        ("VARCHAR(0)", "length must be between 1"),
        ("CHAR(0)", "length must be between 1"),
        ("VARCHAR2(10)", "unknown type VARCHAR2"),
        ("JSON", "unknown type JSON"),
        ("TIMESTAMP WITH TIME ZONE", "not supported"),
        ("ARRAY<INT", "expected '>'"),
        ("MAP<INT>", "expected ','"),
        ("INT extra", "unexpected text"),
        ("", "expected a type name"),
        ("DECIMAL(99999999999999)", "out of range"),
        ("ROW<a INT, A STRING>", "duplicate ROW field"),
    ],
)
def test_parse_rejects(text: str, fragment: str) -> None:
    """It rejects unknown types and out-of-range parameters with a precise message."""
    with pytest.raises(TypeSyntaxError) as info:
        P(text)
    assert fragment in info.value.message


def test_parse_rejects_deep_nesting() -> None:
    """It stops on absurdly nested types instead of recursing without bound."""
    with pytest.raises(TypeSyntaxError, match="nested too deeply"):
        P("ARRAY<" * 200 + "INT" + ">" * 200)


def test_error_offset_points_at_fault() -> None:
    """It reports the offset of the faulty part of the text."""
    with pytest.raises(TypeSyntaxError) as info:
        P("MAP<STRING, FOO>")
    assert info.value.offset == 12


def test_read_type_leaves_column_constraint() -> None:
    """It reads a type from the kernel's tokens and leaves a DDL NOT NULL unread when asked."""
    tokens = significant(tokenize("x DECIMAL(12, 2) NOT NULL COMMENT 'a'"))
    parsed, i = read_type(tokens, 1, allow_nullability=False)
    assert parsed == P("DECIMAL(12, 2)")
    assert [t.text for t in tokens[i : i + 2]] == ["NOT", "NULL"]
    parsed, i = read_type(tokens, 1, allow_nullability=True)
    assert parsed == P("DECIMAL(12, 2) NOT NULL") and tokens[i].text == "COMMENT"


def test_family() -> None:
    """It classifies types into families."""
    assert family(P("VARCHAR(3)")) == "character"
    assert family(P("BYTES")) == "binary"
    assert family(P("DECIMAL(3, 1)")) == "exact_numeric"
    assert family(P("DOUBLE")) == "approx_numeric"
    assert family(P("TIMESTAMP_LTZ(3)")) == "timestamp"
    assert family(P("ARRAY<INT>")) == "collection"
    assert family(P("ROW<a INT>")) == "row"
    assert family(P("INTERVAL DAY")) == "interval"


@pytest.mark.parametrize(
    ("src", "dst", "ok"),
    [
        ("TIMESTAMP_LTZ(3)", "INT", False),
        ("TIMESTAMP_LTZ(3)", "BIGINT", False),
        ("BIGINT", "TIMESTAMP(3)", False),
        ("BIGINT", "TIMESTAMP_LTZ(3)", False),
        ("TIMESTAMP_LTZ(3)", "TIMESTAMP(3)", True),
        ("TIMESTAMP_LTZ(3)", "DATE", True),
        ("TIMESTAMP_LTZ(3)", "STRING", True),
        ("TIMESTAMP(3)", "TIMESTAMP_LTZ(3)", True),
        ("DATE", "TIMESTAMP(3)", True),
        ("DATE", "TIME(0)", False),
        ("DATE", "INT", False),
        ("INT", "STRING", True),
        ("STRING", "INT", True),
        ("STRING", "DECIMAL(12, 2)", True),
        ("STRING", "TIMESTAMP(3)", True),
        ("STRING", "ARRAY<INT>", False),
        ("STRING", "BYTES", True),
        ("BYTES", "STRING", True),
        ("BYTES", "INT", False),
        ("BOOLEAN", "INT", True),
        ("INT", "BOOLEAN", True),
        ("DECIMAL(38, 18)", "DECIMAL(12, 2)", True),
        ("DOUBLE", "DECIMAL(10, 2)", True),
        ("ARRAY<INT>", "ARRAY<STRING>", True),
        ("ARRAY<DATE>", "ARRAY<INT>", False),
        ("ARRAY<INT>", "STRING", True),
        ("MAP<STRING, INT>", "MAP<STRING, BIGINT>", True),
        ("ROW<a INT>", "ROW<b BIGINT>", True),
        ("ROW<a INT>", "ROW<a INT, b INT>", False),
        ("NULL", "DATE", True),
        ("INT", "INTERVAL YEAR TO MONTH", True),
        ("BOOLEAN", "DATE", False),
    ],
)
def test_can_cast(src: str, dst: str, ok: bool) -> None:
    """It follows Flink's explicit CAST matrix."""
    assert can_cast(P(src), P(dst)) is ok


@pytest.mark.parametrize(
    ("src", "dst", "ok"),
    [
        ("INT", "INT", True),
        ("INT NOT NULL", "INT", True),
        ("INT", "INT NOT NULL", True),
        ("TINYINT", "BIGINT", True),
        ("BIGINT", "INT", False),
        ("INT", "DECIMAL(10, 0)", True),
        ("INT", "DECIMAL(12, 2)", True),
        ("INT", "DECIMAL(9, 0)", False),
        ("BIGINT", "DECIMAL(38, 18)", True),
        ("DECIMAL(10, 2)", "DECIMAL(12, 2)", True),
        ("DECIMAL(10, 2)", "DECIMAL(12, 4)", True),
        ("DECIMAL(38, 18)", "DECIMAL(12, 2)", False),
        ("DECIMAL(12, 2)", "DECIMAL(12, 3)", False),
        ("DECIMAL(12, 2)", "INT", False),
        ("FLOAT", "DOUBLE", True),
        ("DOUBLE", "FLOAT", False),
        ("INT", "DOUBLE", True),
        ("DOUBLE", "DECIMAL(12, 2)", False),
        ("CHAR(4)", "STRING", True),
        ("VARCHAR(4)", "VARCHAR(10)", True),
        ("VARCHAR(10)", "VARCHAR(4)", False),
        ("STRING", "VARCHAR(20)", False),
        ("STRING", "CHAR(4)", False),
        ("TIMESTAMP(3)", "TIMESTAMP(6)", True),
        ("TIMESTAMP(6)", "TIMESTAMP(3)", False),
        ("TIMESTAMP_LTZ(3)", "TIMESTAMP(3)", False),
        ("DATE", "TIMESTAMP(3)", False),
        ("INT", "STRING", False),
        ("NULL", "DATE", True),
        ("ARRAY<INT>", "ARRAY<INT> NOT NULL", True),
    ],
)
def test_insert_assignable(src: str, dst: str, ok: bool) -> None:
    """It accepts only value-preserving widening into a result column without CAST."""
    assert insert_assignable(P(src), P(dst)) is ok


@pytest.mark.parametrize(
    ("a", "b", "ok"),
    [
        ("STRING", "VARCHAR(10)", True),
        ("CHAR(3)", "STRING", True),
        ("INT", "BIGINT", True),
        ("DECIMAL(10, 2)", "DOUBLE", True),
        ("STRING", "INT", False),
        ("DATE", "DATE NOT NULL", True),
        ("DATE", "TIMESTAMP(3)", False),
        ("BOOLEAN", "INT", False),
    ],
)
def test_join_key_compatible(a: str, b: str, ok: bool) -> None:
    """It allows join keys that are both character, both numeric, or equal types."""
    assert join_key_compatible(P(a), P(b)) is ok


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["INT", "BIGINT"], "BIGINT"),
        (["INT NOT NULL", "INT NOT NULL"], "INT NOT NULL"),
        (["INT", "DECIMAL(12, 2)"], "DECIMAL(12, 2)"),
        (["BIGINT", "DECIMAL(5, 2)"], "DECIMAL(21, 2)"),
        (["DECIMAL(38, 18)", "INT NOT NULL"], "DECIMAL(38, 18)"),
        (["INT", "DOUBLE"], "DOUBLE"),
        (["CHAR(2) NOT NULL", "CHAR(4) NOT NULL"], "VARCHAR(4) NOT NULL"),
        (["CHAR(2) NOT NULL", "CHAR(2) NOT NULL"], "CHAR(2) NOT NULL"),
        (["STRING", "CHAR(4) NOT NULL"], "STRING"),
        (["NULL", "INT NOT NULL"], "INT"),
        (["TIMESTAMP(3)", "TIMESTAMP(6)"], "TIMESTAMP(6)"),
        (["DATE", "TIMESTAMP(3)"], "TIMESTAMP(3)"),
        (["BOOLEAN NOT NULL", "BOOLEAN"], "BOOLEAN"),
        (["STRING", "INT"], None),
        (["DATE", "BOOLEAN"], None),
    ],
)
def test_common_type(types: list[str], expected: str | None) -> None:
    """It finds the least restrictive type, or None for incompatible types."""
    result = common_type([P(t) for t in types])
    assert (None if result is None else result.sql()) == expected


def test_java_mapping() -> None:
    """It maps the payload Java classes of format §2, always nullable."""
    assert JAVA_TO_FLINK["BigDecimal"].sql() == "DECIMAL(38, 18)"
    assert JAVA_TO_FLINK["long"].sql() == "BIGINT"
    assert JAVA_TO_FLINK["Integer"] == JAVA_TO_FLINK["int"] == P("INT")
    assert JAVA_TO_FLINK["Byte"].sql() == "TINYINT"
    assert JAVA_TO_FLINK["String"].sql() == "STRING"
    assert "List" not in JAVA_TO_FLINK


@pytest.mark.parametrize(
    "text", ["MAP<STRING, ROW<a INT NOT NULL, `b``q` ARRAY<DECIMAL(5, 1)>>>", "TIMESTAMP_LTZ(3)"]
)
def test_json_round_trip(text: str) -> None:
    """It round-trips a type through JSON unchanged."""
    parsed = P(text)
    assert FlinkType.model_validate_json(parsed.model_dump_json()) == parsed


def test_row_field_name_is_quoted_safely() -> None:
    """It doubles backquotes in ROW field names so the rendered type cannot break out."""
    parsed = P("ROW<`a``b` INT>")
    assert parsed.sql() == "ROW<`a``b` INT>"
    assert parsed.fields[0].name == "a`b"
