"""`services.flinksql` splits a script into exactly the statements Flink's own parser finds.

The truth is Flink 2.3's SQL parser as its planner configures it (`FlinkSqlParserImpl`, back-tick
quoting, unchanged casing, Flink conformance: `CalciteParser`, taken from the live planner's
`ParserImpl`), parsing the whole script as a statement list (`parseSqlStmtList`, what
`CalciteParser.parseSqlList` calls). Its nodes do not say where their statement starts (an INSERT's
position starts at INTO, ADD JAR's at the jar path, EXECUTE's covers the keyword only), so the
statements' extents come from the tokens that same parse consumed, chained from the parser's first
token with their JavaCC lines and columns: a statement runs from the first to the last token between
two top-level `;` (the `;`s inside `STATEMENT SET BEGIN ... END` belong to it). Every derived
statement is checked against Flink's node for it (count, and the node's position inside the
statement), so the oracle cannot drift from the parser.

What Flink's lexer does (measured here, not assumed): `--` and `//` comments end at `\\r` or `\\n`;
`/* */` does not nest, and `/***/` does not close (`/**` + one character opens it, a Calcite
quirk); `/*+ ... */` is a hint whose inside is lexed as tokens; `"` is a symbol, not a quote;
`''` and ```` `` ```` escape; `U&'...'`, `U&"..."`, `E'...'` (backslash escapes), `X'..'`,
`N'..'` are single tokens; whitespace is space, `\\t`, `\\n`, `\\r`, `\\f` only; `\\r\\n` is one line
break, `\\r` and `\\n` alone are one each; columns count UTF-16 units, a tab is one column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.flinksql.lexer import LexError
from services.flinksql.statements import split_statements

pytestmark = [pytest.mark.integration, pytest.mark.slow]


# --- Flink's side -------------------------------------------------------------------------------


class FlinkSyntaxError(Exception):
    """Flink's parser rejected the script (its normalized message and position, 1-based)."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column

    @property
    def lexical(self) -> bool:
        return self.message.startswith("Lexical error")


@dataclass(frozen=True)
class FlinkStatement:
    node: str  # the parser's node class, e.g. SqlCreateTable, RichSqlInsert, SqlExecute:SqlStatementSet
    start: int  # offset in the script of its first token
    end: int  # offset just past its last token
    line: int  # Flink's line and column of its first token (columns in UTF-16 units)
    column: int


@dataclass(frozen=True)
class _Token:
    kind: int
    begin: tuple[int, int]
    end: tuple[int, int]


def javacc_positions(script: str) -> dict[tuple[int, int], int]:
    """(line, column) of every UTF-16 unit of the script, as JavaCC's SimpleCharStream (tab size 1)
    counts them, to the offset of its character: `\\r\\n`, `\\r` and `\\n` each end one line."""
    where: dict[tuple[int, int], int] = {}
    line, column = 1, 0
    after_cr = after_lf = False
    for offset, char in enumerate(script):
        for _ in range(2 if ord(char) > 0xFFFF else 1):
            column += 1
            if after_lf:
                after_lf, line, column = False, line + 1, 1
            elif after_cr:
                after_cr = False
                if char == "\n":
                    after_lf = True
                else:
                    line, column = line + 1, 1
            if char == "\r":
                after_cr = True
            elif char == "\n":
                after_lf = True
            where[(line, column)] = offset
    return where


def code_point_column(script: str, offset: int) -> int:
    """1-based column of `offset` in characters of the str, lines broken as Flink breaks them."""
    line_start = max(script.rfind("\n", 0, offset), script.rfind("\r", 0, offset)) + 1
    return offset - line_start + 1


class FlinkParser:
    """Flink's statement-list parser on one warm JVM, through py4j."""

    def __init__(self) -> None:
        from py4j.java_gateway import get_field
        from pyflink.java_gateway import get_gateway
        from pyflink.table import EnvironmentSettings, TableEnvironment

        self._field = get_field
        self._gateway = gateway = get_gateway()
        t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
        planner_parser = t_env._j_tenv.getPlanner().getParser()  # ParserImpl, planner class loader
        supplier = planner_parser.getClass().getDeclaredField("calciteParserSupplier")
        supplier.setAccessible(True)
        self._calcite = supplier.get(planner_parser).get()  # CalciteParser with Flink's SqlParser.Config
        string_class = gateway.jvm.java.lang.Class.forName("java.lang.String")
        parameter_types = gateway.new_array(gateway.jvm.java.lang.Class, 1)
        parameter_types[0] = string_class
        # the FlinkSqlParserImpl set up exactly as parseSqlList sets it up (SqlParser.create does the same)
        self._create = self._calcite.getClass().getDeclaredMethod("createFlinkParser", parameter_types)
        self._create.setAccessible(True)
        constants = (
            self._calcite.getClass()
            .getClassLoader()
            .loadClass("org.apache.flink.sql.parser.impl.FlinkSqlParserImplConstants")
        )
        kind = {name: constants.getField(name).getInt(None) for name in ("EOF", "SEMICOLON", "BEGIN", "END")}
        kind |= {name: constants.getField(name).getInt(None) for name in ("STATEMENT", "SET")}
        self._kind = kind

    def _parser_for(self, script: str) -> Any:
        args = self._gateway.new_array(self._gateway.jvm.java.lang.Object, 1)
        args[0] = script
        return self._create.invoke(self._calcite, args)

    def statements(self, script: str) -> list[FlinkStatement]:
        """Flink's statements of the script, in order; `FlinkSyntaxError` when it rejects it."""
        from py4j.protocol import Py4JJavaError

        parser = self._parser_for(script)
        before_first = self._field(parser, "token")
        try:
            nodes = list(parser.parseSqlStmtList().getList())
        except Py4JJavaError as error:
            normalized = parser.normalizeException(error.java_exception)
            pos = normalized.getPos()
            raise FlinkSyntaxError(
                str(normalized.getMessage()).splitlines()[0],
                pos.getLineNum() if pos is not None else 0,
                pos.getColumnNum() if pos is not None else 0,
            ) from None
        groups = self._top_level_groups(self._tokens(before_first))
        where = javacc_positions(script)
        found = []
        assert len(groups) == len(nodes), f"oracle: {len(groups)} token groups for {len(nodes)} nodes"
        for group, node in zip(groups, nodes, strict=True):
            self._check_inside(node, group)
            name = str(node.getClass().getSimpleName())
            if name == "SqlExecute":
                inner = node.getStatement()
                for insert in (
                    inner.getInserts() if inner.getClass().getSimpleName() == "SqlStatementSet" else []
                ):
                    self._check_inside(insert, group)
                name += ":" + str(inner.getClass().getSimpleName())
            first, last = group[0], group[-1]
            found.append(
                FlinkStatement(
                    node=name,
                    start=where[first.begin],
                    end=where[last.end] + 1,
                    line=first.begin[0],
                    column=first.begin[1],
                )
            )
        return found

    def _tokens(self, before_first: Any) -> Iterator[_Token]:
        field = self._field
        token = field(before_first, "next")
        while (kind := field(token, "kind")) != self._kind["EOF"]:
            yield _Token(
                kind,
                (field(token, "beginLine"), field(token, "beginColumn")),
                (field(token, "endLine"), field(token, "endColumn")),
            )
            token = field(token, "next")

    def _top_level_groups(self, tokens: Iterator[_Token]) -> list[list[_Token]]:
        """The runs of tokens between top-level `;`s (empty runs are empty statements: dropped)."""
        kind = self._kind
        groups: list[list[_Token]] = []
        current: list[_Token] = []
        depth = 0  # inside STATEMENT SET BEGIN ... END
        for token in tokens:
            if token.kind == kind["SEMICOLON"] and depth == 0:
                if current:
                    groups.append(current)
                current = []
                continue
            if token.kind == kind["BEGIN"] and [t.kind for t in current[-2:]] == [
                kind["STATEMENT"],
                kind["SET"],
            ]:
                depth += 1
            elif token.kind == kind["END"] and depth:
                depth -= 1
            current.append(token)
        if current:
            groups.append(current)
        return groups

    @staticmethod
    def _check_inside(node: Any, group: list[_Token]) -> None:
        pos = node.getParserPosition()
        begin, end = (pos.getLineNum(), pos.getColumnNum()), (pos.getEndLineNum(), pos.getEndColumnNum())
        assert group[0].begin <= begin and end <= group[-1].end, f"oracle: {node.getClass()} {pos} outside"


@pytest.fixture(scope="module")
def flink() -> FlinkParser:
    return FlinkParser()


# --- the comparison -----------------------------------------------------------------------------

# Flink's node class -> our StatementKind name (classes not listed are not compared)
FLINK_KINDS = {
    "SqlSet": "SET",
    "SqlReset": "RESET",
    "SqlCreateTable": "CREATE_TABLE",
    "SqlCreateTableAs": "CREATE_TABLE",
    "SqlCreateTableLike": "CREATE_TABLE",
    "SqlCreateView": "CREATE_VIEW",
    "SqlCreateFunction": "CREATE_FUNCTION",
    "SqlCreateCatalog": "CREATE_CATALOG",
    "SqlCreateDatabase": "CREATE_DATABASE",
    "RichSqlInsert": "INSERT",
    "SqlExecute:SqlStatementSet": "STATEMENT_SET",
    "SqlBeginStatementSet": "BEGIN_STATEMENT_SET",
    "SqlEndStatementSet": "END",
    "SqlRichExplain": "EXPLAIN",
    "SqlSelect": "QUERY",
    "SqlOrderBy": "QUERY",
    "SqlWith": "QUERY",
    "SqlBasicCall": "QUERY",  # UNION, VALUES, ... at the top level
    "SqlAddJar": "ADD_JAR",
    "SqlRemoveJar": "REMOVE_JAR",
    "SqlLoadModule": "LOAD_MODULE",
    "SqlUnloadModule": "UNLOAD_MODULE",
    "SqlRichDescribeTable": "DESCRIBE",
}
FLINK_KIND_PREFIXES = {"SqlDrop": "DROP", "SqlAlter": "ALTER", "SqlUse": "USE", "SqlShow": "SHOW"}


def our_kind(node: str) -> str | None:
    if node in FLINK_KINDS:
        return FLINK_KINDS[node]
    return next((k for prefix, k in FLINK_KIND_PREFIXES.items() if node.startswith(prefix)), None)


def assert_same_statements(script: str, flink: FlinkParser) -> list[FlinkStatement]:
    """Ours and Flink's: same count, extents, texts, kinds (where mapped), lines and columns."""
    theirs = flink.statements(script)
    ours = split_statements(script)
    assert [s.text for s in ours] == [script[s.start : s.end] for s in theirs]
    assert [(s.start, s.end) for s in ours] == [(s.start, s.end) for s in theirs]
    assert [s.index for s in ours] == list(range(len(theirs)))
    assert [s.line for s in ours] == [s.line for s in theirs]
    # columns in characters of the str; Flink counts UTF-16 units (the same for BMP-only text)
    assert [s.column for s in ours] == [code_point_column(script, s.start) for s in theirs]
    if all(ord(c) <= 0xFFFF for c in script):
        assert [s.column for s in ours] == [s.column for s in theirs]
    assert [(s.kind.name if our_kind(f.node) else None) for s, f in zip(ours, theirs, strict=True)] == [
        our_kind(f.node) for f in theirs
    ]
    return theirs


# --- scripts from pieces ------------------------------------------------------------------------

SPACE = st.sampled_from([" ", "  ", "\t", "\n", "\r", "\r\n", "\f", "\n\n", "\r\r", "\n\r"])
LINE_BREAK = st.sampled_from(["\n", "\r", "\r\n"])
# text that is risky inside comments, strings and identifiers (no line breaks)
TRICKY = [
    "a",
    "x y",
    ";",
    "';'",
    "''",
    "'",
    "`",
    '"',
    "--",
    "//",
    "/*",
    "*",
    "/",
    "\\",
    "é",
    "维",
    "💥",
    " ",
    "U&",
    "E'",
]
TRICKY_TEXT = st.lists(st.sampled_from(TRICKY), max_size=5).map("".join)
TRICKY_MULTILINE = st.lists(st.sampled_from([*TRICKY, "\n", "\r", "\r\n"]), max_size=6).map("".join)


@st.composite
def line_comment(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["--", "//"])) + draw(TRICKY_TEXT) + draw(LINE_BREAK)


@st.composite
def block_comment(draw: st.DrawFn) -> str:
    body = draw(TRICKY_MULTILINE).replace("*/", "* /")
    if body.startswith("+") or body == "*":  # a hint is not a comment; `/***/` does not close in Calcite
        body = " " + body
    return "/*" + body + "*/"


TRIVIA = st.one_of(SPACE, SPACE, line_comment(), block_comment())


def gap(*, required: bool) -> st.SearchStrategy[str]:
    return st.lists(TRIVIA, min_size=1 if required else 0, max_size=3).map("".join)


def string_literal(content: st.SearchStrategy[str] = TRICKY_MULTILINE) -> st.SearchStrategy[str]:
    return content.map(lambda s: "'" + s.replace("'", "''") + "'")


UNICODE_LITERAL = st.one_of(
    st.lists(st.sampled_from(["a", ";", "''", "--", "/*", "\\0041", "\\00e9", " "]), max_size=4).map(
        lambda parts: "U&'" + "".join(parts) + "'"
    ),
    st.just("U&'!0041;' UESCAPE '!'"),
)
PLAIN_IDENTIFIER = st.sampled_from(["orders", "t1", "sink_a", "src", "v", "user_id", "ä", "$x"])
QUOTED_IDENTIFIER = (
    st.lists(st.sampled_from(TRICKY), min_size=1, max_size=4)
    .map("".join)
    .filter(bool)
    .map(lambda s: "`" + s.replace("`", "``") + "`")
)
IDENTIFIER = st.one_of(PLAIN_IDENTIFIER, QUOTED_IDENTIFIER)
EXPRESSION = st.one_of(st.integers(0, 99).map(str), string_literal(), IDENTIFIER, UNICODE_LITERAL)
PUNCTUATION = {"(", ")", ",", "=", ";"}


@st.composite
def keyword(draw: st.DrawFn, word: str) -> str:
    return draw(st.sampled_from([word, word.lower(), word.capitalize()]))


@st.composite
def create_table(draw: st.DrawFn) -> list[str]:
    tokens = [draw(keyword("CREATE")), draw(keyword("TABLE")), draw(IDENTIFIER), "("]
    tokens += [draw(IDENTIFIER), draw(keyword("INT")), ",", draw(IDENTIFIER), draw(keyword("STRING")), ")"]
    tokens += [draw(keyword("WITH")), "("]
    for i in range(draw(st.integers(1, 3))):
        tokens += [","] if i else []
        tokens += [draw(string_literal()), "=", draw(string_literal())]
    return [*tokens, ")"]


@st.composite
def insert(draw: st.DrawFn) -> list[str]:
    tokens = [draw(keyword("INSERT")), draw(keyword("INTO")), draw(IDENTIFIER), draw(keyword("SELECT"))]
    for i in range(draw(st.integers(1, 3))):
        tokens += [","] if i else []
        tokens += [draw(EXPRESSION)]
    tokens += [draw(keyword("FROM")), draw(IDENTIFIER)]
    if draw(st.booleans()):
        tokens += [draw(keyword("WHERE")), draw(IDENTIFIER), "=", draw(EXPRESSION)]
    return tokens


@st.composite
def set_option(draw: st.DrawFn) -> list[str]:
    return [draw(keyword("SET")), draw(string_literal()), "=", draw(string_literal())]


@st.composite
def create_view(draw: st.DrawFn) -> list[str]:
    tokens = [draw(keyword("CREATE")), draw(keyword("VIEW")), draw(IDENTIFIER), draw(keyword("AS"))]
    return [*tokens, draw(keyword("SELECT")), draw(EXPRESSION), draw(keyword("FROM")), draw(IDENTIFIER)]


@st.composite
def query(draw: st.DrawFn) -> list[str]:
    return [draw(keyword("SELECT")), draw(EXPRESSION), draw(keyword("FROM")), draw(IDENTIFIER)]


@st.composite
def statement_set(draw: st.DrawFn) -> list[str]:
    tokens = [draw(keyword(w)) for w in ("EXECUTE", "STATEMENT", "SET", "BEGIN")]
    for _ in range(draw(st.integers(1, 3))):
        tokens += [*draw(insert()), ";"]
    return [*tokens, draw(keyword("END"))]


STATEMENT = st.one_of(create_table(), insert(), set_option(), create_view(), query(), statement_set())


@st.composite
def render(draw: st.DrawFn, tokens: list[str]) -> str:
    """The tokens with trivia between them (none needed next to punctuation)."""
    out = [tokens[0]]
    for before, after in pairwise(tokens):
        out += [draw(gap(required=not ({before, after} & PUNCTUATION))), after]
    return "".join(out)


@st.composite
def scripts(draw: st.DrawFn) -> str:
    parts = [draw(gap(required=False))]
    for i in range(draw(st.integers(1, 4))):
        if i:
            parts += [draw(gap(required=False)), ";"]
            parts += [draw(gap(required=False)) + ";" for _ in range(draw(st.integers(0, 1)))]
            parts += [draw(gap(required=False))]
        parts += [draw(render(draw(STATEMENT)))]
    if draw(st.booleans()):
        parts += [draw(gap(required=False)), ";"]
    parts += [draw(gap(required=False))]
    if draw(st.booleans()):  # a `--` comment may end the script without a line break
        parts += [draw(st.sampled_from(["--", "//"])) + draw(TRICKY_TEXT)]
    return "".join(parts)


# --- the tests ----------------------------------------------------------------------------------


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scripts())
@example("SET 'a' = 'b' -- note\r;DROP TABLE t")
@example("SELECT 1 FROM t -- x\r\n;SELECT 2 FROM u")
@example("CREATE TABLE `a;b` (`c``;` INT) WITH ('connector' = 'data;gen', 'x' = 'it''s -- /* ;')")
def test_our_statements_are_flinks(flink: FlinkParser, script: str) -> None:
    """Any script built from statements Flink parses: our splitter finds Flink's statements."""
    try:
        assert_same_statements(script, flink)
    except FlinkSyntaxError as error:  # the generator must only build scripts Flink accepts
        pytest.fail(f"Flink rejects a generated script: {error.message}\n{script!r}")


REGRESSIONS = {
    # a `--` comment ends at a lone \r: what follows is code to both readers
    "dash comment ends at CR": ("SELECT 1 -- note\rFROM t", ["QUERY"]),
    "dash comment ends at CR before ;": ("SELECT 1 -- note\r; DROP TABLE t", ["QUERY", "DROP"]),
    "slash comment": ("SET 'a'='b' // c ; d\r; SET 'c'='d' // e\n", ["SET", "SET"]),
    "slash comment at end": ("SELECT 1 FROM t; // SELECT 2", ["QUERY"]),
    "block comments do not nest": ("SELECT /* a /* b ; */ 1 FROM t; SELECT 2", ["QUERY", "QUERY"]),
    "quote and dashes in a block comment": ("SELECT 1 /* ' -- ; \r\n */ FROM t;SELECT 2", ["QUERY", "QUERY"]),
    "/***/ does not close a comment (Calcite)": (
        "SELECT 1 /***/ ; SELECT 2 */ ; SELECT 3",
        ["QUERY", "QUERY"],
    ),
    "/**/ and /** */ close": ("SELECT 1 /**/ ; SELECT 2 /** ; */ ; SELECT 3 /****/", ["QUERY"] * 3),
    "hint with */ and ; in a string": (
        "SELECT * FROM t /*+ OPTIONS('a'='*/;') */; SELECT 2",
        ["QUERY", "QUERY"],
    ),
    "doubled quotes": ("SET 'a;b' = 'c''d;'; SET 'e' = ''''", ["SET", "SET"]),
    "line breaks in strings": ("SELECT 'a\r\nb;\rc' FROM t;\r\n\r\nSELECT 1\n\rFROM t", ["QUERY", "QUERY"]),
    "doubled backquotes": ("SELECT `a``;b` FROM `;`;SELECT 1", ["QUERY", "QUERY"]),
    "unicode string": ("SELECT U&'it''s;\\0041' FROM t; SELECT U&'!0041' UESCAPE '!' FROM t", ["QUERY"] * 2),
    "unicode identifier": ('SELECT U&"a;b""c" FROM t; SELECT 2', ["QUERY", "QUERY"]),
    "C-style string": ("SELECT E'a\\';b' FROM t; SELECT e'\\\\' FROM t", ["QUERY", "QUERY"]),
    "prefixed strings": ("SELECT X'3B', N'a;', _UTF8'b;' FROM t; SELECT 2", ["QUERY", "QUERY"]),
    "non-BMP characters": ("SELECT '💥;', `💥` FROM t; SELECT 2", ["QUERY", "QUERY"]),
    "form feed and tab": ("SELECT\f1\tFROM\tt;\fSELECT 2", ["QUERY", "QUERY"]),
    "empty statements": ("SELECT 1;;\n;SELECT 2;;", ["QUERY", "QUERY"]),
    "trailing statement without ;": ("SET 'a'='b';\nSELECT 1 -- end", ["SET", "QUERY"]),
    "statement set": (
        "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; INSERT INTO b SELECT ';'; END; SET 'k'='v'",
        ["STATEMENT_SET", "SET"],
    ),
    "statement set, lower case, comments": (
        "execute statement set /* ; */ begin\n insert into a select 1 -- ;\r; end",
        ["STATEMENT_SET"],
    ),
    "client statement set": (
        "BEGIN STATEMENT SET; INSERT INTO a SELECT 1; END;",
        ["BEGIN_STATEMENT_SET", "INSERT", "END"],
    ),
    "explain statement set": ("EXPLAIN STATEMENT SET BEGIN INSERT INTO a SELECT 1; END", ["EXPLAIN"]),
    "kinds: tables": (
        "CREATE TABLE t (a INT) WITH ('k'='v'); CREATE TABLE u WITH ('k'='v') AS SELECT 1;"
        " CREATE TABLE w (a INT) LIKE t; DROP TABLE t; ALTER TABLE t RENAME TO u; DESCRIBE t",
        ["CREATE_TABLE", "CREATE_TABLE", "CREATE_TABLE", "DROP", "ALTER", "DESCRIBE"],
    ),
    "kinds: catalog objects": (
        "CREATE VIEW v AS SELECT 1; CREATE FUNCTION f AS 'a.B'; CREATE CATALOG c WITH ('type'='x');"
        " CREATE DATABASE d; USE CATALOG c; USE d; SHOW TABLES",
        ["CREATE_VIEW", "CREATE_FUNCTION", "CREATE_CATALOG", "CREATE_DATABASE", "USE", "USE", "SHOW"],
    ),
    "kinds: session": (
        "SET 'k' = 'v'; SET; RESET 'k'; RESET; ADD JAR '/x.jar'; REMOVE JAR '/x.jar';"
        " LOAD MODULE hive; UNLOAD MODULE hive; USE MODULES core",
        ["SET", "SET", "RESET", "RESET", "ADD_JAR", "REMOVE_JAR", "LOAD_MODULE", "UNLOAD_MODULE", "USE"],
    ),
    "kinds: queries and DML": (
        "INSERT INTO t SELECT 1; INSERT OVERWRITE t VALUES (1); WITH x AS (SELECT 1) SELECT * FROM x;"
        " SELECT 1 UNION SELECT 2; VALUES (1); SELECT 1 ORDER BY 1; EXPLAIN SELECT 1",
        ["INSERT", "INSERT", "QUERY", "QUERY", "QUERY", "QUERY", "EXPLAIN"],
    ),
}


@pytest.mark.parametrize(("script", "kinds"), REGRESSIONS.values(), ids=REGRESSIONS.keys())
def test_regressions(flink: FlinkParser, script: str, kinds: list[str]) -> None:
    theirs = assert_same_statements(script, flink)
    assert [our_kind(s.node) for s in theirs] == kinds


def test_a_comment_ending_at_cr_leaves_the_rest_visible(flink: FlinkParser) -> None:
    """`SELECT 1 -- note\\rDROP TABLE t` is one statement to both: Flink stops at DROP (line 2)."""
    script = "SELECT 1 -- note\rDROP TABLE t"
    with pytest.raises(FlinkSyntaxError) as rejected:
        flink.statements(script)
    assert (rejected.value.line, rejected.value.column) == (2, 1)
    assert javacc_positions(script)[(2, 1)] == script.index("DROP")
    [ours] = split_statements(script)
    assert (ours.start, ours.end, ours.text) == (0, len(script), script)
    assert [t.value.upper() for t in ours.tokens if t.start >= script.index("DROP")] == ["DROP", "TABLE", "T"]


# Where Flink's lexer cannot find the end of a token, a strict split cannot either. (Characters
# Flink does not lex at all, e.g. U+00A0, \v, U+2028 or an empty `` identifier, are left to the
# engine to report: they change no statement's extent.)
LEXICAL_ERRORS = {
    "unterminated block comment": "SELECT 1 /* x",
    "/***/ runs to the end": "SELECT 1 /***/ FROM t",
    "unterminated backquote": "SELECT `a; FROM t",
    "line break in backquotes": "SELECT `a\nb` FROM t",
    "CR in backquotes": "SELECT `a\rb` FROM t",
}


@pytest.mark.parametrize("script", LEXICAL_ERRORS.values(), ids=LEXICAL_ERRORS.keys())
def test_what_flink_cannot_lex_is_a_lex_error(flink: FlinkParser, script: str) -> None:
    with pytest.raises(FlinkSyntaxError) as rejected:
        flink.statements(script)
    assert rejected.value.lexical, rejected.value.message
    with pytest.raises(LexError):
        split_statements(script)


def test_compiled_jobs_with_hostile_option_text_are_flinks_statements(flink: FlinkParser) -> None:
    """Issue 14 item 5: hostile text in a result-table option that passes `check` (quotes, `;`,
    backquotes, `//`, backslashes, unicode) leaves the compiled job with exactly the statements
    Flink's parser finds, of the original job's kinds, and the option reads back exactly."""
    from pathlib import Path

    from services.flinksql.ddl import read_create_table
    from services.flinksql.quoting import quote_string
    from services.generator.adapters.profiles_fs import load_profile
    from services.generator.domain import compile_job
    from services.ingest.domain.checks import check_document

    root = Path(__file__).resolve().parents[3]
    base = (root / "examples" / "orders" / "orders-request-v3.md").read_text(encoding="utf-8")
    option = "'tableName' = 'dwd_order_wide'"

    def compiled(text: str) -> str:
        result = check_document(text)
        assert result.spec is not None, [e.render() for e in result.errors]
        return compile_job(result.spec, profile=load_profile("dev"), revision=1, generator_version="t").sql

    kinds = [our_kind(s.node) for s in assert_same_statements(compiled(base), flink)]
    for value in (
        "it's ; DROP TABLE t",
        "x'); DROP TABLE t; SELECT ('",
        'a`b``c"d',
        "//x \\ ;",
        "中文 💥 e\u0301",
    ):
        sql = compiled(base.replace(option, f"'tableName' = {quote_string(value)}", 1))
        assert [our_kind(s.node) for s in assert_same_statements(sql, flink)] == kinds, value
        ddl = next(
            s for s in split_statements(sql) if "`dwd_order_wide` (" in s.text and s.text.startswith("CREATE")
        )
        assert read_create_table(ddl.text, strict=False).option_map["tableName"] == value
