"""The kernel's CREATE TABLE reader in strict mode: what a request document may declare."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.flinksql.ddl import DdlError, read_create_table
from services.flinksql.sqltypes import parse_type

parse_create_table = read_create_table

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _example_ddls() -> dict[str, str]:
    out: dict[str, str] = {}
    for doc in sorted(EXAMPLES.glob("*/*-request-v3.md")):
        for block in re.findall(r"```sql\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            table = parse_create_table(block)
            out[table.name] = block
    return out


def test_all_example_ddls_parse() -> None:
    """It parses all eight DDL blocks of the three example requests."""
    ddls = _example_ddls()
    assert set(ddls) == {
        "dim_shop",
        "dim_city",
        "dwd_order_wide",
        "dim_merchant",
        "dim_user_account",
        "dwd_payment_wide",
        "dim_user_profile",
        "dws_user_activity_daily",
    }


def test_example_order_wide() -> None:
    """It reads columns, types, NOT NULL, comments, primary key, options and the table comment."""
    table = parse_create_table(_example_ddls()["dwd_order_wide"])
    assert table.name_parts == ("vvp", "default", "dwd_order_wide")
    assert table.name == "dwd_order_wide"
    assert [c.name for c in table.columns][:3] == ["order_id", "user_id", "shop_id"]
    assert len(table.columns) == 13
    by = {c.name: c for c in table.columns}
    assert by["order_id"].not_null and by["order_id"].type.sql() == "STRING NOT NULL"
    assert by["order_amount"].type == parse_type("DECIMAL(12, 2)")
    assert by["order_time"].type.sql() == "TIMESTAMP(3)"
    assert by["order_id"].comment == "订单号"
    assert by["order_id"].line == 2
    assert table.primary_key == ("order_id",)
    assert table.option_map == {
        "connector": "odps",
        "project": "trade_dw",
        "tableName": "dwd_order_wide",
        "sink.operation": "upsert",
    }
    assert table.comment == "订单明细宽表"


def test_example_composite_key_and_options_order() -> None:
    """It keeps a composite primary key in order and the WITH options in order."""
    table = parse_create_table(_example_ddls()["dws_user_activity_daily"])
    assert table.primary_key == ("stat_date", "user_id")
    assert [o.key for o in table.options] == ["connector", "url", "table-name", "username"]
    dim = parse_create_table(_example_ddls()["dim_merchant"])
    assert dim.option_map["lookup.cache"] == "PARTIAL"
    assert dim.column("IS_BLACKLISTED") is not None
    assert dim.column("is_blacklisted").type.sql() == "BOOLEAN"  # type: ignore[union-attr]


def test_features() -> None:
    """It accepts comments, backquote escapes, column-level keys, IF NOT EXISTS and no WITH clause."""
    sql = """-- leading comment
    create table if not exists t (
        /* block */ a INT PRIMARY KEY NOT ENFORCED,
        `b` decimal(10,2) comment 'it''s',  -- trailing
        c ARRAY<STRING>,
        d TIMESTAMP(3) WITH LOCAL TIME ZONE
    )
    """
    table = parse_create_table(sql)
    assert table.if_not_exists
    assert table.name_parts == ("t",)
    assert table.primary_key == ("a",)
    assert table.columns[0].not_null and not table.columns[0].type.nullable
    assert table.columns[1].comment == "it's"
    assert table.columns[3].type.sql() == "TIMESTAMP_LTZ(3)"
    assert table.columns[2].line == 5
    assert table.option_map == {}


def test_option_value_escapes_and_partitioned_by() -> None:
    """It unescapes doubled quotes in options and keeps PARTITIONED BY columns."""
    table = parse_create_table(
        "CREATE TABLE db.t (a STRING, dt STRING) PARTITIONED BY (dt) WITH ('k' = 'it''s', 'p' = '')"
    )
    assert table.option_map == {"k": "it's", "p": ""}
    assert table.partitioned_by == ("dt",)
    assert table.name_parts == ("db", "t")


def test_primary_key_columns_become_not_null() -> None:
    """It marks primary-key columns NOT NULL as Flink does."""
    table = parse_create_table("CREATE TABLE t (a STRING, b INT, PRIMARY KEY (a) NOT ENFORCED)")
    assert table.columns[0].not_null
    assert table.columns[0].type.sql() == "STRING NOT NULL"
    assert not table.columns[1].not_null


BAD = [
    ("SELECT 1", "not a CREATE TABLE", 1, None),
    ("CREATE VIEW v AS SELECT 1", "not a CREATE TABLE", 1, None),
    ("", "empty", 1, None),
    ("CREATE TABLE t (a INT); CREATE TABLE u (b INT)", "more than one statement", 1, "t"),
    ("CREATE TABLE t (a INT); DROP TABLE x", "more than one statement", 1, "t"),
    ("CREATE TABLE t (\n a INT,\n b AS a + 1\n)", "computed column", 3, "b"),
    ("CREATE TABLE t (\n a INT,\n ts TIMESTAMP(3) METADATA FROM 'timestamp'\n)", "METADATA column", 3, "ts"),
    ("CREATE TABLE t (\n a INT,\n ts TIMESTAMP(3),\n WATERMARK FOR ts AS ts\n)", "WATERMARK", 4, "t"),
    ("CREATE TABLE t (a INT) LIKE src", "LIKE", 1, "t"),
    ("CREATE TABLE t LIKE src", "LIKE", 1, "t"),
    ("CREATE TABLE t AS SELECT 1", "AS", 1, "t"),
    ("CREATE TABLE t (\n a INT,\n A STRING\n)", "duplicate column", 3, "A"),
    ("CREATE TABLE t (a INT) WITH ('k' = '1',\n 'k' = '2')", "duplicate option key", 2, "k"),
    ("CREATE TABLE t (a INT, PRIMARY KEY (b) NOT ENFORCED)", "not a column of the table", 1, "b"),
    ("CREATE TABLE t (a INT, PRIMARY KEY (a))", "NOT ENFORCED", 1, "t"),
    ("CREATE TABLE t (a INT PRIMARY KEY)", "NOT ENFORCED", 1, "t"),
    (
        "CREATE TABLE t (a INT, b INT, PRIMARY KEY (a) NOT ENFORCED, PRIMARY KEY (b) NOT ENFORCED)",
        "more than one",
        1,
        "t",
    ),
    ("CREATE TABLE t (a INT COMMENT 'x)", "unterminated string", 1, None),
    ("CREATE TABLE `t (a INT)", "unterminated identifier", 1, None),
    ("CREATE TABLE `bad-name` (a INT)", "invalid table name", 1, "bad-name"),
    ("CREATE TABLE t (`a b` INT)", "invalid column name", 1, "a b"),
    ("CREATE TABLE t (`x``; DROP TABLE y` INT)", "invalid column name", 1, "x`; DROP TABLE y"),
    ("CREATE TABLE t (订单 INT)", "invalid column name", 1, "订单"),
    ("CREATE TABLE t (\n a FOO\n)", "unknown type FOO", 2, "a"),
    ("CREATE TABLE t (a DECIMAL(40, 2))", "precision must be between 1 and 38", 1, "a"),
    ("CREATE TABLE t (a VARCHAR(0))", "length must be between", 1, "a"),
    ("CREATE TABLE a.b.c.d (x INT)", "at most 3 parts", 1, "d"),
    ("CREATE TABLE t (a INT) WITH (connector = 'jdbc')", "option key as a quoted string", 1, "t"),
    ("CREATE TABLE t (a INT) WITH ('connector' = jdbc)", "quoted string", 1, "t"),
    ("CREATE TABLE t ()", "at least one column", 1, "t"),
    ("CREATE TABLE t (a INT", "unexpected end of text", 1, "a"),
    ("CREATE TABLE t (a INT) PARTITIONED BY (zz)", "partition column", 1, "zz"),
    ("CREATE TABLE t (a INT) /* open", "unterminated /* comment", 1, None),
    ("CREATE TABLE t (a INT, UNIQUE (a))", "UNIQUE constraints", 1, "t"),
    ("CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a) INTO 4 BUCKETS", "DISTRIBUTED", 1, "t"),
    ("CREATE TABLE t (a INT NOT ENFORCED)", "unexpected 'NOT'", 1, "a"),
]


@pytest.mark.parametrize(("sql", "fragment", "line", "name"), BAD)
def test_rejects(sql: str, fragment: str, line: int, name: str | None) -> None:
    """It rejects malformed or unsupported DDL with a precise message, line and name."""
    with pytest.raises(DdlError) as info:
        parse_create_table(sql)
    assert fragment in info.value.message
    assert info.value.line == line
    assert info.value.name == name
