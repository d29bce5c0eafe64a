"""Parser of one Flink SQL scalar expression into the AST of `services.flinksql.expr`.

Ingest re-exports it from `services.ingest.domain.expressions`; the validator reads predicates with it.

Hostile input: the text is lexed completely before parsing, so `;`, `--`, `/*`, double quotes,
unterminated literals and stray characters are rejected wherever they are. Length and nesting
are bounded, parsing is linear, and every failure is an `ExpressionError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.flinksql import lexer
from services.flinksql.expr import (
    AGGREGATES,
    CONSTRUCTORS,
    INTERVAL_UNITS,
    ITEM_ACCESS,
    NILADIC,
    SUPPORTED_AGGREGATES_TEXT,
    TIME_UNITS,
    ApproxLit,
    Between,
    Binary,
    BinaryOp,
    BoolLit,
    Call,
    Case,
    Cast,
    Column,
    Expr,
    InList,
    IntervalLit,
    IsTest,
    Like,
    NullLit,
    NumberLit,
    StringLit,
    Symbol,
    TypedLit,
    Unary,
    When,
    non_scalar_function,
)
from services.flinksql.lexer import TokenKind
from services.flinksql.quoting import NAME_RE
from services.flinksql.sqltypes import TypeSyntaxError, parse_type

MAX_LENGTH = 20_000
MAX_DEPTH = 64
MAX_TOKENS = 5_000

# Words that start or belong to a statement or a query: never part of a scalar expression.
STATEMENT_WORDS = frozenset(
    {
        "SELECT",
        "INSERT",
        "DELETE",
        "UPDATE",
        "DROP",
        "CREATE",
        "ALTER",
        "MERGE",
        "WITH",
        "UNION",
        "INTERSECT",
        "EXCEPT",
        "FROM",
        "WHERE",
        "VALUES",
        "TABLE",
        "JOIN",
        "GROUP",
        "ORDER",
        "HAVING",
        "LIMIT",
        "EXECUTE",
        "CALL",
        "SET",
        "RESET",
        "USE",
        "LOAD",
        "SHOW",
        "DESCRIBE",
        "EXPLAIN",
        "GRANT",
        "EXISTS",
        "LATERAL",
        "OVER",
        "WINDOW",
    }
)
# Keywords that cannot be a function name or an operand on their own.
KEYWORDS = STATEMENT_WORDS | frozenset(
    {
        "AND",
        "OR",
        "NOT",
        "IS",
        "IN",
        "LIKE",
        "SIMILAR",
        "BETWEEN",
        "SYMMETRIC",
        "ASYMMETRIC",
        "ESCAPE",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "AS",
        "TO",
        "FOR",
        "DISTINCT",
        "ALL",
        "ON",
        "BY",
        "ANY",
        "SOME",
    }
)


class ExpressionError(ValueError):
    """A rejected expression: `offset` is 0-based in the text, `name` the offending name if any."""

    def __init__(self, message: str, offset: int, name: str | None = None) -> None:
        super().__init__(f"{message} (at offset {offset})")
        self.message = message
        self.offset = offset
        self.name = name


@dataclass(frozen=True)
class Tok:
    kind: str  # word, qident, string, number, op, eof
    text: str  # raw for word/number/op; unquoted for qident/string
    offset: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


_OPS = frozenset(
    {"<>", "!=", "<=", ">=", "||", "(", ")", "[", "]", ",", ".", "+", "-", "*", "/", "%", "=", "<", ">"}
)
_ASCII_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def expression_tokens(text: str) -> list[Tok]:  # noqa: C901, PLR0912 - one rule per kernel token kind
    """The kernel lexer's tokens of `text` (no lexing here), refusing what is never valid in a
    scalar expression.

    Checked in the order the text holds them, so the first fault is the one reported.
    """
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is too long ({len(text)} characters, at most {MAX_LENGTH})", 0)
    tokens: list[Tok] = []
    lexed = lexer.tokenize(text, strict=False, trivia=True)
    for k, t in enumerate(lexed):
        if t.kind is TokenKind.WHITESPACE:
            continue
        if t.kind in (TokenKind.COMMENT, TokenKind.HINT):
            raise ExpressionError("comments are not allowed in an expression", t.start)
        if not t.terminated:
            what = "string literal" if t.kind is TokenKind.STRING else "backquoted identifier"
            raise ExpressionError(f"unterminated {what}", t.start)
        if t.kind is TokenKind.STRING:
            tokens.append(Tok("string", t.value, t.start, t.end))
        elif t.kind is TokenKind.IDENT:
            if t.text.startswith('"'):
                raise ExpressionError(
                    "double quotes are not valid Flink SQL: use single quotes for strings, backquotes for names",
                    t.start,
                )
            tokens.append(Tok("qident", t.value, t.start, t.end))
        elif t.kind is TokenKind.WORD:
            ascii_part = _ASCII_WORD.match(t.text)
            length = ascii_part.end() if ascii_part else 0
            if length < len(t.text):
                raise ExpressionError(f"unexpected character {t.text[length]!r}", t.start + length)
            tokens.append(Tok("word", t.text, t.start, t.end))
        elif t.kind is TokenKind.NUMBER:
            after = lexed[k + 1] if k + 1 < len(lexed) else None
            if after is not None and (
                after.kind in (TokenKind.WORD, TokenKind.NUMBER) or after.is_symbol(".")
            ):
                raise ExpressionError(f"malformed number {text[t.start : after.start + 1]!r}", t.start)
            tokens.append(Tok("number", t.text, t.start, t.end))
        elif t.text == ";":
            raise ExpressionError("';' is not allowed: an expression is not a statement", t.start)
        elif t.text in _OPS:
            tokens.append(Tok("op", t.text, t.start, t.end))
        elif t.text == "=>":
            tokens.extend((Tok("op", "=", t.start, t.start + 1), Tok("op", ">", t.start + 1, t.end)))
        else:
            raise ExpressionError(f"unexpected character {t.text[0]!r}", t.start)
        if len(tokens) > MAX_TOKENS:
            raise ExpressionError(f"expression has too many tokens (at most {MAX_TOKENS})", t.start)
    tokens.append(Tok("eof", "", len(text), len(text)))
    return tokens


# Binding powers (Calcite's precedence order).
_BP_OR, _BP_AND, _BP_NOT, _BP_IS, _BP_CMP, _BP_PRED, _BP_ADD, _BP_MUL, _BP_UNARY = (
    22,
    24,
    26,
    28,
    30,
    32,
    40,
    60,
    70,
)
_INFIX: dict[str, tuple[int, BinaryOp]] = {
    "OR": (_BP_OR, "OR"),
    "AND": (_BP_AND, "AND"),
    "=": (_BP_CMP, "="),
    "<>": (_BP_CMP, "<>"),
    "!=": (_BP_CMP, "<>"),
    "<": (_BP_CMP, "<"),
    "<=": (_BP_CMP, "<="),
    ">": (_BP_CMP, ">"),
    ">=": (_BP_CMP, ">="),
    "+": (_BP_ADD, "+"),
    "-": (_BP_ADD, "-"),
    "*": (_BP_MUL, "*"),
    "/": (_BP_MUL, "/"),
    "||": (_BP_MUL, "||"),
}


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = expression_tokens(text)
        self.i = 0
        self.depth = 0

    # -- token helpers
    @property
    def tok(self) -> Tok:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Tok:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Tok:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def at_word(self, *words: str) -> bool:
        return self.tok.upper in words

    def at_op(self, op: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == op

    def accept_word(self, word: str) -> bool:
        if self.tok.upper == word:
            self.advance()
            return True
        return False

    def accept_op(self, op: str) -> bool:
        if self.at_op(op):
            self.advance()
            return True
        return False

    def describe(self, tok: Tok) -> str:
        if tok.kind == "eof":
            return "end of expression"
        if tok.kind == "string":
            return "a string literal"
        if tok.kind == "qident":
            return f"`{tok.text}`"
        return repr(tok.text)

    def error(self, message: str, tok: Tok | None = None, name: str | None = None) -> ExpressionError:
        tok = tok or self.tok
        if tok.upper in STATEMENT_WORDS:
            return ExpressionError(
                f"{tok.upper} is not allowed: an expression cannot contain a statement or a subquery",
                tok.offset,
                tok.text,
            )
        return ExpressionError(message, tok.offset, name)

    def expect_op(self, op: str, context: str = "") -> Tok:
        if not self.at_op(op):
            where = f" {context}" if context else ""
            if op == ")" and self.tok.kind == "eof":
                raise self.error(f"unbalanced parentheses: missing ')'{where}")
            raise self.error(f"expected '{op}'{where}, found {self.describe(self.tok)}")
        return self.advance()

    def closing_paren(self) -> int:
        """Index of the `)` that closes the parenthesis we are inside (the end when none does)."""
        depth = 0
        for k in range(self.i, len(self.tokens)):
            tok = self.tokens[k]
            if tok.kind == "op" and tok.text == "(":
                depth += 1
            elif tok.kind == "op" and tok.text == ")":
                if depth == 0:
                    return k
                depth -= 1
        return len(self.tokens) - 1

    def expect_word(self, word: str, context: str = "") -> None:
        if not self.accept_word(word):
            where = f" {context}" if context else ""
            raise self.error(f"expected {word}{where}, found {self.describe(self.tok)}")

    # -- entry
    def parse(self) -> Expr:
        if self.tok.kind == "eof":
            raise ExpressionError("empty expression", 0)
        expr = self.expr(0)
        if self.tok.kind != "eof":
            if self.at_op(")"):
                raise self.error("unbalanced parentheses: unexpected ')'")
            raise self.error(
                f"unexpected {self.describe(self.tok)} after the expression (one expression only)"
            )
        return expr

    def expr(self, min_bp: int) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
        left = self.prefix()
        while True:
            tok = self.tok
            word = tok.upper
            if (tok.kind == "op" and tok.text in _INFIX) or word in ("AND", "OR"):
                bp, op = _INFIX[tok.text if tok.kind == "op" else word]
                if bp <= min_bp:
                    break
                self.advance()
                left = Binary(op=op, left=left, right=self.expr(bp))
            elif tok.kind == "op" and tok.text == "%":
                if min_bp >= _BP_MUL:
                    break
                self.advance()
                left = Call(name="MOD", args=(left, self.expr(_BP_MUL)))
            elif tok.kind == "op" and tok.text == "[":
                # element access binds tighter than every operator: -a[1] is -(a[1])
                left = self.element_access(left)
            elif word == "IS":
                if min_bp >= _BP_IS:
                    break
                left = self.is_suffix(left)
            elif word in ("BETWEEN", "IN", "LIKE", "SIMILAR") or (
                word == "NOT" and self.peek().upper in ("BETWEEN", "IN", "LIKE", "SIMILAR")
            ):
                if min_bp >= _BP_PRED:
                    break
                left = self.predicate(left)
            else:
                break
        self.depth -= 1
        return left

    def element_access(self, base: Expr) -> Expr:
        """`<array>[<index>]` or `<map>[<key>]`: `Call(ITEM_ACCESS, [base, index])`."""
        self.advance()
        if self.at_op("]"):
            raise self.error("expected an index or a key between '[' and ']'")
        index = self.expr(0)
        self.expect_op("]", "closing the element access [...]")
        return Call(name=ITEM_ACCESS, args=(base, index))

    def constructor(self) -> Expr:
        """`ARRAY[<value>, ...]` or `MAP[<key>, <value>, ...]`: `Call("ARRAY"|"MAP", items)`."""
        start = self.advance()
        name = start.upper
        self.advance()  # '['
        if self.at_op("]"):
            least = "one element" if name == "ARRAY" else "one key and one value"
            raise self.error(f"{name}[] needs at least {least}")
        items = [self.expr(0)]
        while self.accept_op(","):
            items.append(self.expr(0))
        self.expect_op("]", f"closing {name}[")
        if name == "MAP" and len(items) % 2:
            raise ExpressionError(
                f"MAP[...] takes keys and values in pairs (MAP[k1, v1, k2, v2]), got {len(items)} item(s)",
                start.offset,
            )
        return Call(name=name, args=tuple(items))

    def is_suffix(self, left: Expr) -> Expr:
        self.advance()
        negated = self.accept_word("NOT")
        if self.accept_word("DISTINCT"):
            self.expect_word("FROM", "in IS DISTINCT FROM")
            right = self.expr(_BP_CMP)
            return Binary(
                op="IS NOT DISTINCT FROM" if negated else "IS DISTINCT FROM", left=left, right=right
            )
        word = self.tok.upper
        if word not in ("NULL", "TRUE", "FALSE", "UNKNOWN"):
            raise self.error(
                f"expected NULL, TRUE, FALSE or UNKNOWN after IS, found {self.describe(self.tok)}"
            )
        self.advance()
        return IsTest(operand=left, test=word, negated=negated)

    def predicate(self, left: Expr) -> Expr:
        negated = self.accept_word("NOT")
        word = self.advance().upper
        if word == "BETWEEN":
            symmetric = self.accept_word("SYMMETRIC")
            if not symmetric:
                self.accept_word("ASYMMETRIC")
            low = self.expr(_BP_PRED)
            self.expect_word("AND", "in BETWEEN")
            high = self.expr(_BP_PRED)
            return Between(operand=left, low=low, high=high, negated=negated, symmetric=symmetric)
        if word == "IN":
            self.expect_op("(", "after IN")
            if self.at_word("SELECT", "WITH", "VALUES"):
                raise self.error("subquery")
            items = [self.expr(0)]
            while self.accept_op(","):
                items.append(self.expr(0))
            self.expect_op(")", "closing the IN list")
            return InList(operand=left, items=tuple(items), negated=negated)
        op: str = "LIKE"
        if word == "SIMILAR":
            self.expect_word("TO", "in SIMILAR TO")
            op = "SIMILAR TO"
        pattern = self.expr(_BP_PRED)
        escape = self.expr(_BP_PRED) if self.accept_word("ESCAPE") else None
        return Like(op=op, operand=left, pattern=pattern, escape=escape, negated=negated)

    def prefix(self) -> Expr:
        tok = self.tok
        if tok.upper == "NOT":
            self.advance()
            return Unary(op="NOT", operand=self.expr(_BP_NOT))
        if tok.kind == "op" and tok.text in ("-", "+"):
            self.advance()
            nxt = self.tok
            if tok.text == "-" and nxt.kind == "number":
                self.advance()
                return self._number("-" + nxt.text)
            return Unary(op=tok.text, operand=self.expr(_BP_UNARY))
        return self.primary()

    def _number(self, text: str) -> Expr:
        if "e" in text or "E" in text:
            return ApproxLit(text=text.upper())
        return NumberLit(text=text)

    def primary(self) -> Expr:  # noqa: C901, PLR0911, PLR0912
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            return self._number(tok.text)
        if tok.kind == "string":
            self.advance()
            return StringLit(value=tok.text)
        if tok.kind == "op" and tok.text == "(":
            self.advance()
            if self.at_word("SELECT", "WITH", "VALUES"):
                raise self.error("subquery")
            inner = self.expr(0)
            self.expect_op(")")
            return inner
        if tok.kind == "op":
            if tok.text == ")":
                raise self.error("unbalanced parentheses: unexpected ')'")
            if tok.text == "*":
                raise self.error("'*' is only allowed in COUNT(*)")
            raise self.error(f"expected an operand, found {self.describe(tok)}")
        if tok.kind == "eof":
            raise self.error("unexpected end of expression: an operand is missing")
        if tok.kind == "qident":
            return self.name_expr()
        word = tok.upper
        if word in ("TRUE", "FALSE"):
            self.advance()
            return BoolLit(value=word == "TRUE")
        if word in ("NULL", "UNKNOWN"):
            self.advance()
            return NullLit()
        if word == "CASE":
            return self.case()
        if word in ("CAST", "TRY_CAST") and self.peek().text == "(":
            return self.cast()
        if word == "INTERVAL":
            return self.interval()
        if word in CONSTRUCTORS and self.peek().kind == "op" and self.peek().text == "[":
            return self.constructor()
        if word in ("DATE", "TIME", "TIMESTAMP") and self.peek().kind == "string":
            self.advance()
            return TypedLit(type_name=word, value=self.advance().text)
        if word in KEYWORDS:
            raise self.error(f"unexpected keyword {word}", name=tok.text)
        return self.name_expr()

    def identifier(self) -> Tok:
        tok = self.advance()
        if tok.kind not in ("word", "qident"):
            raise self.error(f"expected a name, found {self.describe(tok)}", tok)
        if not NAME_RE.fullmatch(tok.text):
            raise ExpressionError(
                f"invalid name {tok.text!r}: names must match ^[A-Za-z_][A-Za-z0-9_]{{0,127}}$",
                tok.offset,
                tok.text,
            )
        return tok

    def name_expr(self) -> Expr:
        first = self.identifier()
        if self.at_op("."):
            self.advance()
            if self.tok.kind not in ("word", "qident"):
                raise self.error(
                    f"expected a column name after '{first.text}.', found {self.describe(self.tok)}",
                    name=first.text,
                )
            second = self.identifier()
            if self.at_op("."):
                raise self.error(
                    f"a column reference has exactly two parts (<qualifier>.<column>): "
                    f"'{first.text}.{second.text}.' has more",
                    name=f"{first.text}.{second.text}",
                )
            if self.at_op("("):
                raise self.error("qualified function names are not supported", name=first.text)
            return Column(qualifier=first.text, name=second.text)
        if first.kind == "word" and self.at_op("("):
            return self.call(first)
        upper = first.text.upper()
        if first.kind == "word" and upper in NILADIC:
            return Call(name=upper)
        raise ExpressionError(
            f"bare column name {first.text!r}: write payload.{first.text} for a payload field "
            f"or <alias>.{first.text} for a dimension column",
            first.offset,
            first.text,
        )

    def call(self, name_tok: Tok) -> Expr:
        name = name_tok.text.upper()
        if name in CONSTRUCTORS:
            raise ExpressionError(
                f"{name}(...) is not a Flink value constructor: write {name}[...] with square brackets",
                name_tok.offset,
            )
        if name == ITEM_ACCESS:
            raise ExpressionError(
                f"{name}(...) is not a Flink SQL function: write <array>[<index>] or <map>[<key>]",
                name_tok.offset,
            )
        refused = non_scalar_function(name)
        if refused is not None:
            # no `name`: the caller names the field, the message names the function
            raise ExpressionError(refused, name_tok.offset)
        self.expect_op("(")
        call = self.call_body(name)
        self.refuse_call_suffix(name)
        return call

    def refuse_call_suffix(self, name: str) -> None:
        """`OVER (...)`, `FILTER (WHERE ...)` and `WITHIN GROUP (...)` after a call: not scalar."""
        tok = self.tok
        word = tok.upper
        if word == "OVER":
            raise ExpressionError(
                f"{name}(...) OVER (...) is a window aggregate and is not supported in a request "
                f"(request format §3: the aggregates are {SUPPORTED_AGGREGATES_TEXT}, grouped by the key)",
                tok.offset,
            )
        if word == "FILTER" and self.peek().text == "(":
            raise ExpressionError(
                f"{name}(...) FILTER (WHERE ...) is not supported; aggregate a CASE instead, "
                f"e.g. {name}(CASE WHEN <condition> THEN <value> END)",
                tok.offset,
            )
        if word == "WITHIN" and self.peek().upper == "GROUP":
            raise ExpressionError(f"{name}(...) WITHIN GROUP (...) is not supported", tok.offset)

    def call_body(self, name: str) -> Expr:
        special = {
            "EXTRACT": self.extract_args,
            "TRIM": self.trim_args,
            "POSITION": self.position_args,
            "SUBSTRING": self.substring_args,
        }.get(name)
        if special is not None:
            special_args = special()
            self.expect_op(")", f"closing {name}(")
            return Call(name=name, args=tuple(special_args))
        if self.at_op("*"):
            if name != "COUNT":
                raise self.error(f"'*' is only allowed in COUNT(*), not in {name}(*)")
            self.advance()
            self.expect_op(")", "closing COUNT(*)")
            return Call(name=name, star=True)
        distinct = False
        if self.at_word("DISTINCT", "ALL") and name in AGGREGATES:
            distinct = self.advance().upper == "DISTINCT"
        args: list[Expr] = []
        if not self.at_op(")"):
            args.append(self.call_arg(name, first=True))
            while self.accept_op(","):
                args.append(self.call_arg(name, first=False))
            if name in ("FLOOR", "CEIL", "CEILING") and self.accept_word("TO"):
                args.append(self.time_unit())
        self.expect_op(")", f"closing {name}(")
        if distinct and not args:
            raise self.error(f"{name}(DISTINCT) needs an argument")
        return Call(name="CEIL" if name == "CEILING" else name, args=tuple(args), distinct=distinct)

    def call_arg(self, name: str, *, first: bool) -> Expr:
        if first and name in ("TIMESTAMPADD", "TIMESTAMPDIFF") and self.tok.upper in TIME_UNITS:
            return self.time_unit()
        return self.expr(0)

    def time_unit(self) -> Symbol:
        tok = self.tok
        if tok.upper not in TIME_UNITS:
            raise self.error(f"expected a time unit (YEAR, MONTH, DAY, ...), found {self.describe(tok)}")
        self.advance()
        return Symbol(name=tok.upper)

    def extract_args(self) -> list[Expr]:
        unit = self.time_unit()
        self.expect_word("FROM", "in EXTRACT(<unit> FROM <value>)")
        return [unit, self.expr(0)]

    def trim_args(self) -> list[Expr]:
        flag = "BOTH"
        if self.tok.upper in ("BOTH", "LEADING", "TRAILING"):
            flag = self.advance().upper
        chars: Expr = StringLit(value=" ")
        if self.accept_word("FROM"):
            return [Symbol(name=flag), chars, self.expr(0)]
        first = self.expr(0)
        if self.accept_word("FROM"):
            return [Symbol(name=flag), first, self.expr(0)]
        return [Symbol(name=flag), chars, first]

    def position_args(self) -> list[Expr]:
        needle = self.expr(_BP_PRED)
        self.expect_word("IN", "in POSITION(<needle> IN <text>)")
        return [needle, self.expr(0)]

    def substring_args(self) -> list[Expr]:
        value = self.expr(0)
        if self.accept_word("FROM"):
            args = [value, self.expr(0)]
            if self.accept_word("FOR"):
                args.append(self.expr(0))
            return args
        args = [value]
        while self.accept_op(","):
            args.append(self.expr(0))
        return args

    def case(self) -> Expr:
        start = self.advance()
        if self.at_word("END", "ELSE"):
            raise self.error("CASE needs at least one WHEN ... THEN")
        operand = None if self.at_word("WHEN") else self.expr(0)
        whens: list[When] = []
        while self.accept_word("WHEN"):
            condition = self.expr(0)
            self.expect_word("THEN", "in CASE ... WHEN")
            whens.append(When(condition=condition, result=self.expr(0)))
        if not whens:
            raise self.error("CASE needs at least one WHEN ... THEN")
        default = self.expr(0) if self.accept_word("ELSE") else None
        if not self.accept_word("END"):
            if self.tok.kind == "eof":
                raise self.error("CASE without END", start)
            raise self.error(f"expected WHEN, ELSE or END in CASE, found {self.describe(self.tok)}")
        return Case(operand=operand, whens=tuple(whens), default=default)

    def cast(self) -> Expr:
        safe = self.advance().upper == "TRY_CAST"
        self.expect_op("(")
        value = self.expr(0)
        self.expect_word("AS", "in CAST(<value> AS <type>)")
        start = self.tok.offset
        close = self.closing_paren()
        try:
            target = parse_type(self.text[start : self.tokens[close].offset])
        except TypeSyntaxError as exc:
            raise ExpressionError(f"invalid CAST target type: {exc.message}", start + exc.offset) from exc
        self.i = close
        self.expect_op(")", "closing CAST(")
        return Cast(expr=value, type=target, safe=safe)

    def interval(self) -> Expr:
        self.advance()
        sign = ""
        if self.tok.kind == "op" and self.tok.text in ("-", "+"):
            sign = "-" if self.advance().text == "-" else ""
        if self.tok.kind != "string":
            raise self.error("expected a quoted value after INTERVAL, e.g. INTERVAL '1' DAY")
        value = sign + self.advance().text
        unit = self.tok.upper
        if unit not in INTERVAL_UNITS:
            raise self.error(
                f"expected an interval unit ({', '.join(INTERVAL_UNITS)}), found {self.describe(self.tok)}"
            )
        self.advance()
        end_unit = None
        if self.accept_word("TO"):
            end_unit = self.tok.upper
            if end_unit not in INTERVAL_UNITS or INTERVAL_UNITS.index(end_unit) <= INTERVAL_UNITS.index(unit):
                raise self.error(f"invalid interval range {unit} TO {self.describe(self.tok)}")
            self.advance()
        return IntervalLit(value=value, unit=unit, end_unit=end_unit)


def parse_expression(text: str) -> Expr:
    """Parse exactly one Flink SQL scalar expression; raise `ExpressionError` on any fault."""
    if not isinstance(text, str):
        raise ExpressionError("expression must be text", 0)
    if not text.strip():
        raise ExpressionError("empty expression", 0)
    try:
        return Parser(text).parse()
    except RecursionError as exc:  # defensive: the depth limit should stop this first
        raise ExpressionError("expression is nested too deeply", 0) from exc
