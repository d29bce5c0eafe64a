"""A small pure Flink SQL lexer: tokens and statements (semicolons outside literals and comments).

Enough to check the *shape* of a script (statement kinds, table names, WITH options, SET
keys, string literals); it is not a parser. Shared so that no service imports another's:
the generator checks its output with it, the router cuts the SQL it submits with it
(`keep_comments`), and the validator builds its statements on it (`strict=False`).
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
    # The source text, trimmed, without the semicolon: from the first token to the last
    # (comments between them kept), or with keep_comments all between the semicolons.
    text: str
    tokens: tuple[Token, ...]  # comments dropped; never empty

    def leading_words(self, count: int) -> list[str]:
        """The first `count` tokens upper-cased when they are words (others end the list)."""
        words: list[str] = []
        for token in self.tokens[:count]:
            if token.kind is not TokenKind.WORD:
                break
            words.append(token.value.upper())
        return words

    @property
    def is_insert(self) -> bool:
        """A plain `INSERT ...` (comments before it allowed)."""
        return self.leading_words(1) == ["INSERT"]

    @property
    def submits_job(self) -> bool:
        """It starts a Flink job: INSERT, EXECUTE STATEMENT SET or EXECUTE INSERT."""
        words = self.leading_words(3)
        if words[:1] == ["INSERT"] or words[:2] == ["EXECUTE", "INSERT"]:
            return True
        return words == ["EXECUTE", "STATEMENT", "SET"]


def tokenize(script: str, *, strict: bool = True) -> list[Token]:
    """All tokens of `script` except whitespace and comments.

    An unterminated literal, quoted identifier or comment raises SqlLexError; with
    strict=False it runs to the end of the script instead (the engine reports the real error).
    """
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
            if end < 0 and strict:
                raise SqlLexError(f"unterminated comment at offset {i}")
            i = n if end < 0 else end + 2
        elif ch in "'`\"":
            value, end = _quoted(script, i, ch, strict=strict)
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


def _quoted(script: str, start: int, quote: str, *, strict: bool) -> tuple[str, int]:
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
    if not strict:
        return "".join(parts), n
    raise SqlLexError(f"unterminated {quote}-quoted text at offset {start}")


def split_statements(script: str, *, keep_comments: bool = False, strict: bool = True) -> list[Statement]:
    """The script's statements (empty ones and comment-only ones dropped).

    A statement's text runs from its first token to its last; with keep_comments it is all
    the script holds between its semicolons (trimmed), so the comments before a statement
    (and after its last token) stay with it. Raises SqlLexError unless strict=False (see
    `tokenize`).
    """
    statements: list[Statement] = []
    current: list[Token] = []
    begin = 0  # where the current piece starts: the script's start or just after a semicolon
    for token in tokenize(script, strict=strict):
        if token.is_symbol(";"):
            if current:
                statements.append(
                    _statement(script, current, (begin, token.start) if keep_comments else None)
                )
            current = []
            begin = token.end
        else:
            current.append(token)
    if current:
        statements.append(_statement(script, current, (begin, len(script)) if keep_comments else None))
    return statements


def _statement(script: str, tokens: list[Token], piece: tuple[int, int] | None) -> Statement:
    """The statement of `tokens`; its text is `piece` of the script when given, else tokens' span."""
    begin, end = piece or (tokens[0].start, tokens[-1].end)
    return Statement(text=script[begin:end].strip(), tokens=tuple(tokens))
