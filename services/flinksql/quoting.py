"""Quoting for Flink SQL text: the only way a name or a value from a request reaches SQL.

Names are backquoted with backquotes doubled, literals single-quoted with quotes doubled,
exactly the escapes the lexer (`services.flinksql.lexer`) undoes, so that
`tokenize(quote_identifier(x))[0].value == x` for every string `x`.
"""

from __future__ import annotations

import re

# The names a request may give tables, columns, fields and aliases: never quoted away, so a
# name is safe in SQL, in a path and in a metric label alike.
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def quote_identifier(name: str) -> str:
    """A backquoted Flink identifier (backquotes doubled). Flink cannot lex an empty one or
    one with a line break, so those raise ValueError rather than become broken SQL."""
    if not name or "\n" in name or "\r" in name:
        raise ValueError(f"{name!r} cannot be a Flink identifier (empty or has a line break)")
    return "`" + name.replace("`", "``") + "`"


def quote_string(text: str) -> str:
    """A single-quoted Flink string literal (quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def unquote(token_text: str) -> str:
    """The value of a '...', `...` or "..." literal (doubled quotes undone); other text as is."""
    if len(token_text) >= 2 and token_text[0] in "'`\"" and token_text[-1] == token_text[0]:
        quote = token_text[0]
        return token_text[1:-1].replace(quote + quote, quote)
    return token_text
