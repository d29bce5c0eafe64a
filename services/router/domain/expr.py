"""The routing rules' condition language: a small, safe expression parser and evaluator.

Conditions are data, never code: this module tokenises and parses them itself (no `eval`,
no `compile`, no attribute access), and evaluates the tree over a flat mapping of facts.

    score < 85 && critical == 0
    'SQL_SELECT_STAR' in codes or dimension.performance < 60
    change_risk in ['medium', 'high'] and not duplicate
    any_prefix(codes, 'ER_') || len(critical_codes) > 2

Grammar (lowest precedence first)::

    expr    := or
    or      := and (('||' | 'or') and)*
    and     := not (('&&' | 'and') not)*
    not     := ('!' | 'not') not | cmp
    cmp     := primary (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in') primary)?
    primary := NUMBER | STRING | 'true' | 'false' | 'null' | NAME ('.' NAME)*
             | FUNC '(' [expr (',' expr)*] ')' | '[' [expr (',' expr)*] ']' | '(' expr ')'

Values are numbers, strings, booleans, null and lists. Semantics are strict: `&&`, `||` and
`!` need booleans; ordering compares two numbers or two strings; any comparison with null
other than `==`/`!=` is false; `x in list` tests membership, `s in string` a substring.
A type error while evaluating raises `ExprError` (the rule engine then skips the rule and
says why). Names are checked when the condition is compiled, so a typo in a rule file fails
at start-up, not at the first run it would have matched. Limits keep hostile input cheap:
at most 2,000 characters, 400 tokens and 32 levels of nesting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

Value: TypeAlias = "float | int | bool | str | tuple[Value, ...] | None"

MAX_LENGTH = 2000
MAX_TOKENS = 400
MAX_DEPTH = 32

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|\[|\]|,|\.|-)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


class ExprError(ValueError):
    """A condition that does not parse, names an unknown fact, or meets a type error."""


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # number, string, op, name, kw, end
    text: str
    pos: int


# --- the tree ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lit:
    value: Value


@dataclass(frozen=True, slots=True)
class Name:
    path: str


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # == != < <= > >= in notin
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]


Node: TypeAlias = Lit | Name | ListExpr | Not | BoolOp | Compare | Call


def _len(args: Sequence[Value]) -> Value:
    (value,) = args
    if isinstance(value, (tuple, str)):
        return len(value)
    raise ExprError(f"len() needs a list or a string, got {_type_name(value)}")


def _starts_with(args: Sequence[Value]) -> Value:
    text, prefix = args
    if isinstance(text, str) and isinstance(prefix, str):
        return text.startswith(prefix)
    if text is None:
        return False
    raise ExprError("starts_with() needs two strings")


def _any_prefix(args: Sequence[Value]) -> Value:
    values, prefix = args
    if isinstance(values, tuple) and isinstance(prefix, str):
        return any(isinstance(v, str) and v.startswith(prefix) for v in values)
    raise ExprError("any_prefix() needs a list and a string prefix")


# name -> (arity, implementation)
FUNCTIONS: dict[str, tuple[int, Callable[[Sequence[Value]], Value]]] = {
    "len": (1, _len),
    "starts_with": (2, _starts_with),
    "any_prefix": (2, _any_prefix),
}


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition: its source text and tree; `evaluate(facts)` gives a bool."""

    source: str
    tree: Node

    def evaluate(self, facts: Mapping[str, Value]) -> bool:
        result = _eval(self.tree, facts)
        if not isinstance(result, bool):
            raise ExprError(f"condition {self.source!r} gave {_type_name(result)}, not true/false")
        return result


def compile_condition(source: str, known: Callable[[str], bool] | None = None) -> Condition:
    """Parse `source`; every fact name must satisfy `known` (when given). Raises ExprError."""
    if not isinstance(source, str) or not source.strip():
        raise ExprError("a condition must be a non-empty string")
    if len(source) > MAX_LENGTH:
        raise ExprError(f"condition longer than {MAX_LENGTH} characters")
    parser = _Parser(source, _tokenize(source), known)
    tree = parser.parse()
    return Condition(source, tree)


def _tokenize(source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise ExprError(f"unexpected character {source[pos]!r} at column {pos + 1}")
        kind = match.lastgroup or ""
        text = match.group()
        if kind != "ws":
            if kind == "name" and text in _KEYWORDS:
                kind = "kw"
            tokens.append(_Tok(kind, text, pos))
            if len(tokens) > MAX_TOKENS:
                raise ExprError(f"condition has more than {MAX_TOKENS} tokens")
        pos = match.end()
    tokens.append(_Tok("end", "", len(source)))
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                raise ExprError(f"unknown escape \\{nxt} in string {text}")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


class _Parser:
    def __init__(self, source: str, tokens: list[_Tok], known: Callable[[str], bool] | None) -> None:
        self._source = source
        self._tokens = tokens
        self._i = 0
        self._depth = 0
        self._known = known

    def parse(self) -> Node:
        node = self._or()
        tok = self._peek()
        if tok.kind != "end":
            raise self._error(f"unexpected {tok.text!r}", tok)
        return node

    # helpers
    def _peek(self) -> _Tok:
        return self._tokens[self._i]

    def _next(self) -> _Tok:
        tok = self._tokens[self._i]
        self._i += 1
        return tok

    def _accept(self, *texts: str) -> _Tok | None:
        tok = self._peek()
        if tok.kind in ("op", "kw") and tok.text in texts:
            self._i += 1
            return tok
        return None

    def _expect(self, text: str) -> None:
        if self._accept(text) is None:
            tok = self._peek()
            raise self._error(f"expected {text!r}, found {tok.text or 'the end'!r}", tok)

    def _error(self, message: str, tok: _Tok) -> ExprError:
        return ExprError(f"{message} at column {tok.pos + 1} in {self._source!r}")

    def _nest(self, tok: _Tok) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._error(f"nested deeper than {MAX_DEPTH} levels", tok)

    # grammar
    def _or(self) -> Node:
        operands = [self._and()]
        while self._accept("||", "or"):
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def _and(self) -> Node:
        operands = [self._not()]
        while self._accept("&&", "and"):
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def _not(self) -> Node:
        tok = self._peek()
        if self._accept("!", "not"):
            self._nest(tok)
            node = Not(self._not())
            self._depth -= 1
            return node
        return self._cmp()

    def _cmp(self) -> Node:
        left = self._primary()
        tok = self._peek()
        if tok.kind == "op" and tok.text in _COMPARISONS:
            self._next()
            return Compare(tok.text, left, self._primary())
        if self._accept("in"):
            return Compare("in", left, self._primary())
        if tok.kind == "kw" and tok.text == "not" and self._tokens[self._i + 1].text == "in":
            self._i += 2
            return Compare("notin", left, self._primary())
        return left

    def _primary(self) -> Node:  # noqa: C901, PLR0911, PLR0912 - one branch per token kind
        tok = self._next()
        if tok.kind == "number":
            number = float(tok.text)
            if not math.isfinite(number):
                raise self._error("number out of range", tok)
            return Lit(int(number) if number.is_integer() and "." not in tok.text else number)
        if tok.kind == "op" and tok.text == "-":
            nxt = self._next()
            if nxt.kind != "number":
                raise self._error("'-' must be followed by a number", tok)
            return Lit(-float(nxt.text) if "." in nxt.text or "e" in nxt.text.lower() else -int(nxt.text))
        if tok.kind == "string":
            return Lit(_unquote(tok.text))
        if tok.kind == "kw" and tok.text in ("true", "false", "null"):
            return Lit({"true": True, "false": False, "null": None}[tok.text])
        if tok.kind == "op" and tok.text == "(":
            self._nest(tok)
            node = self._or()
            self._expect(")")
            self._depth -= 1
            return node
        if tok.kind == "op" and tok.text == "[":
            self._nest(tok)
            items = self._items("]")
            self._depth -= 1
            return ListExpr(items)
        if tok.kind == "name":
            if self._peek().text == "(" and self._peek().kind == "op":
                return self._call(tok)
            parts = [tok.text]
            while self._accept("."):
                part = self._next()
                if part.kind not in ("name", "kw"):
                    raise self._error("expected a name after '.'", part)
                parts.append(part.text)
            path = ".".join(parts)
            if self._known is not None and not self._known(path):
                raise self._error(f"unknown fact {path!r}", tok)
            return Name(path)
        raise self._error(f"unexpected {tok.text or 'end of condition'!r}", tok)

    def _call(self, tok: _Tok) -> Node:
        if tok.text not in FUNCTIONS:
            raise self._error(f"unknown function {tok.text!r} (known: {', '.join(sorted(FUNCTIONS))})", tok)
        self._expect("(")
        self._nest(tok)
        args = self._items(")")
        self._depth -= 1
        arity = FUNCTIONS[tok.text][0]
        if len(args) != arity:
            raise self._error(f"{tok.text}() takes {arity} argument(s), got {len(args)}", tok)
        return Call(tok.text, args)

    def _items(self, closing: str) -> tuple[Node, ...]:
        items: list[Node] = []
        if self._accept(closing):
            return ()
        items.append(self._or())
        while self._accept(","):
            items.append(self._or())
        self._expect(closing)
        return tuple(items)


# --- evaluation -------------------------------------------------------------------------


def _type_name(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list"


def _is_number(value: Value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(left: Value, right: Value) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right) and not (isinstance(left, tuple) and isinstance(right, tuple)):
        return False
    return left == right


def _eval(node: Node, facts: Mapping[str, Value]) -> Value:  # noqa: PLR0911 - one case per node
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Name):
        return facts.get(node.path)
    if isinstance(node, ListExpr):
        return tuple(_eval(item, facts) for item in node.items)
    if isinstance(node, Not):
        return not _truth(_eval(node.operand, facts), "!")
    if isinstance(node, BoolOp):
        if node.op == "and":
            return all(_truth(_eval(o, facts), "&&") for o in node.operands)
        return any(_truth(_eval(o, facts), "||") for o in node.operands)
    if isinstance(node, Call):
        return FUNCTIONS[node.func][1]([_eval(a, facts) for a in node.args])
    return _compare(node, _eval(node.left, facts), _eval(node.right, facts))


def _truth(value: Value, op: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ExprError(f"{op} needs true/false, got {_type_name(value)}")


def _compare(node: Compare, left: Value, right: Value) -> bool:
    op = node.op
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op in ("in", "notin"):
        if right is None:
            found = False
        elif isinstance(right, tuple):
            found = any(_equal(left, item) for item in right)
        elif isinstance(right, str) and isinstance(left, str):
            found = left in right
        else:
            raise ExprError(f"'in' needs a list or a string on the right, got {_type_name(right)}")
        return found if op == "in" else not found
    if left is None or right is None:
        return False
    if _is_number(left) and _is_number(right):
        a, b = float(left), float(right)  # type: ignore[arg-type]
    elif isinstance(left, str) and isinstance(right, str):
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    else:
        raise ExprError(
            f"{op} compares two numbers or two strings, got {_type_name(left)} and {_type_name(right)}"
        )
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
