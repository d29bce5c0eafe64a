"""Credentials never at rest: a literal credential in a request is redacted at intake.

Ingest keeps a request's text (the request store, the RequestSubmitted event) and its spec (the
store, RequestAccepted, and from there every other service, the knowledge base and its
exports). A password written into the document would reach all of them. So before anything is
kept, `redact_document` replaces each literal credential in the text by `[redacted]`, and the
check turns each redacted place into the secret reference the generator would use, with a
Warning (`secrets.redacted`) naming the table, the option and the line.

What is a literal credential (docs/security.md, Credentials):

- the value of a WITH option whose key names a credential (`password`, `passwd`, `pwd`,
  `secret`, `token`, `credential`, `access-key`, `secret-key`, `private-key`,
  `sasl.jaas.config`, ...): the generator never emits those values anyway, it writes
  `${secret:<prefix>-<table>-<key>}`;
- in a URL-like option value (and in any other line of the document, prose included): the
  password of `scheme://user:password@host`, of Oracle's `jdbc:oracle:thin:user/password@host`,
  and the value of a `password=` / `pwd=` / `...token=` parameter after `?`, `;` or `&`.

A `${secret:NAME}` value is left alone (the secret-reference check reports it). The text keeps its
lines (a redacted literal that spanned lines keeps its line breaks), so every line number of
the check stays true; a document that needed redaction is kept with `\\n` line endings. The
redaction is idempotent: `[redacted]` is recognised as already redacted, and the check of a
redacted text gives the same spec and warnings as the check of the original.

Every scan is linear: the SQL lexer, `str.find` and splitting; no backtracking pattern runs over
text of unbounded length.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from services.flinksql.job_policy import secret_name
from services.flinksql.lexer import Token, TokenKind, tokenize
from services.flinksql.quoting import quote_string
from services.flinksql.spec import Dimension, Table
from services.ingest.domain.document import split_lines
from services.ingest.domain.errors import Issues
from services.ingest.domain.parse import RawDocument, parse_document

PLACEHOLDER = "[redacted]"
CODE = "secrets.redacted"
# The generator's default prefix for the secrets it names (`JdbcProfile.password_secret_prefix`);
# a profile may choose another, and the generator then writes its own reference in the job: the
# spec's reference is a placeholder, and the warning states the naming rule, not one name.
SECRET_PREFIX = "streamwright-jdbc"  # noqa: S105 - a name prefix, not a secret
# Option keys whose value is a credential: the generator's `SENSITIVE_OPTION` and the
# validator's literal-credential keys together.
CREDENTIAL_KEY = re.compile(
    r"(password|passwd|secret|access[-_.]?key|accesskey|token|credential|jaas\.config"
    r"|private[-_.]?key|(^|[._-])pwd$)",
    re.IGNORECASE,
)
# A URL parameter name that holds a credential (`password=`, `pwd=`, `sslpassword=`, `token=`).
_CREDENTIAL_PARAM = re.compile(
    r"(password|passwd|pwd|secret|token|access[-_.]?key|credential)$", re.IGNORECASE
)
_REFERENCE = re.compile(r"\$\{secret:[A-Za-z0-9][A-Za-z0-9._-]{0,252}\}")
_ORACLE = re.compile(r"jdbc:oracle:[A-Za-z0-9]+:", re.IGNORECASE)
# Connectors whose tables take 'username' / 'password' options (a URL credential moves there).
_USER_PASSWORD_CONNECTORS = re.compile(r"(jdbc|elasticsearch-\d+|opensearch(-\d+)?)", re.IGNORECASE)
_HINT = (
    "never write a credential in a request: store the value in that Kubernetes Secret (key `value`) "
    "before deploying; the generated job lists the exact names it reads (README, Secrets; "
    "secrets: in config/<domain>-job.yml), docs/generated-job.md, Secrets"
)
# What ends a URL's authority or parameter: in a decoded SQL value, and in free text.
_VALUE_STOPS = frozenset(" \t\r\n\f\v/?#")
_TEXT_STOPS = _VALUE_STOPS | frozenset("'\"`<>()[]{}|\\")
_PARAM_STOPS = frozenset("&;# \t\r\n\f\v")
_TEXT_PARAM_STOPS = _PARAM_STOPS | frozenset("'\"`<>()[]{}|\\,")


@dataclass(frozen=True)
class Finding:
    """One credential found (literal now, or redacted before): where, and what it becomes."""

    block: str
    line: int
    table: str | None
    option: str | None
    in_url: bool


@dataclass
class Redaction:
    """The text with every literal credential replaced, and the places found."""

    text: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.findings)


def secret_reference(table: str, key: str) -> str:
    """The reference the generator writes for a credential option (default profile)."""
    return "${secret:" + secret_name(SECRET_PREFIX, table, key) + "}"


def is_credential_key(key: str) -> bool:
    return bool(CREDENTIAL_KEY.search(key))


def _is_reference(value: str) -> bool:
    return bool(_REFERENCE.fullmatch(value.strip()))


def _is_placeholder(value: str) -> bool:
    return value.strip() == PLACEHOLDER


# --- finding credentials in one string -------------------------------------------------------


def url_credential_spans(value: str, *, free_text: bool = False) -> list[tuple[int, int]]:
    """The spans of the passwords in `value`'s URLs: `user:PW@`, Oracle `user/PW@`, `password=PW`.

    `free_text`: `value` is a line of prose (quotes and brackets end a URL), not an option value.
    """
    stops = _TEXT_STOPS if free_text else _VALUE_STOPS
    spans = list(_userinfo_spans(value, stops))
    spans += _oracle_spans(value, stops)
    if "://" in value or value.lower().startswith("jdbc:") or free_text:
        spans += _param_spans(value, _TEXT_PARAM_STOPS if free_text else _PARAM_STOPS)
    spans = sorted({s for s in spans if s[1] > s[0]})
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _end_of(value: str, start: int, stops: frozenset[str]) -> int:
    end = start
    while end < len(value) and value[end] not in stops:
        end += 1
    return end


def _userinfo_spans(value: str, stops: frozenset[str]) -> Iterator[tuple[int, int]]:
    index = value.find("://")
    while index >= 0:
        start = index + 3
        end = _end_of(value, start, stops)
        authority = value[start:end]
        at = authority.rfind("@")
        if at > 0:
            colon = authority.find(":", 0, at)
            if colon >= 0:
                yield start + colon + 1, start + at
        index = value.find("://", max(end, start))


def _oracle_spans(value: str, stops: frozenset[str]) -> Iterator[tuple[int, int]]:
    for match in _ORACLE.finditer(value):
        start = match.end()
        end = _end_of(value, start, stops - {"/"})
        segment = value[start:end]
        at = segment.find("@")
        slash = segment.find("/", 0, at) if at > 0 else -1
        if slash >= 0:
            yield start + slash + 1, start + at


def _params(value: str, stops: frozenset[str]) -> list[tuple[int, int, int]]:
    """Each credential parameter: (index of its `?`/`&`/`;`, index of its `=`, end of its value)."""
    found: list[tuple[int, int, int]] = []
    index = 0
    while index < len(value):
        eq = value.find("=", index)
        if eq < 0:
            break
        name_start = eq
        while name_start > index and (value[name_start - 1].isalnum() or value[name_start - 1] in "_.-"):
            name_start -= 1
        if (
            name_start > 0
            and value[name_start - 1] in "?&;"
            and _CREDENTIAL_PARAM.search(value[name_start:eq])
        ):
            found.append((name_start - 1, eq, _end_of(value, eq + 1, stops)))
        index = eq + 1
    return found


def _param_spans(value: str, stops: frozenset[str]) -> list[tuple[int, int]]:
    return [(eq + 1, end) for _, eq, end in _params(value, stops)]


def redact_value(value: str, *, free_text: bool = False) -> str:
    """`value` with each URL password replaced by `[redacted]`."""
    out, last = [], 0
    for start, end in url_credential_spans(value, free_text=free_text):
        out += [value[last:start], PLACEHOLDER]
        last = end
    return "".join([*out, value[last:]])


def has_url_credential(value: str) -> bool:
    """A URL in `value` holds a literal password (a `[redacted]` one counts: it held one)."""
    return any(value[s:e] for s, e in url_credential_spans(value))


# --- the document ------------------------------------------------------------------------------


_PREFILTER = re.compile(
    r"password|passwd|pwd|secret|token|credential|access|private|jaas|redacted|@", re.IGNORECASE
)


def redact_document(text: str) -> Redaction:
    """`text` with every literal credential replaced (unchanged, and no findings, when none)."""
    if not _PREFILTER.search(text):
        return Redaction(text)
    lines = split_lines(text)
    raw = parse_document(text, Issues())
    findings: list[Finding] = []
    done: set[int] = set()
    for block, content, first_line in _sql_blocks(raw):
        redacted, found = _redact_sql(content, first_line, block)
        findings += found
        if found:
            _place(lines, first_line, content, redacted)
            done |= {f.line for f in found}
    for number, line in enumerate(lines, start=1):
        if number in done or not url_credential_spans(line, free_text=True):
            continue
        lines[number - 1] = redact_value(line, free_text=True)
        findings.append(
            Finding(block=_block_of(raw, number), line=number, table=None, option=None, in_url=True)
        )
    if not findings:
        return Redaction(text)
    new_text = "\n".join(lines)
    return Redaction(new_text if new_text != text else text, findings)


def redact_text(text: str | None) -> str | None:
    """The stored form of a document or cases file: `redact_document(text).text`."""
    return None if text is None else redact_document(text).text


def _sql_blocks(raw: RawDocument) -> Iterator[tuple[str, str, int]]:
    """Every fenced block that may hold `'key' = 'value'` pairs, labelled as the check labels it."""
    labels = {d.block.fence_line: d.label for d in raw.dimensions}
    if raw.result is not None:
        labels[raw.result.block.fence_line] = raw.result.label
    for block in raw.scanned.blocks:
        if "=" in block.content:
            label = labels.get(block.fence_line, block.language or "markdown")
            yield label, block.content, block.content_line


def _redact_sql(content: str, first_line: int, block: str) -> tuple[str, list[Finding]]:
    tokens = [
        t for t in tokenize(content, strict=False) if t.kind not in (TokenKind.WHITESPACE, TokenKind.COMMENT)
    ]
    replacements: list[tuple[Token, str]] = []
    findings: list[Finding] = []
    table: str | None = None
    for index, token in enumerate(tokens):
        if token.is_word("TABLE") and index + 1 < len(tokens):
            table = _table_name(tokens, index + 1)
        if not (token.kind is TokenKind.STRING and index >= 2):
            continue
        key, eq = tokens[index - 2], tokens[index - 1]
        if key.kind is not TokenKind.STRING or eq.text != "=":
            continue
        line = first_line + token.line - 1
        new = _new_value(key.value, token.value)
        if new is None:
            continue
        findings.append(Finding(block, line, table, key.value, in_url=not is_credential_key(key.value)))
        if new != token.value:
            breaks = "".join(re.findall(r"\r\n|\r|\n", token.text))
            replacements.append((token, quote_string(new) if not breaks else "'" + new + breaks + "'"))
    out, last = [], 0
    for token, text in replacements:
        out += [content[last : token.start], text]
        last = token.end
    return "".join([*out, content[last:]]), findings


def _new_value(key: str, value: str) -> str | None:
    """The redacted value of option `key`, or None when it holds no credential."""
    if is_credential_key(key):
        if not value.strip() or _is_reference(value):
            return None
        return PLACEHOLDER
    if has_url_credential(value):
        return redact_value(value)
    return None


def _table_name(tokens: list[Token], index: int) -> str | None:
    """The last part of the (possibly qualified) name after `TABLE [IF NOT EXISTS]`."""
    while index < len(tokens) and tokens[index].upper in ("IF", "NOT", "EXISTS"):
        index += 1
    name = None
    while index < len(tokens) and tokens[index].kind in (TokenKind.WORD, TokenKind.IDENT):
        name = tokens[index].value
        if index + 1 < len(tokens) and tokens[index + 1].text == ".":
            index += 2
            continue
        break
    return name


def _place(lines: list[str], first_line: int, content: str, redacted: str) -> None:
    """Put a block's redacted content back on its document lines (a stripped indent is kept)."""
    old = split_lines(content)
    new = split_lines(redacted)
    for offset, (before, after) in enumerate(zip(old, new, strict=False)):
        number = first_line - 1 + offset
        if number >= len(lines) or before == after:
            continue
        line = lines[number]
        if line.endswith(before):
            lines[number] = line[: len(line) - len(before)] + after
        else:  # the scanner changed the line more than by an indent: redact the whole line
            lines[number] = PLACEHOLDER


def _block_of(raw: RawDocument, line: int) -> str:
    for block in raw.scanned.blocks:
        if block.fence_line <= line <= block.fence_line + block.content.count("\n") + 2:
            return block.language or "markdown"
    heading = next((h for h in reversed(raw.scanned.headings) if h.line <= line), None)
    return heading.text if heading is not None else "document"


# --- the spec ----------------------------------------------------------------------------------


def redact_table(table: Table) -> Table:
    """`table` with each credential option a secret reference and each URL without credentials.

    A URL's password moves to a `password` option (for connectors that take one, with the URL's
    user as `username` when the table names none); for other connectors it is dropped.
    """
    options: dict[str, str] = {}
    moved: dict[str, str] = {}
    takes_password = bool(_USER_PASSWORD_CONNECTORS.fullmatch(table.options.get("connector", "").strip()))
    for key, value in table.options.items():
        if is_credential_key(key) and value.strip() and not _is_reference(value):
            options[key] = secret_reference(table.name, key)
        elif not is_credential_key(key) and has_url_credential(value):
            url, user = _strip_url(value)
            options[key] = url
            if user and takes_password:
                moved.setdefault("username", user)
            if takes_password:
                moved.setdefault("password", secret_reference(table.name, "password"))
        else:
            options[key] = value
    for key, value in moved.items():
        options.setdefault(key, value)
    if options == table.options:
        return table
    return table.model_copy(update={"options": options})


def redact_dimension(dimension: Dimension) -> Dimension:
    table = redact_table(dimension.table)
    return dimension if table is dimension.table else dimension.model_copy(update={"table": table})


def _strip_url(value: str) -> tuple[str, str | None]:
    """The URL without its credentials (userinfo dropped, credential parameters removed) and the
    user its userinfo named."""
    user: str | None = None
    out = value
    index = out.find("://")
    if index >= 0:
        start = index + 3
        end = _end_of(out, start, _VALUE_STOPS)
        at = out.rfind("@", start, end)
        colon = out.find(":", start, at) if at > 0 else -1
        if colon >= 0:
            user = out[start:colon] or None
            out = out[:start] + out[at + 1 :]
    for match in _ORACLE.finditer(out):
        start = match.end()
        end = _end_of(out, start, _VALUE_STOPS - {"/"})
        at = out.find("@", start, end)
        slash = out.find("/", start, at) if at > 0 else -1
        if slash >= 0:
            user = out[start:slash] or None
            out = out[:start] + out[at:]
            break
    for sep, _, end in reversed(_params(out, _PARAM_STOPS)):
        if out[sep] == "?":  # keep the '?' for the parameters after it
            out = out[: sep + 1] + out[end + 1 if out[end : end + 1] in ("&", ";") else end :]
        else:
            out = out[:sep] + out[end:]
    return out.rstrip("?"), user


def warn_findings(findings: list[Finding], issues: Issues) -> None:
    """A Warning per redacted place: the table, option and line, and what replaced it."""
    for finding in findings:
        issues.warning(
            CODE, _message(finding), block=finding.block, line=finding.line, name=_name(finding), hint=_HINT
        )


def _message(finding: Finding) -> str:
    if finding.option is None:
        return (
            "a URL on this line held a password; it was redacted at intake (the request keeps '[redacted]')"
        )
    table = finding.table or "?"
    if finding.in_url:
        return (
            f"table {table}: option {finding.option!r} held a password in its URL; it was redacted at "
            f"intake: the URL keeps no credential and {_job_secret(table, 'password')}"
        )
    return (
        f"table {table}: option {finding.option!r} held a literal credential; it was redacted at intake "
        f"and {_job_secret(table, finding.option)}"
    )


def _job_secret(table: str, option: str) -> str:
    """Which secret the generated job reads the option from. The checker has no profile, and the
    generator names it with the profile's prefix (services/generator/domain/lower.py, `_options`):
    say the rule and the default instead of a name that one profile or another would contradict."""
    pattern = secret_name("<prefix>", table, option)
    default = secret_name(SECRET_PREFIX, table, option)
    return (
        f"the generated job reads {option!r} from the secret {pattern}, where <prefix> is the "
        f"generation profile's jdbc.password_secret_prefix (default: {default}), or from the secret "
        f"the profile's tables.{table}.secret_options names"
    )


def _name(finding: Finding) -> str | None:
    if finding.option is None:
        return None
    return f"{finding.table}.{finding.option}" if finding.table else finding.option
