"""The kernel's one lexer: Flink's lexical rules, positions, strict and lenient modes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.flinksql.artifacts import ArtifactLayout, BadDomain
from services.flinksql.lexer import LexError, TokenKind, tokenize
from services.flinksql.quoting import quote_identifier, quote_string
from services.flinksql.statements import StatementKind, split_statements, statement_set_members


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_a_line_comment_ends_at_any_line_break(newline: str) -> None:
    """It ends `--` and `//` comments at \\r as Flink does, so the SQL after one is live."""
    for opener in ("--", "//"):
        script = f"SELECT 1 {opener} note{newline}; DROP TABLE t"
        statements = split_statements(script)
        assert [s.kind for s in statements] == [StatementKind.QUERY, StatementKind.DROP]


def test_block_comments_do_not_nest_and_hints_belong_to_the_statement() -> None:
    """It ends a block comment at the first */ (a doc comment's after `/**x`), and reads a hint
    as one significant token whose literals may hold `*/`."""
    tokens = tokenize("a /* x /* y */ b */ c /*+ OPTIONS('k'='*/') */ d /***/ e */ f /**/ g")
    assert [t.text for t in tokens] == ["a", "b", "*", "/", "c", "/*+ OPTIONS('k'='*/') */", "d", "f", "g"]
    assert tokens[5].kind is TokenKind.HINT


def test_c_style_strings_take_backslash_escapes() -> None:
    """It reads E'...' with backslash escapes, so `\\'` does not end it."""
    [text, semi, two] = tokenize("E'a\\';b\\n' ; 2")
    assert (text.kind, text.value) == (TokenKind.STRING, "a';b\n")
    assert semi.text == ";" and two.text == "2"


@pytest.mark.parametrize("space", ["\u00a0", "\v", "\u2028", "\u3000"])
def test_strict_mode_rejects_whitespace_flink_does_not_know(space: str) -> None:
    """It names a non-Flink space (pasted from a web page) in strict mode, reads it in lenient."""
    with pytest.raises(LexError, match=f"U\\+{ord(space):04X} is not whitespace"):
        tokenize(f"a{space}b")
    assert [t.text for t in tokenize(f"a{space}b", strict=False)] == ["a", "b"]


def test_backquoted_identifiers_hold_no_line_break_and_are_not_empty() -> None:
    """It rejects what Flink cannot lex in strict mode and keeps it in lenient mode."""
    for bad in ("`a\nb`", "`a\rb`", "``"):
        with pytest.raises(LexError, match="backquoted identifier"):
            tokenize(bad)
        assert tokenize(bad, strict=False)[0].kind is TokenKind.IDENT


def test_quotes_escape_by_doubling_and_values_are_unquoted() -> None:
    """It undoes doubled quotes in strings and backquoted identifiers, and keeps the raw text."""
    [name, literal, dq] = tokenize("`a``b` 'it''s' \"x\"\"y\"")
    assert (name.kind, name.value, name.text) == (TokenKind.IDENT, "a`b", "`a``b`")
    assert (literal.kind, literal.value) == (TokenKind.STRING, "it's")
    assert (dq.kind, dq.value) == (TokenKind.IDENT, 'x"y')


def test_unicode_strings_decode_their_escapes() -> None:
    """It decodes U&'\\XXXX' and U&'\\+XXXXXX' escapes, and a UESCAPE character."""
    [text] = tokenize("U&'\\0041\\+01F600 \\\\'")
    assert (text.kind, text.value) == (TokenKind.STRING, "A\U0001f600 \\")
    [custom] = tokenize("u&'!0042!!' UESCAPE '!'")
    assert custom.value == "B!" and custom.text.endswith("UESCAPE '!'")
    with pytest.raises(LexError, match="bad unicode escape"):
        tokenize("U&'\\00G1'")
    assert tokenize("U&'\\00G1'", strict=False)[0].value == "\\00G1"


def test_positions_count_lines_like_javacc() -> None:
    """It gives 1-based lines and columns; \\r\\n, \\r and \\n each end one line."""
    tokens = tokenize("a\r\nb\rc\n  d")
    assert [(t.text, t.line, t.column) for t in tokens] == [
        ("a", 1, 1),
        ("b", 2, 1),
        ("c", 3, 1),
        ("d", 4, 3),
    ]
    assert [(t.start, t.end) for t in tokens] == [(0, 1), (3, 4), (5, 6), (9, 10)]


def test_words_numbers_and_operators() -> None:
    """It reads $ and _ in names, Calcite's number forms, and multi-character operators as one."""
    tokens = tokenize("$a_1 1.5e-3 .5 7 a<>b a!=b x||y p<=q")
    assert [(t.kind.value, t.text) for t in tokens] == [
        ("word", "$a_1"),
        ("number", "1.5e-3"),
        ("number", ".5"),
        ("number", "7"),
        ("word", "a"),
        ("symbol", "<>"),
        ("word", "b"),
        ("word", "a"),
        ("symbol", "!="),
        ("word", "b"),
        ("word", "x"),
        ("symbol", "||"),
        ("word", "y"),
        ("word", "p"),
        ("symbol", "<="),
        ("word", "q"),
    ]


def test_trivia_tokens_cover_every_character() -> None:
    """It accounts for every character when asked for whitespace and comments too."""
    script = "SELECT 1 -- c\r\n/* d */ , 'x'"
    tokens = tokenize(script, trivia=True)
    assert "".join(t.text for t in tokens) == script
    assert [t.kind for t in tokens if t.is_trivia].count(TokenKind.COMMENT) == 2


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("'abc", "unterminated string literal"),
        ("`abc", "unterminated identifier"),
        ("/* x", "unterminated /*"),
    ],
)
def test_strict_mode_rejects_what_never_ends(script: str, message: str) -> None:
    """It raises with the position in strict mode; lenient mode runs the token to the end."""
    with pytest.raises(LexError) as caught:
        tokenize("x\n  " + script)
    assert message in caught.value.message and (caught.value.line, caught.value.column) == (2, 3)
    last = tokenize("x\n  " + script, strict=False, trivia=True)[-1]
    assert last.terminated is False and last.end == len(script) + 4


@given(st.text(max_size=40))
def test_quoting_round_trips_through_the_lexer(value: str) -> None:
    """It reads back exactly what quote_identifier and quote_string wrote, for any text; a name
    Flink cannot lex (empty, a line break) is refused instead of quoted."""
    [literal] = tokenize(quote_string(value))
    assert (literal.kind, literal.value) == (TokenKind.STRING, value)
    if not value or "\n" in value or "\r" in value:
        with pytest.raises(ValueError, match="cannot be a Flink identifier"):
            quote_identifier(value)
        return
    [ident] = tokenize(quote_identifier(value))
    assert (ident.kind, ident.value) == (TokenKind.IDENT, value)


def test_statement_set_members_are_the_inner_inserts() -> None:
    """It splits EXECUTE STATEMENT SET into its INSERTs, semicolons in literals kept."""
    [st_set] = split_statements(
        "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT ';'; INSERT INTO b SELECT 2; END"
    )
    [explained] = split_statements("EXPLAIN CHANGELOG_MODE STATEMENT SET BEGIN INSERT INTO a SELECT 1; END")
    assert explained.kind is StatementKind.EXPLAIN and explained.text.endswith("END")
    members = statement_set_members(st_set)
    [multi_line] = split_statements(
        "EXECUTE STATEMENT SET\nBEGIN\nINSERT INTO a SELECT 1;\n  INSERT INTO b SELECT 2; END"
    )
    assert [(m.line, m.column) for m in statement_set_members(multi_line)] == [(3, 1), (4, 3)]
    assert [m.kind for m in members] == [StatementKind.INSERT, StatementKind.INSERT]
    assert members[0].text == "INSERT INTO a SELECT ';'"
    assert st_set.text[members[1].start : members[1].end] == "INSERT INTO b SELECT 2"


def test_the_artifact_layout_refuses_a_hostile_domain() -> None:
    """It builds paths only from a checked domain."""
    assert ArtifactLayout("orders").sql == "job/orders/sql/orders_wide_table_v3.sql"
    for bad in ("../x", "Orders", "a/b", "", "a" * 65):
        with pytest.raises(BadDomain):
            ArtifactLayout(bad)
