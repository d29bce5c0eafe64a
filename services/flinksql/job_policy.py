"""What a job's SQL must be before any of it reaches Flink: the checks the project's SQL runner
(`services.runner`, in the image and on a session cluster) and the router's deployers share, so
every path refuses alike. Pure, like the rest of the kernel.

1. The script is split by the kernel, strictly (`split_statements`): SQL that does not lex is
   refused, never guessed at.
2. Its `statements_digest` must equal the validated digest; the refusal names both.
3. Every statement must be of a kind the generator emits (`ALLOWED_KINDS`: SET 'k' = 'v',
   CREATE [TEMPORARY] TABLE with declared columns, INSERT INTO); every other kind is refused
   naming its number, line and kind. `/*+ ... */` hints are refused: the generator emits none.
4. `${secret:NAME}` is resolved only where a CREATE TABLE's WITH option value is exactly that
   one plain string literal and NAME is one of the job's declared secrets; the value comes from
   `SW_SECRET_<NAME>` and replaces the option through the kernel's `rewrite_options`, so no other
   character of the statement changes (checked again by re-lexing). `${secret:` anywhere else
   (another statement, a key, a partial value, an escaped literal, an undeclared name) is refused.

Exit codes of the command (`services.runner.__main__`): 0 submitted, 1 engine error, 2 usage,
3 refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.flinksql.ddl import DdlError, Option, read_create_table, rewrite_options
from services.flinksql.lexer import LexError, Token, TokenKind
from services.flinksql.quoting import quote_string
from services.flinksql.statements import (
    Statement,
    StatementKind,
    parse_set,
    split_statements,
    statements_digest,
)

EXIT_SUBMITTED = 0
EXIT_ENGINE = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3

# Exactly what services/generator/domain/emit_sql.py writes (and what the LLM repair check in
# services/generator/domain/repair.py admits): SET, CREATE TEMPORARY TABLE, INSERT INTO. Views,
# statement sets, functions, jars, modules, catalogs, databases, DROP/ALTER/USE/RESET, EXPLAIN,
# queries and the rest are never generated, so they are never run.
ALLOWED_KINDS: tuple[StatementKind, ...] = (
    StatementKind.SET,
    StatementKind.CREATE_TABLE,
    StatementKind.INSERT,
)
_ALLOWED_TEXT = "SET 'key' = 'value', CREATE [TEMPORARY] TABLE and INSERT INTO"

SECRET_MARK = "${secret:"  # noqa: S105 - the reference syntax, not a secret
# A secret's name: a Kubernetes object name in practice (the profile checks that); never a path.
SECRET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_SECRET_VALUE = re.compile(r"\$\{secret:(" + SECRET_NAME.pattern + r")\}")


class RunnerError(Exception):
    """The job was not submitted; `exit_code` and `kind` say why (the message never holds a secret)."""

    exit_code = EXIT_ENGINE
    kind = "engine"


class UsageError(RunnerError):
    """The command line or its files are wrong (exit 2)."""

    exit_code = EXIT_USAGE
    kind = "usage"


class Refused(RunnerError):
    """The SQL is not what may run: digest, statement kind, hint or secret (exit 3)."""

    exit_code = EXIT_REFUSED
    kind = "refused"


def secret_variable(name: str) -> str:
    """`SW_SECRET_<NAME>`: the environment variable holding secret `name` (upper case,
    non-alphanumerics as `_`), as the generator's FlinkDeployment names it
    (`services.generator.domain.manifests.secret_env_var`)."""
    return "SW_SECRET_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def secret_name(prefix: str, *parts: str) -> str:
    """A Kubernetes-safe secret name from a trusted prefix and identifier parts (hash-suffixed when
    the slug loses characters): the generator names its references with it, and ingest its
    redactions, so both name a table's credential alike."""
    raw = "-".join(parts)
    slug = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-") or "x"
    name = f"{prefix}-{slug}"
    if slug != raw.replace("_", "-") or len(name) > 200:
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]
        name = f"{name[:190]}-{digest}"
    return name


def declared_secret_names(values: Iterable[str]) -> tuple[str, ...]:
    """The job's declared secrets from `--secret` values (repeated, or comma lists), in order,
    without repeats; UsageError for a name that cannot be a secret's name."""
    names: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip()
            if not name:
                continue
            if not SECRET_NAME.fullmatch(name):
                raise UsageError(f"--secret {name!r} is not a secret name (letters, digits, '.', '_', '-')")
            if name not in names:
                names.append(name)
    return tuple(names)


@dataclass(frozen=True, slots=True)
class SecretRef:
    """One resolvable reference: a WITH option whose whole value is `'${secret:NAME}'`."""

    name: str
    option: str
    line: int
    token: int  # index of the value's token in Statement.tokens


@dataclass(frozen=True, slots=True)
class CheckedStatement:
    number: int  # 1-based, as the messages count
    statement: Statement
    setting: tuple[str, str] | None = None  # (key, value) of a SET
    secrets: tuple[SecretRef, ...] = ()

    @property
    def kind(self) -> StatementKind:
        return self.statement.kind


@dataclass(frozen=True, slots=True)
class CheckedJob:
    """A statement list that passed every check; nothing of it has been resolved yet."""

    digest: str
    statements: tuple[CheckedStatement, ...]

    @property
    def secret_names(self) -> tuple[str, ...]:
        return tuple(sorted({ref.name for c in self.statements for ref in c.secrets}))

    def count(self, kind: StatementKind) -> int:
        return sum(1 for c in self.statements if c.kind is kind)

    def summary(self) -> str:
        """What will run, for the log: counts, the digest and the secret names (never values)."""
        counts = ", ".join(f"{self.count(kind)} {kind.value}" for kind in ALLOWED_KINDS)
        secrets = ", ".join(self.secret_names) or "none"
        return f"{len(self.statements)} statements ({counts}); digest {self.digest}; secrets: {secrets}"


@dataclass(frozen=True, slots=True)
class Step:
    """One statement as the engine gets it: secrets resolved (so never log `text`)."""

    number: int
    kind: StatementKind
    text: str
    setting: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class RunPlan:
    digest: str
    steps: tuple[Step, ...]  # script order
    summary: str

    @property
    def inserts(self) -> list[str]:
        """The INSERTs, submitted together as one statement set (one Flink job)."""
        return [s.text for s in self.steps if s.kind is StatementKind.INSERT]


def _where(number: int, statement: Statement) -> str:
    return f"statement {number} (line {statement.line}, {statement.kind.value})"


def read_script(sql: str, *, keep_comments: bool = False) -> list[Statement]:
    """The kernel's statements of `sql`, read strictly; Refused when it does not lex."""
    try:
        return split_statements(sql, strict=True, keep_comments=keep_comments)
    except LexError as error:
        raise Refused(f"the SQL does not lex ({error}): none of it runs") from None


def check_statements(
    statements: Sequence[Statement], *, expected_digest: str | None, declared_secrets: Iterable[str]
) -> CheckedJob:
    """Every check of the module docstring, in order; Refused (or UsageError) at the first fault.

    `expected_digest` None skips only the digest comparison: for a caller that was given no
    validated digest and says so (the runner's command line always requires one).
    """
    declared = declared_secret_names(declared_secrets)
    digest = statements_digest(statements)
    if expected_digest is not None and digest != expected_digest:
        raise Refused(
            f"statement digest mismatch: the SQL reads as {digest}, the validated digest is "
            f"{expected_digest}: only the statement list that was validated runs"
        )
    if not statements:
        raise Refused("the SQL holds no statement: nothing to run")
    checked = tuple(_check(number, st, declared) for number, st in enumerate(statements, start=1))
    if not any(c.kind is StatementKind.INSERT for c in checked):
        raise Refused("the SQL has no INSERT INTO: nothing would run")
    return CheckedJob(digest=digest, statements=checked)


def check_script(sql: str, *, expected_digest: str | None, declared_secrets: Iterable[str]) -> CheckedJob:
    """`check_statements` of the script read strictly by the kernel."""
    return check_statements(
        read_script(sql), expected_digest=expected_digest, declared_secrets=declared_secrets
    )


def _check(number: int, statement: Statement, declared: tuple[str, ...]) -> CheckedStatement:
    where = _where(number, statement)
    kind = statement.kind
    if kind not in ALLOWED_KINDS:
        raise Refused(
            f"{where} is refused: {kind.value} is not a statement the generator emits "
            f"(the runner runs only {_ALLOWED_TEXT})"
        )
    hint = next((t for t in statement.tokens if t.kind is TokenKind.HINT), None)
    if hint is not None:
        raise Refused(
            f"{where}: the hint {_short(hint.text)} at line {hint.line} is refused: "
            "the generator emits no /*+ ... */ hints"
        )
    setting: tuple[str, str] | None = None
    if kind is StatementKind.SET:
        setting = _setting(where, statement)
    elif kind is StatementKind.INSERT and statement.leading_words(2) != ["INSERT", "INTO"]:
        shown = " ".join(statement.leading_words(2))
        raise Refused(f"{where}: {shown} is refused: the runner runs only INSERT INTO")
    elif kind is StatementKind.CREATE_TABLE:
        _check_create_table(where, statement)
    return CheckedStatement(number, statement, setting, _secret_refs(where, statement, declared))


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# SET keys a job may carry: planner and runtime tuning and the job's name; never class paths,
# jars, Python files, plugins or cluster settings (those load code or reach outside the job).
SAFE_SET_PREFIXES = ("table.", "execution.", "state.", "restart-strategy.")
SAFE_SET_KEYS = frozenset({"pipeline.name", "parallelism.default"})


def safe_set_key(key: str) -> bool:
    """Whether a SET of `key` only tunes the job (the generator, the repair check, the validator
    and the runner share this list)."""
    return key in SAFE_SET_KEYS or key.startswith(SAFE_SET_PREFIXES)


def _setting(where: str, statement: Statement) -> tuple[str, str]:
    try:
        setting = parse_set(statement.text)
    except ValueError:
        setting = None
    if setting is None or not setting[0]:
        raise Refused(f"{where}: only SET 'key' = 'value' is run (a SET without a key and value is refused)")
    if not safe_set_key(setting[0]):
        raise Refused(
            f"{where}: SET {setting[0]!r} is refused: only {', '.join(SAFE_SET_PREFIXES)}* keys, "
            f"{' and '.join(sorted(SAFE_SET_KEYS))} tune a job"
        )
    return setting


def _check_create_table(where: str, statement: Statement) -> None:
    """Declared columns only: `AS SELECT` (a job of its own) and `LIKE` are never generated."""
    depth = 0
    for token in statement.tokens:
        if token.is_symbol("("):
            depth += 1
        elif token.is_symbol(")"):
            depth -= 1
        elif depth == 0 and token.is_word("AS", "LIKE"):
            raise Refused(
                f"{where}: CREATE TABLE ... {token.upper} (line {token.line}) is refused: "
                "the generator declares every table's columns"
            )


def _with_pairs(tokens: Sequence[Token]) -> list[tuple[int, int]] | None:
    """(key, value) token indexes of the WITH clause of a CREATE TABLE when it is only plain
    `'key' = 'value'` string literals; None when there is no such clause."""
    depth = 0
    for i, token in enumerate(tokens):
        if token.is_symbol("("):
            depth += 1
        elif token.is_symbol(")"):
            depth -= 1
        elif depth == 0 and token.is_word("WITH") and i + 1 < len(tokens) and tokens[i + 1].is_symbol("("):
            return _option_pairs(tokens, i + 2)
    return None


def _plain(token: Token) -> bool:
    return token.kind is TokenKind.STRING and token.text == quote_string(token.value)


def _option_pairs(tokens: Sequence[Token], start: int) -> list[tuple[int, int]] | None:
    pairs: list[tuple[int, int]] = []
    i = start
    if i < len(tokens) and tokens[i].is_symbol(")"):
        return pairs
    while i + 2 < len(tokens):
        key, eq, value = tokens[i], tokens[i + 1], tokens[i + 2]
        if not (_plain(key) and eq.is_symbol("=") and _plain(value)):
            return None
        pairs.append((i, i + 2))
        i += 3
        if i < len(tokens) and tokens[i].is_symbol(","):
            i += 1
            continue
        return pairs if i < len(tokens) and tokens[i].is_symbol(")") else None
    return None


def _secret_refs(where: str, statement: Statement, declared: tuple[str, ...]) -> tuple[SecretRef, ...]:
    tokens = statement.tokens
    values: dict[int, str] = {}
    if statement.kind is StatementKind.CREATE_TABLE:
        values = {v: tokens[k].value for k, v in _with_pairs(tokens) or []}
    refs: list[SecretRef] = []
    for index, token in enumerate(tokens):
        if SECRET_MARK not in token.text and SECRET_MARK not in token.value:
            continue
        match = _SECRET_VALUE.fullmatch(token.value) if index in values else None
        if match is None:
            raise Refused(
                f"{where}: '${{secret:' at line {token.line}, column {token.column} is refused: secret "
                "references are resolved only as the whole value of a CREATE TABLE's WITH option "
                "('key' = '${secret:NAME}')"
            )
        name = match.group(1)
        if name not in declared:
            listed = ", ".join(declared) if declared else "none"
            raise Refused(
                f"{where}: option {values[index]!r} (line {token.line}) references secret {name!r}, "
                f"which the job does not declare (declared: {listed})"
            )
        refs.append(SecretRef(name=name, option=values[index], line=token.line, token=index))
    # A reference spelled across tokens (`$` `{secret:` ...) is never resolved, and never passed on.
    if "".join(t.text for t in tokens).count(SECRET_MARK) != len(refs):
        raise Refused(f"{where}: '${{secret:' is split across tokens: refused")
    return tuple(refs)


def resolve(job: CheckedJob, environ: Mapping[str, str]) -> RunPlan:
    """The run plan: each statement's text with its secret references replaced by the values of
    their `SW_SECRET_<NAME>` variables; Refused when a variable is missing (named, never a value)."""
    steps: list[Step] = []
    for checked in job.statements:
        text = checked.statement.text
        if checked.secrets:
            text = _resolved_text(checked, environ)
        steps.append(Step(checked.number, checked.kind, text, checked.setting))
    return RunPlan(digest=job.digest, steps=tuple(steps), summary=job.summary())


def _resolved_text(checked: CheckedStatement, environ: Mapping[str, str]) -> str:
    statement = checked.statement
    where = _where(checked.number, statement)
    values: dict[int, str] = {}
    for ref in checked.secrets:
        variable = secret_variable(ref.name)
        if variable not in environ:
            raise Refused(
                f"{where}: secret {ref.name!r} (option {ref.option!r}) is not set: "
                f"the environment variable {variable} is missing"
            )
        values[ref.token] = environ[variable]
    pairs = _with_pairs(statement.tokens) or []
    try:
        table = read_create_table(statement.text, strict=False)
    except DdlError as error:
        raise Refused(f"{where}: the kernel cannot read this CREATE TABLE ({error.message})") from None
    tokens = statement.tokens
    written = [(tokens[k].value, tokens[v].value) for k, v in pairs]
    if table.with_span is None or [(o.key, o.value) for o in table.options] != written:
        raise Refused(f"{where}: the kernel reads its WITH clause differently: secrets are not resolved here")
    options = [
        Option(option.key, values.get(v, option.value), option.line)
        for option, (_, v) in zip(table.options, pairs, strict=True)
    ]
    text = rewrite_options(statement.text, table, options)
    _check_rewrite(where, statement, text, values)
    return text


def _check_rewrite(where: str, statement: Statement, text: str, values: Mapping[int, str]) -> None:
    """The rewritten statement lexes to the same tokens but for the resolved values."""
    try:
        again = split_statements(text, strict=True)
    except LexError:
        again = []
    same = len(again) == 1 and len(again[0].tokens) == len(statement.tokens)
    if same:
        for index, (old, new) in enumerate(zip(statement.tokens, again[0].tokens, strict=True)):
            want = values.get(index, old.value)
            if new.kind is not old.kind or new.value != want:
                same = False
                break
    if not same:
        raise Refused(f"{where}: resolving its secrets would change more than their values: refused")


def prepare(
    sql: str,
    *,
    expected_digest: str | None,
    declared_secrets: Iterable[str],
    environ: Mapping[str, str],
) -> RunPlan:
    """Read, check and resolve a script: the plan the engine runs, or RunnerError."""
    job = check_script(sql, expected_digest=expected_digest, declared_secrets=declared_secrets)
    return resolve(job, environ)


def parse_remote(value: str) -> tuple[str, int]:
    """`HOST:PORT` (`[v6]:PORT` too) of a session cluster's REST endpoint; UsageError otherwise."""
    host, sep, port = value.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if (
        not sep
        or not host
        or not port.isdigit()
        or not 0 < int(port) < 65536
        or any(c.isspace() for c in host)
    ):
        raise UsageError(f"--remote {value!r} is not HOST:PORT of a Flink REST endpoint")
    return host, int(port)


def error_text(error: BaseException) -> str:
    """An engine exception in one line: its first line plus its deepest Java `Caused by:`."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    head = lines[0] if lines else ""
    causes = [line for line in lines if line.startswith("Caused by:")]
    text = f"{type(error).__name__}: {head}"
    if causes and causes[-1][len("Caused by:") :].strip() not in head:
        text += f" (caused by {causes[-1][len('Caused by:') :].strip()})"
    return text[:4000]


# What a local (MiniCluster) run sets, in the runner and the validator alike: its REST, RPC,
# blob and data endpoints listen on loopback, not on every interface.
LOOPBACK_OPTIONS = {
    "rest.address": "127.0.0.1",
    "rest.bind-address": "127.0.0.1",
    "jobmanager.rpc.address": "127.0.0.1",
    "jobmanager.bind-host": "127.0.0.1",
    "taskmanager.host": "127.0.0.1",
    "taskmanager.bind-host": "127.0.0.1",
}
