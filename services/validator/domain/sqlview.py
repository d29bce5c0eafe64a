"""A structural reading of a job script, enough to trace a request's logic in it.

It builds on the Flink SQL kernel (`services.flinksql`: statements, CREATE TABLE, SET) and reads
the INSERT as the kernel's tokens: payload extractions (`JSON_VALUE(payload, '$.f')`, optionally `TRY_CAST` to
the field's type) become the column `PAYLOAD.F`, the aliases of an extraction subquery are
resolved back to the payload field, dimension aliases are renamed to the request's aliases
(matched by table and order), and then the WHERE and ON clauses are cut into conjuncts.

Predicates are compared as canonical token sequences (keywords and identifiers upper-cased,
quotes removed from identifiers, `!=` as `<>`), first exactly (outer parentheses stripped),
then loosely (all parentheses dropped), never as raw substrings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from services.flinksql import expr as ex
from services.flinksql import query
from services.flinksql.ddl import CreateTable, DdlError, read_create_table
from services.flinksql.lexer import Token, TokenKind, tokenize
from services.flinksql.quoting import quote_identifier as qi
from services.flinksql.quoting import unquote
from services.flinksql.sqltypes import FlinkType, TypeSyntaxError, parse_type
from services.flinksql.statements import Statement, parse_set, split_statements

_CLAUSE_STOP = frozenset(
    {"GROUP", "ORDER", "HAVING", "LIMIT", "UNION", "WINDOW", "ON", "EXCEPT", "INTERSECT", "QUALIFY"}
)
_JOIN_STOP = frozenset(
    {"JOIN", "LEFT", "INNER", "RIGHT", "FULL", "CROSS", "WHERE", "GROUP", "ORDER", "HAVING", "LIMIT"}
    | {"UNION", "ON", "WINDOW", "NATURAL", "LATERAL"}
)
_NOT_ALIAS = _JOIN_STOP | {"FOR", "AS", "SET", "SELECT", "FROM", "OUTER", "USING", "CONFLICT", "TABLE"}


@dataclass(frozen=True, slots=True)
class Tok:
    text: str  # canonical
    kind: str  # word (keyword or bare name), ident (quoted name), string, number, punct, col
    start: int
    end: int


def _canonical(tokens: Sequence[Token]) -> list[Tok]:
    """Keywords and identifiers upper-cased, identifiers unquoted, `!=` as `<>`; no trivia."""
    out: list[Tok] = []
    for t in tokens:
        if t.is_trivia or t.kind is TokenKind.HINT:
            continue
        if t.kind is TokenKind.IDENT:
            out.append(Tok(t.value.upper(), "ident", t.start, t.end))
        elif t.kind is TokenKind.WORD:
            out.append(Tok(t.text.upper(), "word", t.start, t.end))
        elif t.kind is TokenKind.STRING:
            out.append(Tok(t.text, "string", t.start, t.end))
        elif t.kind is TokenKind.NUMBER:
            out.append(Tok(t.text.upper(), "number", t.start, t.end))
        else:
            out.append(Tok("<>" if t.text == "!=" else t.text, "punct", t.start, t.end))
    return out


def _is_name(tok: Tok) -> bool:
    return tok.kind in ("ident", "word") and not tok.text[:1].isdigit()


def _kw(tok: Tok, *words: str) -> bool:
    """A keyword as the kernel's lexer reads it: a bare word, never a quoted identifier
    (`` `from` `` is a column named FROM, not the FROM clause)."""
    return tok.kind == "word" and tok.text in words


def _p(tok: Tok, text: str) -> bool:
    return tok.kind == "punct" and tok.text == text


def _is_alias(tok: Tok) -> bool:
    """A name that can be an alias: any quoted identifier, or a bare word that is no keyword here."""
    return tok.kind == "ident" or (_is_name(tok) and tok.text not in _NOT_ALIAS)


def _close(toks: Sequence[Tok], i: int) -> int:
    """Index of the `)` that closes the `(` at i (or the last index)."""
    depth = 0
    for j in range(i, len(toks)):
        if _p(toks[j], "("):
            depth += 1
        elif _p(toks[j], ")"):
            depth -= 1
            if depth == 0:
                return j
    return len(toks) - 1


def _merge_dotted(toks: list[Tok]) -> list[Tok]:
    out: list[Tok] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if _is_name(tok) or tok.kind == "col":
            parts = [tok.text]
            end = tok.end
            j = i + 1
            while j + 1 < len(toks) and _p(toks[j], ".") and _is_name(toks[j + 1]):
                parts.append(toks[j + 1].text)
                end = toks[j + 1].end
                j += 2
            if len(parts) > 1:
                out.append(Tok(".".join(parts), "col", tok.start, end))
                i = j
                continue
        out.append(tok)
        i += 1
    return out


def canonical_expression(text: str) -> list[Tok]:
    """Canonical tokens of a predicate or expression text (dotted names merged)."""
    return _merge_dotted(_canonical(tokenize(text, strict=False)))


def render_spec(expression: ex.Expr) -> list[Tok]:
    """A request expression as canonical tokens: `payload.f` is PAYLOAD.F, `alias.c` is ALIAS.C."""
    text = ex.render(expression, lambda c: f"{qi(c.qualifier)}.{qi(c.name)}")
    return canonical_expression(text)


def strip_outer(toks: Sequence[Tok]) -> list[Tok]:
    out = list(toks)
    while len(out) >= 2 and _p(out[0], "(") and _close(out, 0) == len(out) - 1:
        out = out[1:-1]
    return out


def texts(toks: Sequence[Tok]) -> tuple[str, ...]:
    return tuple(t.text for t in toks)


def loose(toks: Sequence[Tok]) -> tuple[str, ...]:
    return tuple(t.text for t in toks if not (t.kind == "punct" and t.text in "()"))


def same_predicate(a: Sequence[Tok], b: Sequence[Tok]) -> bool:
    sa, sb = strip_outer(a), strip_outer(b)
    return texts(sa) == texts(sb) or loose(sa) == loose(sb)


def conjuncts(toks: Sequence[Tok]) -> list[list[Tok]]:
    """Top-level AND parts (the AND of a BETWEEN stays inside its part)."""
    body = strip_outer(toks)
    parts: list[list[Tok]] = [[]]
    depth = 0
    between = 0
    for tok in body:
        if tok.kind == "punct" and tok.text == "(":
            depth += 1
        elif tok.kind == "punct" and tok.text == ")":
            depth -= 1
        if depth == 0 and _kw(tok, "BETWEEN"):
            between += 1
        if depth == 0 and _kw(tok, "AND"):
            if between:
                between -= 1
            else:
                parts.append([])
                continue
        parts[-1].append(tok)
    return [strip_outer(p) for p in parts if p]


def _type_of(text: str) -> FlinkType | None:
    try:
        return parse_type(text).model_copy(update={"nullable": True})
    except (TypeSyntaxError, ValueError):
        return None


@dataclass
class JoinView:
    table: str  # last name part, as written (upper-cased)
    sql_alias: str | None
    alias: str | None  # the request's alias it was matched to (upper-cased)
    join_type: str  # LEFT, INNER, RIGHT, FULL, CROSS
    lookup: bool
    on: list[list[Tok]]
    line_offset: int


@dataclass
class SelectItem:
    column: str | None  # the result column it feeds (upper-cased), when known
    tokens: list[Tok]  # the expression, alias removed
    text: str  # raw text of the expression


@dataclass
class InsertView:
    """What the validator reads from the job's INSERT statement."""

    statement: Statement
    target: str | None
    columns: list[str] | None  # INSERT column list (upper-cased), None when absent
    items: list[SelectItem]
    joins: list[JoinView]
    where: list[list[Tok]]  # every WHERE conjunct at any nesting level
    group_by: bool
    select_star: bool
    json_paths: Counter[str]
    table_refs: list[tuple[str, bool]]  # (table, read as lookup)
    unquoted_identifiers: list[str] = field(default_factory=list)

    def item_for(self, column: str) -> SelectItem | None:
        return next((i for i in self.items if i.column == column.upper()), None)


@dataclass
class ScriptView:
    statements: list[Statement]
    tables: dict[str, tuple[Statement, CreateTable]]  # by last name part (as written)
    sets: list[tuple[Statement, str, str]]
    inserts: list[InsertView]
    unreadable: list[tuple[Statement, str]]  # DDL this module could not read

    def setting(self, key: str) -> str | None:
        values = [v for _, k, v in self.sets if k == key]
        return values[-1] if values else None

    def table(self, name: str) -> tuple[Statement, CreateTable] | None:
        found = self.tables.get(name)
        if found is None:
            found = next((v for k, v in self.tables.items() if k.lower() == name.lower()), None)
        return found


def read_script(
    script: str,
    *,
    payload_types: dict[str, FlinkType] | None = None,
    aliases: Sequence[tuple[str, str]] = (),
) -> ScriptView:
    """Read a job script; `aliases` are the request's (alias, table) joins in block order."""
    statements = split_statements(script, strict=False)
    tables: dict[str, tuple[Statement, CreateTable]] = {}
    sets: list[tuple[Statement, str, str]] = []
    inserts: list[InsertView] = []
    unreadable: list[tuple[Statement, str]] = []
    for st in statements:
        if st.kind == "SET":
            try:
                pair = parse_set(st.text)
            except ValueError as exc:
                unreadable.append((st, str(exc)))
                continue
            if pair is not None:
                sets.append((st, pair[0], pair[1]))
        elif st.kind == "CREATE_TABLE":
            try:
                ddl = read_create_table(st.text, strict=False)
            except DdlError as exc:
                unreadable.append((st, str(exc)))
                continue
            tables[ddl.name] = (st, ddl)
        elif st.kind in ("INSERT", "STATEMENT_SET"):
            inserts.append(read_insert(st, payload_types=payload_types or {}, aliases=aliases))
    return ScriptView(statements, tables, sets, inserts, unreadable)


def _collapse_payload(
    toks: list[Tok], payload_types: dict[str, FlinkType], text: str
) -> tuple[list[Tok], Counter[str]]:
    """JSON_VALUE(payload, '$.f') -> PAYLOAD.F; TRY_CAST/CAST of it to f's own type too."""
    paths: Counter[str] = Counter()
    upper_types = {k.upper(): v for k, v in payload_types.items()}
    out: list[Tok] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if _kw(tok, "JSON_VALUE") and i + 1 < len(toks) and _p(toks[i + 1], "("):
            close = _close(toks, i + 1)
            inner = toks[i + 2 : close]
            if (
                len(inner) >= 3
                and _p(inner[-2], ",")
                and inner[-1].kind == "string"
                and texts(inner[:-2])[-1] == "PAYLOAD"
            ):
                path = unquote(inner[-1].text)
                paths[path] += 1
                if path.startswith("$.") and path[2:].replace("_", "a").isalnum():
                    out.append(Tok("PAYLOAD." + path[2:].upper(), "col", tok.start, toks[close].end))
                    i = close + 1
                    continue
        out.append(tok)
        i += 1
    # casts of a payload column to its own type are the payload column (request-format §3)
    result: list[Tok] = []
    i = 0
    while i < len(out):
        tok = out[i]
        if (
            _kw(tok, "TRY_CAST", "CAST")
            and i + 4 < len(out)
            and _p(out[i + 1], "(")
            and out[i + 2].kind == "col"
            and out[i + 2].text.startswith("PAYLOAD.")
            and _kw(out[i + 3], "AS")
        ):
            close = _close(out, i + 1)
            field_type = upper_types.get(out[i + 2].text.split(".", 1)[1])
            cast_type = _type_of(text[out[i + 4].start : out[close - 1].end])
            if field_type is not None and cast_type == field_type.model_copy(update={"nullable": True}):
                result.append(Tok(out[i + 2].text, "col", tok.start, out[close].end))
                i = close + 1
                continue
        result.append(tok)
        i += 1
    return result, paths


def _table_refs(toks: Sequence[Tok]) -> tuple[list[tuple[str, str | None, bool, int]], set[str]]:
    """(table, alias, lookup, index of the name) after FROM/JOIN, and aliases of derived tables."""
    refs: list[tuple[str, str | None, bool, int]] = []
    derived: set[str] = set()
    for k, tok in enumerate(toks[:-1]):
        if not _kw(tok, "FROM", "JOIN"):
            continue
        nxt = toks[k + 1]
        if _p(nxt, "("):
            close = _close(toks, k + 1)
            j = close + 1
            if j < len(toks) and _kw(toks[j], "AS"):
                j += 1
            if j < len(toks) and _is_alias(toks[j]):
                derived.add(toks[j].text)
            continue
        if not (_is_name(nxt) or nxt.kind == "col") or _kw(nxt, "LATERAL", "UNNEST", "TABLE"):
            continue
        table = nxt.text.rsplit(".", 1)[-1]
        j = k + 2
        window = toks[j : j + 4]
        lookup = len(window) == 4 and all(
            _kw(t, w) for t, w in zip(window, ("FOR", "SYSTEM_TIME", "AS", "OF"), strict=True)
        )
        if lookup:
            j += 4
            if j < len(toks):
                j += 1
            if j < len(toks) and _p(toks[j], "("):
                j = _close(toks, j) + 1
        if j < len(toks) and _kw(toks[j], "AS"):
            j += 1
        alias = None
        if j < len(toks) and _is_alias(toks[j]):
            alias = toks[j].text
        refs.append((table, alias, lookup, k + 1))
    return refs, derived


def _with_names(toks: Sequence[Tok]) -> set[str]:
    """Names of CTEs: `WITH name AS (`, `, name AS (`."""
    names: set[str] = set()
    for k in range(len(toks) - 2):
        starts = k > 0 and (_kw(toks[k - 1], "WITH") or _p(toks[k - 1], ","))
        if starts and _is_name(toks[k]) and _kw(toks[k + 1], "AS") and _p(toks[k + 2], "("):
            names.add(toks[k].text)
    return names


def read_insert(
    st: Statement, *, payload_types: dict[str, FlinkType], aliases: Sequence[tuple[str, str]]
) -> InsertView:
    text = st.text
    raw = tokenize(text, strict=False)
    unquoted = sorted(
        {
            t.text
            for i, t in enumerate(raw)
            if t.kind is TokenKind.WORD
            and i + 2 < len(raw)
            and raw[i + 1].text == "."
            and raw[i + 2].kind is TokenKind.WORD
        }
    )
    toks, paths = _collapse_payload(_canonical(raw), payload_types, text)
    toks = _merge_dotted(toks)
    refs, derived = _table_refs(toks)
    derived |= _with_names(toks)
    # extraction aliases: PAYLOAD.F AS NAME
    extracted: dict[str, str] = {}
    for k in range(len(toks) - 2):
        if toks[k].kind == "col" and toks[k].text.startswith("PAYLOAD.") and _kw(toks[k + 1], "AS"):
            extracted[toks[k + 2].text] = toks[k].text
    source_aliases = set(derived)
    for table, alias, lookup, _ in refs:
        if not lookup and (table.upper() == "BUSINESSEVENT" or table in derived):
            source_aliases.add(alias or table)
    # dimension aliases: match by table and order of appearance
    wanted: dict[str, list[str]] = {}
    for alias, table in aliases:
        wanted.setdefault(table.upper(), []).append(alias.upper())
    rename: dict[str, str] = {}
    seen: Counter[str] = Counter()
    for table, alias, _lookup, _ in refs:
        options = wanted.get(table, [])
        n = seen[table]
        seen[table] += 1
        if n < len(options):
            rename[alias or table] = options[n]
    # the INSERT head (target, PARTITION spec, column list) names sink columns, never a
    # subquery's: read it before the names are resolved, and resolve only the query after it
    head = _insert_head(toks)
    toks = [*toks[: head.body], *_resolve_names(toks[head.body :], source_aliases, extracted, rename)]
    target = query.insert_target(text)
    items, star = _select_list(toks, text, head)
    columns = head.columns
    joins = _joins(toks, refs, rename, st)
    where = _where(toks)
    group_by = any(_kw(toks[k], "GROUP") and _kw(toks[k + 1], "BY") for k in range(len(toks) - 1))
    return InsertView(
        statement=st,
        target=None if target is None else target[-1],
        columns=columns,
        items=items,
        joins=joins,
        where=where,
        group_by=group_by,
        select_star=star,
        json_paths=paths,
        table_refs=[(t, lk) for t, _, lk, _ in refs],
        unquoted_identifiers=unquoted,
    )


def _resolve_names(
    toks: Sequence[Tok], source_aliases: set[str], extracted: dict[str, str], rename: dict[str, str]
) -> list[Tok]:
    """Extraction aliases (`src.name`, or a bare `name`) as their payload column, dimension
    aliases renamed to the request's; an alias being defined (`AS name`) and functions stay."""
    out: list[Tok] = []
    for k, original in enumerate(toks):
        tok = original
        if tok.kind == "col" and not tok.text.startswith("PAYLOAD."):
            qual, _, name = tok.text.rpartition(".")
            if qual in source_aliases and name in extracted:
                tok = Tok(extracted[name], "col", tok.start, tok.end)
            elif qual in rename:
                tok = Tok(f"{rename[qual]}.{name}", "col", tok.start, tok.end)
        elif (
            _is_name(tok)
            and tok.text in extracted
            and (k == 0 or not _kw(toks[k - 1], "AS"))
            and (k + 1 >= len(toks) or not _p(toks[k + 1], "("))
        ):
            tok = Tok(extracted[tok.text], "col", tok.start, tok.end)
        out.append(tok)
    return out


def _depths(toks: Sequence[Tok]) -> list[int]:
    out: list[int] = []
    depth = 0
    for tok in toks:
        if tok.kind == "punct" and tok.text == "(":
            out.append(depth)
            depth += 1
        elif tok.kind == "punct" and tok.text == ")":
            depth -= 1
            out.append(depth)
        else:
            out.append(depth)
    return out


@dataclass(frozen=True, slots=True)
class _InsertHead:
    columns: list[str] | None  # the INSERT column list (upper-cased, unquoted), None when absent
    body: int  # index of the first token of the query after the head (0 when there is no INTO)


def _insert_head(toks: Sequence[Tok]) -> _InsertHead:
    """`INSERT {INTO | OVERWRITE} [TABLE] target [PARTITION (spec)] [(columns)]`, read from the tokens."""
    for k, tok in enumerate(toks):
        if _kw(tok, "INTO", "OVERWRITE"):
            j = k + 1
            if j < len(toks) and _kw(toks[j], "TABLE"):
                j += 1
            j += 1  # the table name (dotted names are one token)
            if j + 1 < len(toks) and _kw(toks[j], "PARTITION") and _p(toks[j + 1], "("):
                j = _close(toks, j + 1) + 1
            if j < len(toks) and _p(toks[j], "("):
                close = _close(toks, j)
                names = [t.text.rsplit(".", 1)[-1] for t in toks[j + 1 : close] if not _p(t, ",")]
                return _InsertHead(names, close + 1)
            return _InsertHead(None, min(j, len(toks)))
    return _InsertHead(None, 0)


def _select_list(toks: Sequence[Tok], text: str, head: _InsertHead) -> tuple[list[SelectItem], bool]:
    depth = _depths(toks)
    star = any(
        _p(t, "*")
        and k > 0
        and (_kw(toks[k - 1], "SELECT", "DISTINCT") or _p(toks[k - 1], ","))
        and not _in_count(toks, k)
        for k, t in enumerate(toks)
    )
    columns, start = head.columns, head.body
    sel = next((k for k in range(start, len(toks)) if _kw(toks[k], "SELECT") and depth[k] == 0), None)
    if sel is None:
        return [], star
    end = next((k for k in range(sel + 1, len(toks)) if _kw(toks[k], "FROM") and depth[k] == 0), len(toks))
    body = list(toks[sel + 1 : end])
    if body and _kw(body[0], "DISTINCT", "ALL"):
        body = body[1:]
    raw_items: list[list[Tok]] = [[]]
    d = 0
    for tok in body:
        if _p(tok, "("):
            d += 1
        elif _p(tok, ")"):
            d -= 1
        if d == 0 and _p(tok, ","):
            raw_items.append([])
        else:
            raw_items[-1].append(tok)
    items: list[SelectItem] = []
    for pos, item in enumerate(i for i in raw_items if i):
        alias: str | None = None
        expr = item
        if len(item) >= 3 and _kw(item[-2], "AS") and _is_name(item[-1]):
            alias, expr = item[-1].text, item[:-2]
        if columns is not None and pos < len(columns):
            column: str | None = columns[pos]
        else:
            column = alias
        raw = text[expr[0].start : expr[-1].end] if expr else ""
        items.append(SelectItem(column, list(expr), raw))
    return items, star


def _in_count(toks: Sequence[Tok], k: int) -> bool:
    return k >= 2 and _p(toks[k - 1], "(") and _kw(toks[k - 2], "COUNT")


def _clause(toks: Sequence[Tok], begin: int, stops: frozenset[str]) -> list[Tok]:
    depth = 0
    out: list[Tok] = []
    for tok in toks[begin:]:
        if tok.kind == "punct" and tok.text == "(":
            depth += 1
        elif tok.kind == "punct" and tok.text == ")":
            depth -= 1
            if depth < 0:
                break
        if depth == 0 and _kw(tok, *stops):
            break
        out.append(tok)
    return out


def _where(toks: Sequence[Tok]) -> list[list[Tok]]:
    out: list[list[Tok]] = []
    for k, tok in enumerate(toks):
        if _kw(tok, "WHERE"):
            out.extend(conjuncts(_clause(toks, k + 1, _CLAUSE_STOP)))
    return out


def _joins(
    toks: Sequence[Tok],
    refs: Sequence[tuple[str, str | None, bool, int]],
    rename: dict[str, str],
    st: Statement,
) -> list[JoinView]:
    joins: list[JoinView] = []
    for table, alias, lookup, at in refs:
        if at < 1 or not _kw(toks[at - 1], "JOIN"):
            continue
        before = [t.text for t in toks[max(0, at - 3) : at - 1] if t.kind == "word"]
        join_type = "INNER"
        for word in ("LEFT", "RIGHT", "FULL", "CROSS"):
            if word in before:
                join_type = word
        on_at = next(
            (k for k in range(at, len(toks)) if _kw(toks[k], "ON", "JOIN", "WHERE")),
            None,
        )
        on: list[list[Tok]] = []
        if on_at is not None and _kw(toks[on_at], "ON"):
            on = conjuncts(_clause(toks, on_at + 1, _JOIN_STOP))
        joins.append(
            JoinView(
                table=table,
                sql_alias=alias,
                alias=rename.get(alias or table),
                join_type=join_type,
                lookup=lookup,
                on=on,
                line_offset=st.text.count("\n", 0, toks[at].start),
            )
        )
    return joins


def function_names(toks: Sequence[Tok]) -> set[str]:
    return {toks[k].text for k in range(len(toks) - 1) if _p(toks[k + 1], "(") and _is_name(toks[k])}


def top_level_cast(toks: Sequence[Tok], text_of: Callable[[int, int], str]) -> FlinkType | bool | None:
    """The target type of a top-level CAST( ... AS T); False when the item is no CAST."""
    body = strip_outer(toks)
    if len(body) < 5 or not _kw(body[0], "CAST", "TRY_CAST") or not _p(body[1], "("):
        return False
    if _close(body, 1) != len(body) - 1:
        return False
    depth = _depths(body)
    as_at = max((k for k in range(2, len(body) - 1) if _kw(body[k], "AS") and depth[k] == 1), default=None)
    if as_at is None:
        return False
    return _type_of(text_of(body[as_at + 1].start, body[-2].end))


def cast_inner(toks: Sequence[Tok]) -> list[Tok] | None:
    """The operand of a top-level CAST/TRY_CAST( operand AS T ), else None."""
    body = strip_outer(toks)
    if len(body) < 5 or not _kw(body[0], "CAST", "TRY_CAST") or not _p(body[1], "("):
        return None
    if _close(body, 1) != len(body) - 1:
        return None
    depth = _depths(body)
    as_at = max((k for k in range(2, len(body) - 1) if _kw(body[k], "AS") and depth[k] == 1), default=None)
    return None if as_at is None else body[2:as_at]


def _non_zero_number(tok: Tok) -> bool:
    """A numeric literal that is not zero (`1000.0`, `1e3`, `.5`); `0`, `0.0`, `0e5` are zero."""
    if tok.kind != "number":
        return False
    try:
        return Decimal(tok.text) != 0
    except InvalidOperation:
        return False


def unguarded_divisions(toks: Sequence[Tok]) -> int:
    """How many `/` have a divisor that is neither NULLIF(...), a CASE, nor a non-zero literal
    (`x / 1000.0` and `x / (100)` cannot divide by zero; a signed literal counts as well)."""
    count = 0
    for k, tok in enumerate(toks[:-1]):
        if not _p(tok, "/"):
            continue
        j = k + 1
        while j < len(toks) and _p(toks[j], "("):
            j += 1
        if j < len(toks) and (_p(toks[j], "-") or _p(toks[j], "+")):
            j += 1
        nxt = toks[j] if j < len(toks) else None
        if nxt is None:
            continue
        if _kw(nxt, "NULLIF", "CASE", "GREATEST") or _non_zero_number(nxt):
            continue
        count += 1
    return count
