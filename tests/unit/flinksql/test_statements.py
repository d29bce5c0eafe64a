"""The kernel's splitter: statements cut at semicolons outside literals and comments."""

from __future__ import annotations

import pytest

from services.flinksql.lexer import LexError, TokenKind, tokenize
from services.flinksql.statements import StatementKind, script_digest, split_statements

SCRIPT = """-- source
CREATE TEMPORARY TABLE src (id STRING, note STRING) WITH ('connector' = 'datagen', 'x' = 'a;b');
CREATE TEMPORARY TABLE sink (id STRING) WITH ('connector' = 'blackhole') -- after the last token
;
/* the job; */
INSERT INTO sink SELECT id /* inner; */ FROM src WHERE note <> ';';
-- only a comment;
"""


def test_statements_span_their_tokens_by_default() -> None:
    """It cuts only at top-level semicolons; a statement's text runs from its first token to its last."""
    statements = split_statements(SCRIPT)
    assert [s.text for s in statements] == [
        "CREATE TEMPORARY TABLE src (id STRING, note STRING) WITH ('connector' = 'datagen', 'x' = 'a;b')",
        "CREATE TEMPORARY TABLE sink (id STRING) WITH ('connector' = 'blackhole')",
        "INSERT INTO sink SELECT id /* inner; */ FROM src WHERE note <> ';'",
    ]
    assert statements[0].tokens[0].value == "CREATE" and statements[2].tokens[-1].value == ";"


def test_keep_comments_keeps_what_stands_between_the_semicolons() -> None:
    """It keeps the comments before a statement (and after its last token) in its text."""
    statements = split_statements(SCRIPT, keep_comments=True)
    assert [s.text.splitlines()[0] for s in statements] == [
        "-- source",
        "CREATE TEMPORARY TABLE sink (id STRING) WITH ('connector' = 'blackhole') -- after the last token",
        "/* the job; */",
    ]
    assert statements[2].text.endswith("WHERE note <> ';'")
    # The tokens are the same either way: only the text differs.
    assert [s.tokens for s in statements] == [s.tokens for s in split_statements(SCRIPT)]


@pytest.mark.parametrize("keep_comments", [False, True])
def test_empty_and_comment_only_pieces_are_dropped(keep_comments: bool) -> None:
    """It returns no statement for empty pieces or pieces holding only comments and whitespace."""
    assert split_statements(";;\n  -- only a comment\n;/* x */;  \n", keep_comments=keep_comments) == []
    texts = [s.text for s in split_statements("SELECT 1;;SELECT 2", keep_comments=keep_comments)]
    assert texts == ["SELECT 1", "SELECT 2"]


@pytest.mark.parametrize(
    ("script", "text"),
    [
        ("SELECT 'abc; def\nSELECT 2;", "SELECT 'abc; def\nSELECT 2;"),
        ("SELECT `x; 1", "SELECT `x; 1"),
        ("SELECT 1 /* open; ...", "SELECT 1"),
    ],
)
def test_unterminated_text_raises_unless_lenient(script: str, text: str) -> None:
    """It raises on an unterminated literal or comment; strict=False lets it run to the end instead."""
    with pytest.raises(LexError):
        split_statements(script)
    assert [s.text for s in split_statements(script, strict=False)] == [text]
    assert [s.text for s in split_statements(script, strict=False, keep_comments=True)] == [script]
    [literal] = tokenize("'abc", strict=False)
    assert (literal.kind, literal.value, literal.end) == (TokenKind.STRING, "abc", 4)


@pytest.mark.parametrize(
    ("text", "kind", "job"),
    [
        ("INSERT INTO t SELECT 1", StatementKind.INSERT, True),
        ("-- why\n/* how */ insert into t SELECT 1", StatementKind.INSERT, True),
        ("EXECUTE STATEMENT SET BEGIN INSERT INTO t SELECT 1; END", StatementKind.STATEMENT_SET, True),
        ("EXECUTE INSERT INTO t SELECT 1", StatementKind.INSERT, True),
        ("CREATE TABLE t (a INT)", StatementKind.CREATE_TABLE, False),
        ("SELECT 'INSERT'", StatementKind.QUERY, False),
        ("SET 'pipeline.name' = 'x'", StatementKind.SET, False),
        ("ADD JAR '/tmp/x.jar'", StatementKind.ADD_JAR, False),
        ("load module hive", StatementKind.LOAD_MODULE, False),
        ("CREATE TEMPORARY SYSTEM FUNCTION f AS 'x'", StatementKind.CREATE_FUNCTION, False),
        ("CREATE CATALOG c WITH ('type' = 'x')", StatementKind.CREATE_CATALOG, False),
        ("DROP TABLE t", StatementKind.DROP, False),
        ("ALTER TABLE t RENAME TO u", StatementKind.ALTER, False),
        ("USE CATALOG c", StatementKind.USE, False),
        ("CREATE MODEL m", StatementKind.CREATE_OTHER, False),
        ("CALL sys.p()", StatementKind.OTHER, False),
    ],
)
def test_statement_kinds_are_recognised(text: str, kind: StatementKind, job: bool) -> None:
    """It names every statement kind a job may hold (comments before it allowed) and which start a job."""
    statement = split_statements(text, keep_comments=True)[0]
    assert (statement.kind, statement.submits_job) == (kind, job)


def test_the_digest_ignores_layout_and_catches_every_token_edit() -> None:
    """It gives one digest per statement list: comments and whitespace do not count, any token does."""
    base = "SET 'a' = 'b';\nINSERT INTO t SELECT 1 FROM s"
    same = "-- why\nSET  'a'='b' ;\n\n/* note */ INSERT INTO t\r\nSELECT 1 FROM s;"
    assert script_digest(base) == script_digest(same)
    assert script_digest(base).startswith("sha256:") and len(script_digest(base)) == 71
    for edited in (
        "SET 'a' = 'c';\nINSERT INTO t SELECT 1 FROM s",
        "SET 'a' = 'b';\nINSERT INTO t SELECT 2 FROM s",
        "SET 'a' = 'b';\nINSERT INTO t /*+ OPTIONS('x'='y') */ SELECT 1 FROM s",
        "SET 'a' = 'b';INSERT INTO t SELECT 1 FROM s; DROP TABLE s",
        "SET 'a' = 'b' INSERT INTO t SELECT 1 FROM s",  # the same tokens, one statement fewer
    ):
        assert script_digest(edited) != script_digest(base), edited
