"""A small pure Flink SQL lexer: tokens and statements (semicolons outside literals and comments).

Enough to check the *shape* of a script (statement kinds, table names, WITH options, SET
keys, string literals); it is not a parser. Shared so that no service imports another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SqlLexError(ValueError):
    """An unterminated literal, quoted identifier or comment."""


class TokenKind(StrEnum):
    WORD = "word"  # keyword or unquoted identifier
    IDENT = "ident"  # `quoted` or "quoted" identifier (value unquoted)
    STRING = "string"  # 'literal' (value unescaped)
    NUMBER = "number"
    SYMBOL = "symbol"  # one character: ( ) , ; = . and the rest


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    value: str
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind is TokenKind.WORD and self.value.upper() in words

    def is_symbol(self, symbol: str) -> bool:
        return self.kind is TokenKind.SYMBOL and self.value == symbol

    @property
    def is_name(self) -> bool:
        return self.kind in (TokenKind.WORD, TokenKind.IDENT)


@dataclass(frozen=True, slots=True)
class Statement:
    text: str  # the source text, trimmed, without the semicolon (comments inside kept)
    tokens: tuple[Token, ...]  # comments dropped

    def leading_words(self, count: int) -> list[str]:
        """The first `count` tokens upper-cased when they are words (others end the list)."""
        words: list[str] = []
        for token in self.tokens[:count]:
            if token.kind is not TokenKind.WORD:
                break
            words.append(token.value.upper())
        return words


def tokenize(script: str) -> list[Token]:
    """All tokens of `script` except whitespace and comments. Raises SqlLexError."""
    tokens: list[Token] = []
    i, n = 0, len(script)
    while i < n:
        ch = script[i]
        nxt = script[i + 1] if i + 1 < n else ""
        if ch.isspace():
            i += 1
        elif ch == "-" and nxt == "-":
            end = script.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == "/" and nxt == "*":
            end = script.find("*/", i + 2)
            if end < 0:
                raise SqlLexError(f"unterminated comment at offset {i}")
            i = end + 2
        elif ch in "'`\"":
            value, end = _quoted(script, i, ch)
            kind = TokenKind.STRING if ch == "'" else TokenKind.IDENT
            tokens.append(Token(kind, value, i, end))
            i = end
        elif ch.isalpha() or ch == "_":
            end = i + 1
            while end < n and (script[end].isalnum() or script[end] in "_$"):
                end += 1
            tokens.append(Token(TokenKind.WORD, script[i:end], i, end))
            i = end
        elif ch.isdigit():
            end = i + 1
            while end < n and (script[end].isalnum() or script[end] == "."):
                end += 1
            tokens.append(Token(TokenKind.NUMBER, script[i:end], i, end))
            i = end
        else:
            tokens.append(Token(TokenKind.SYMBOL, ch, i, i + 1))
            i += 1
    return tokens


def _quoted(script: str, start: int, quote: str) -> tuple[str, int]:
    """The unescaped body of the literal opening at `start` (doubled quotes escape) and its end."""
    parts: list[str] = []
    i, n = start + 1, len(script)
    while i < n:
        ch = script[i]
        if ch == quote:
            if i + 1 < n and script[i + 1] == quote:
                parts.append(quote)
                i += 2
                continue
            return "".join(parts), i + 1
        parts.append(ch)
        i += 1
    raise SqlLexError(f"unterminated {quote}-quoted text at offset {start}")


def split_statements(script: str) -> list[Statement]:
    """The script's statements (empty ones and comment-only ones dropped). Raises SqlLexError."""
    statements: list[Statement] = []
    current: list[Token] = []
    for token in tokenize(script):
        if token.is_symbol(";"):
            if current:
                statements.append(_statement(script, current))
            current = []
        else:
            current.append(token)
    if current:
        statements.append(_statement(script, current))
    return statements


def _statement(script: str, tokens: list[Token]) -> Statement:
    return Statement(text=script[tokens[0].start : tokens[-1].end].strip(), tokens=tuple(tokens))
