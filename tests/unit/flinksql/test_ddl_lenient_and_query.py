"""The kernel read leniently, as the validator reads any job: statements with positions, SETs,
CREATE TABLE options (and their rewrite) and the parts of an INSERT."""

from __future__ import annotations

from services.flinksql.ddl import CreateTable, Option, read_create_table, rewrite_options
from services.flinksql.lexer import tokenize
from services.flinksql.query import insert_target, strip_for_system_time, table_references
from services.flinksql.statements import error_position, parse_set, split_statements


def parse_create_table(text: str) -> CreateTable:
    return read_create_table(text, strict=False)


SCRIPT = """-- header comment; not a statement
SET 'table.local-time-zone' = 'Asia/Shanghai';
SET 'pipeline.name' = 'a;b';

/* a block comment ; with a semicolon */
CREATE TABLE `we;ird` (
  `a` STRING COMMENT 'x;y',  -- trailing ; comment
  `b``c` INT
) WITH ('connector' = 'datagen');
INSERT INTO `we;ird` SELECT 'it''s; fine', 1;   SELECT "dq;x"
"""


def test_splits_respecting_quotes_comments_and_reports_lines() -> None:
    """It cuts only at top-level semicolons and keeps each statement's start line and column."""
    statements = split_statements(SCRIPT)
    assert [s.kind for s in statements] == ["SET", "SET", "CREATE_TABLE", "INSERT", "QUERY"]
    assert [s.line for s in statements] == [2, 3, 6, 10, 10]
    assert statements[4].column == 49
    assert statements[1].text == "SET 'pipeline.name' = 'a;b'"
    assert statements[2].text.startswith("CREATE TABLE `we;ird` (")
    assert statements[2].text.endswith("WITH ('connector' = 'datagen')")
    assert statements[2].end_line == 9
    assert statements[3].text == "INSERT INTO `we;ird` SELECT 'it''s; fine', 1"
    assert [s.index for s in statements] == [0, 1, 2, 3, 4]


def test_drops_empty_and_comment_only_pieces() -> None:
    """It ignores empty statements and pieces that hold only comments or whitespace."""
    assert split_statements(";;\n  -- only a comment\n;/* x */;  \n") == []
    assert [s.text for s in split_statements("SELECT 1;;SELECT 2")] == ["SELECT 1", "SELECT 2"]


def test_keeps_unterminated_literals_for_the_engine_to_report() -> None:
    """It does not split inside an unterminated string: the engine reports the real error."""
    statements = split_statements("SELECT 'abc; def\nSELECT 2;", strict=False)
    assert len(statements) == 1
    assert tokenize("'abc", strict=False)[0].terminated is False


def test_keeps_an_execute_statement_set_together() -> None:
    """It keeps EXECUTE STATEMENT SET BEGIN ... END as one statement."""
    script = "EXECUTE STATEMENT SET BEGIN\nINSERT INTO a SELECT 1;\nINSERT INTO b SELECT 2;\nEND;\nSELECT 3;"
    statements = split_statements(script)
    assert [s.kind for s in statements] == ["STATEMENT_SET", "QUERY"]
    assert statements[0].text.endswith("END")
    assert statements[1].line == 5


def test_maps_statement_positions_to_script_positions() -> None:
    """It maps an engine's (line, column) inside a statement back to the script."""
    stmt = split_statements("\n\n   SELECT x\nFROM t")[0]
    assert (stmt.line, stmt.column) == (3, 4)
    assert stmt.script_position(1, 8) == (3, 11)
    assert stmt.script_position(2, 6) == (4, 6)
    assert error_position("From line 2, column 6 to line 2, column 9: Column 'x' not found") == (2, 6)
    assert error_position('Encountered "FROM" at line 1, column 20.') == (1, 20)
    assert error_position("no position here") is None


def test_reads_set_statements() -> None:
    """It reads quoted and unquoted SET statements and unescapes quotes."""
    assert parse_set("SET 'table.local-time-zone' = 'Asia/Shanghai'") == (
        "table.local-time-zone",
        "Asia/Shanghai",
    )
    assert parse_set("SET 'k' = 'it''s'") == ("k", "it's")
    assert parse_set("SET table.exec.mini-batch.enabled = true") == ("table.exec.mini-batch.enabled", "true")
    assert parse_set("SET") is None


DDL = """CREATE TABLE `vvp`.`default`.`dim_shop` (
    `shop_id` STRING NOT NULL COMMENT '店铺ID',
    `amount` DECIMAL(12, 2),
    `tags` ARRAY<ROW<`k` STRING NOT NULL, `v` INT>> NOT NULL,
    `proc_time` AS PROCTIME(),
    `ts` TIMESTAMP(3) WITH LOCAL TIME ZONE,
    WATERMARK FOR `ts` AS `ts` - INTERVAL '5' SECOND,
    PRIMARY KEY (shop_id) NOT ENFORCED
) COMMENT '店铺维表'
WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:mysql://h:3306/db',
    'password' = '${secret:PW}'
)"""


def test_parses_create_table_names_columns_keys_and_options() -> None:
    """It reads a qualified name, physical/computed columns, the primary key and the options."""
    table = parse_create_table(DDL)
    assert table.name_parts == ("vvp", "default", "dim_shop")
    assert table.name == "dim_shop"
    assert [c.name for c in table.columns] == ["shop_id", "amount", "tags", "proc_time", "ts"]
    assert table.columns[0].not_null and table.columns[0].comment == "店铺ID"
    assert table.columns[1].type_text == "DECIMAL(12, 2)"
    assert table.columns[2].type_text == "ARRAY<ROW<`k` STRING NOT NULL, `v` INT>>"
    assert table.columns[2].not_null
    assert table.columns[3].computed == "PROCTIME()" and not table.columns[3].physical
    assert table.columns[4].type_text == "TIMESTAMP(3) WITH LOCAL TIME ZONE"
    assert table.primary_key == ("shop_id",)
    assert table.option_map == {
        "connector": "jdbc",
        "url": "jdbc:mysql://h:3306/db",
        "password": "${secret:PW}",
    }
    assert table.extras == ("WATERMARK FOR `ts` AS `ts` - INTERVAL '5' SECOND",)


def test_rewrites_options_and_keeps_the_line_count() -> None:
    """It replaces the WITH clause (quoting values) and keeps every line where it was."""
    table = parse_create_table(DDL)
    new = rewrite_options(DDL, table, [Option("connector", "blackhole"), Option("x", "it's")])
    assert new.count("\n") == DDL.count("\n")
    assert "WITH ('connector' = 'blackhole', 'x' = 'it''s'" in new
    assert parse_create_table(new).option_map == {"connector": "blackhole", "x": "it's"}
    bare = "CREATE TABLE t (a INT)"
    assert parse_create_table(
        rewrite_options(bare, parse_create_table(bare), [Option("connector", "print")])
    ).option_map == {"connector": "print"}


INSERT = """INSERT INTO `vvp`.`default`.`dwd` (a, b)
SELECT e.x, dim1.y
FROM `BusinessEvent` AS e
LEFT JOIN `dim_shop` FOR SYSTEM_TIME AS OF `e`.`proc_time` AS `dim1` ON dim1.k = e.k
JOIN dim_city FOR SYSTEM_TIME AS OF PROCTIME() AS dim2 ON dim2.c = dim1.c
WHERE e.domain = 'FROM x JOIN y'"""


def test_finds_insert_target_and_lookup_tables() -> None:
    """It names the INSERT target and tells lookup joins from scanned tables."""
    assert insert_target(INSERT) == ("vvp", "default", "dwd")
    refs = table_references(INSERT)
    assert [(r.name, r.lookup) for r in refs] == [
        ("BusinessEvent", False),
        ("dim_shop", True),
        ("dim_city", True),
    ]


def test_strips_for_system_time_clauses() -> None:
    """It turns lookup joins into regular joins and keeps the line structure."""
    text, removed = strip_for_system_time(INSERT)
    assert removed == 2
    assert "SYSTEM_TIME" not in text
    assert "LEFT JOIN `dim_shop`  AS `dim1` ON" in text
    assert "JOIN dim_city  AS dim2 ON" in text
    assert text.count("\n") == INSERT.count("\n")
