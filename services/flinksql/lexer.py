"""The one Flink SQL lexer of the code base: tokens with offsets, lines and columns.

It follows Flink's own lexical rules (Calcite's `Parser.jj` as Flink configures it) wherever a
difference could change which statements a script holds:

- `--` and `//` comments run to the next `\\r` or `\\n` (not only `\\n`: Flink ends them at a
  lone carriage return, so text after it is live SQL);
- `/* ... */` comments do not nest, and `/**` plus one more character opens a doc comment
  whose `*/` must come after it (`/***/` does not close itself);
- `/*+ ... */` hints are one HINT token, significant, whose body is lexed (a `*/` inside a
  literal does not end it);
- `'...'` strings and `` `...` `` identifiers escape their quote by doubling it;
  `"..."` is read as an identifier (lenient: Flink's default config rejects it, and the
  engine reports that);
- `U&'...'` strings decode `\\XXXX` / `\\+XXXXXX` escapes (and an optional `UESCAPE 'c'`);
  `E'...'` strings take backslash escapes;
- whitespace is space, tab, `\\n`, `\\r` and form feed; strict mode rejects other Unicode
  spaces (Flink does), lenient mode reads them as whitespace;
- identifiers start with a letter, `_` or `$`; numbers are `1`, `1.5`, `.5`, `1e-3`;
- lines end at `\\n`, `\\r\\n` or a lone `\\r` (as JavaCC counts them); columns count characters.

With `strict=True` an unterminated literal, identifier or comment (or a bad unicode escape)
raises `LexError`; with `strict=False` it runs to the end of the script, marked
`terminated=False`, so the engine can report the real error. Every other character becomes a
`SYMBOL` token: deciding what is allowed is the parsers' job.

One deliberate difference: Flink's lexer reads a bare `"` as a symbol (the script then fails to
parse); here `"..."` is one identifier token. So a `;` between double quotes never starts a
statement for us, and a script Flink rejects can never be cut into statements that it accepts
one by one.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from enum import StrEnum


class TokenKind(StrEnum):
    WORD = "word"  # keyword or unquoted identifier
    IDENT = "ident"  # `quoted` (or "quoted") identifier; value unquoted
    STRING = "string"  # 'literal' or U&'literal'; value unescaped
    NUMBER = "number"
    SYMBOL = "symbol"  # an operator or punctuation: ( ) , ; = . <> <= >= != || => and the rest
    HINT = "hint"  # /*+ ... */: part of the statement (hints change plans and table options)
    WHITESPACE = "whitespace"  # only with trivia=True
    COMMENT = "comment"  # only with trivia=True


class LexError(ValueError):
    """Text no Flink lexer accepts: an unterminated literal or comment, a bad unicode escape."""

    def __init__(self, message: str, offset: int, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.message = message
        self.offset = offset
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # the source text of the token
    value: str  # unquoted / unescaped for IDENT and STRING, else the text
    start: int  # offsets in the lexed text, end exclusive
    end: int
    line: int  # 1-based, where the token starts
    column: int  # 1-based
    terminated: bool = True

    @property
    def upper(self) -> str:
        """The word upper-cased; empty for every other kind."""
        return self.text.upper() if self.kind is TokenKind.WORD else ""

    def is_word(self, *words: str) -> bool:
        return self.kind is TokenKind.WORD and self.text.upper() in words

    def is_symbol(self, *symbols: str) -> bool:
        return self.kind is TokenKind.SYMBOL and self.text in symbols

    @property
    def is_name(self) -> bool:
        """A word or a quoted identifier (either may name a table or column)."""
        return self.kind in (TokenKind.WORD, TokenKind.IDENT)

    @property
    def is_trivia(self) -> bool:
        return self.kind in (TokenKind.WHITESPACE, TokenKind.COMMENT)


# Multi-character operators, longest first; every other character is a one-character symbol.
OPERATORS = ("<>", "<=", ">=", "!=", "||", "=>")
_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_FLINK_WHITESPACE = frozenset(" \t\n\r\f")
_C_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0"}


class Positions:
    """Maps offsets of a text to 1-based (line, column); `\\r\\n`, `\\r` and `\\n` end lines."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]

    def line_column(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self._starts, offset) - 1
        return index + 1, offset - self._starts[index] + 1

    def offset(self, line: int, column: int) -> int:
        """The offset of a 1-based (line, column) (clamped to the text's lines)."""
        index = min(max(line, 1), len(self._starts)) - 1
        return self._starts[index] + max(column, 1) - 1


def _is_word_start(ch: str) -> bool:
    return ch.isalpha() or ch in "_$"


def _is_word_part(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


class _Scanner:
    def __init__(self, text: str, *, strict: bool, trivia: bool) -> None:
        self.text = text
        self.strict = strict
        self.trivia = trivia
        self.positions = Positions(text)
        self.tokens: list[Token] = []

    def fail(self, message: str, offset: int) -> LexError:
        line, column = self.positions.line_column(offset)
        return LexError(message, offset, line, column)

    def emit(
        self, kind: TokenKind, start: int, end: int, value: str | None = None, *, ok: bool = True
    ) -> None:
        if not self.trivia and kind in (TokenKind.WHITESPACE, TokenKind.COMMENT):
            return
        text = self.text[start:end]
        line, column = self.positions.line_column(start)
        self.tokens.append(Token(kind, text, text if value is None else value, start, end, line, column, ok))

    def run(self) -> list[Token]:  # noqa: C901, PLR0912 - one branch per token class, in Calcite's order
        text, n, i = self.text, len(self.text), 0
        while i < n:
            ch = text[i]
            two = text[i : i + 2]
            if ch.isspace():
                end = i + 1
                while end < n and text[end].isspace():
                    end += 1
                if self.strict:
                    self.check_whitespace(i, end)
                self.emit(TokenKind.WHITESPACE, i, end)
            elif two in ("--", "//"):
                end = i + 2
                while end < n and text[end] not in "\r\n":
                    end += 1
                self.emit(TokenKind.COMMENT, i, end)
            elif text.startswith("/*+", i):
                end = self.hint(i)
            elif two == "/*":
                # `/**` and one more character open a doc comment whose `*/` comes after them,
                # so `/***/` does not close itself (Calcite's DOC_COMMENT).
                body = i + 4 if text.startswith("/**", i) and text[i + 3 : i + 4] not in ("/", "") else i + 2
                close = text.find("*/", body)
                if close < 0 and self.strict:
                    raise self.fail("unterminated /* comment", i)
                end = n if close < 0 else close + 2
                self.emit(TokenKind.COMMENT, i, end, ok=close >= 0)
            elif ch in "eE" and text.startswith("'", i + 1):
                end = self.c_style_string(i)
            elif ch in "'`\"":
                end, value, ok = self.quoted(i, ch)
                self.emit(TokenKind.STRING if ch == "'" else TokenKind.IDENT, i, end, value, ok=ok)
            elif ch in "uU" and text.startswith("&'", i + 1):
                end = self.unicode_string(i)
            elif _is_word_start(ch):
                end = i + 1
                while end < n and _is_word_part(text[end]):
                    end += 1
                self.emit(TokenKind.WORD, i, end)
            elif ch in _DIGITS or (ch == "." and i + 1 < n and text[i + 1] in _DIGITS):
                match = _NUMBER.match(text, i)
                end = match.end() if match else i + 1
                self.emit(TokenKind.NUMBER, i, end)
            else:
                op = next((op for op in OPERATORS if text.startswith(op, i)), ch)
                end = i + len(op)
                self.emit(TokenKind.SYMBOL, i, end)
            i = end
        return self.tokens

    def check_whitespace(self, start: int, end: int) -> None:
        """Flink's whitespace is space, tab, \n, \r and form feed; others are lexical errors there."""
        for k in range(start, end):
            if self.text[k] not in _FLINK_WHITESPACE:
                raise self.fail(
                    f"U+{ord(self.text[k]):04X} is not whitespace in Flink SQL: use a plain space", k
                )

    def quoted(self, start: int, quote: str) -> tuple[int, str, bool]:
        """End offset, unescaped value and terminated flag of the literal opening at `start`."""
        text, parts, i = self.text, [], start + 1
        while True:
            j = text.find(quote, i)
            if j < 0:
                if self.strict:
                    what = "string literal" if quote == "'" else "identifier"
                    raise self.fail(f"unterminated {what}", start)
                parts.append(text[i:])
                return len(text), "".join(parts), False
            parts.append(text[i:j])
            if text.startswith(quote * 2, j):
                parts.append(quote)
                i = j + 2
                continue
            value = "".join(parts)
            if quote == "`" and self.strict and (not value or "\n" in value or "\r" in value):
                raise self.fail("a backquoted identifier is empty or holds a line break", start)
            return j + 1, value, True

    def hint(self, start: int) -> int:
        """`/*+ ... */`: Flink lexes a hint's body as tokens, so a `*/` inside a literal does
        not end it. One HINT token, significant: a hint belongs to its statement."""
        text, n, i = self.text, len(self.text), start + 3
        while i < n and not text.startswith("*/", i):
            if text[i] in "'`":
                i, _, ok = self.quoted(i, text[i])
                if not ok:
                    break
            else:
                i += 1
        ok = text.startswith("*/", i)
        if not ok and self.strict:
            raise self.fail("unterminated /*+ hint", start)
        end = i + 2 if ok else n
        self.emit(TokenKind.HINT, start, end, ok=ok)
        return end

    def c_style_string(self, start: int) -> int:
        """`E'...'`: backslash escapes the next character (and `''` is a quote), as in Calcite."""
        text, n, i = self.text, len(self.text), start + 2
        parts: list[str] = []
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n:
                parts.append(_C_ESCAPES.get(text[i + 1], text[i + 1]))
                i += 2
            elif ch == "'" and text.startswith("''", i):
                parts.append("'")
                i += 2
            elif ch == "'":
                self.emit(TokenKind.STRING, start, i + 1, "".join(parts))
                return i + 1
            else:
                parts.append(ch)
                i += 1
        if self.strict:
            raise self.fail("unterminated string literal", start)
        self.emit(TokenKind.STRING, start, n, "".join(parts), ok=False)
        return n

    def unicode_string(self, start: int) -> int:
        """`U&'...'` with an optional `UESCAPE 'c'`, as one STRING token whose value is decoded."""
        end, raw, ok = self.quoted(start + 2, "'")
        escape = "\\"
        clause = re.compile(r"\s+UESCAPE\s+'([^'])'", re.IGNORECASE).match(self.text, end)
        if clause is not None and ok:
            escape, end = clause.group(1), clause.end()
        try:
            value = decode_unicode_escapes(raw, escape) if ok else raw
        except ValueError as exc:
            if self.strict:
                raise self.fail(str(exc), start) from exc
            value = raw
        self.emit(TokenKind.STRING, start, end, value, ok=ok)
        return end


def decode_unicode_escapes(raw: str, escape: str = "\\") -> str:
    """The text of a `U&'...'` body: `<esc>XXXX`, `<esc>+XXXXXX` and `<esc><esc>` decoded."""
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch != escape:
            out.append(ch)
            i += 1
            continue
        if raw.startswith(escape, i + 1):
            out.append(escape)
            i += 2
            continue
        width, at = (6, i + 2) if raw.startswith("+", i + 1) else (4, i + 1)
        digits = raw[at : at + width]
        if len(digits) != width or not set(digits) <= _HEX:
            raise ValueError(f"bad unicode escape {raw[i : at + width]!r} in U&'...' string")
        code = int(digits, 16)
        if code > 0x10FFFF:
            raise ValueError(f"unicode escape {raw[i : at + width]!r} is beyond U+10FFFF")
        out.append(chr(code))
        i = at + width
    return "".join(out)


def tokenize(text: str, *, strict: bool = True, trivia: bool = False) -> list[Token]:
    """The tokens of `text`; whitespace and comments only with `trivia=True` (then every
    character of the text is in exactly one token). Raises `LexError` when `strict`."""
    return _Scanner(text, strict=strict, trivia=trivia).run()


def significant(tokens: list[Token]) -> list[Token]:
    """The tokens without whitespace and comments."""
    return [t for t in tokens if not t.is_trivia]
