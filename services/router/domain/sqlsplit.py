"""Split a Flink SQL script into statements (semicolons outside strings, identifiers and comments)."""

from __future__ import annotations


def split_statements(script: str) -> list[str]:
    """The script's statements, trimmed, without the terminating semicolons; comments kept inside."""
    statements: list[str] = []
    buf: list[str] = []
    i, n = 0, len(script)
    quote: str | None = None
    while i < n:
        ch = script[i]
        nxt = script[i + 1] if i + 1 < n else ""
        if quote is not None:
            buf.append(ch)
            if ch == quote:
                if nxt == quote:  # doubled quote inside a literal
                    buf.append(nxt)
                    i += 1
                else:
                    quote = None
        elif ch in ("'", "`", '"'):
            quote = ch
            buf.append(ch)
        elif ch == "-" and nxt == "-":
            end = script.find("\n", i)
            end = n if end < 0 else end
            buf.append(script[i:end])
            i = end
            continue
        elif ch == "/" and nxt == "*":
            end = script.find("*/", i + 2)
            end = n if end < 0 else end + 2
            buf.append(script[i:end])
            i = end
            continue
        elif ch == ";":
            _flush(buf, statements)
            buf = []
        else:
            buf.append(ch)
        i += 1
    _flush(buf, statements)
    return statements


def _flush(buf: list[str], statements: list[str]) -> None:
    text = "".join(buf).strip()
    if text and not _only_comments(text):
        statements.append(text)


def _only_comments(text: str) -> bool:
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            lines.append(stripped)
    rest = "\n".join(lines)
    while "/*" in rest:
        start = rest.find("/*")
        end = rest.find("*/", start)
        rest = rest[:start] + (rest[end + 2 :] if end >= 0 else "")
    return not rest.strip()


def is_job_statement(statement: str) -> bool:
    """True for statements that submit a Flink job (INSERT, EXECUTE STATEMENT SET, BEGIN STATEMENT SET)."""
    words = _leading_words(statement, 3)
    return bool(words) and (
        words[0] == "INSERT"
        or words[:3] == ["EXECUTE", "STATEMENT", "SET"]
        or words[:2] == ["EXECUTE", "INSERT"]
    )


def is_insert(statement: str) -> bool:
    """True for a plain INSERT (comments before it allowed)."""
    words = _leading_words(statement, 1)
    return words == ["INSERT"]


def _leading_words(statement: str, count: int) -> list[str]:
    body = "\n".join(line for line in statement.splitlines() if not line.strip().startswith("--"))
    while body.lstrip().startswith("/*"):
        end = body.find("*/")
        body = body[end + 2 :] if end >= 0 else ""
    return [w.upper() for w in body.split()[:count]]
