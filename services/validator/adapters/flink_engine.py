"""The validator's Flink engine: Flink's own parser and planner, and data-accuracy runs.

One `FlinkEngine` per process keeps one warm JVM (PyFlink), started lazily with the pinned
connector jars on `pipeline.jars`; every job gets a fresh `TableEnvironment`.

- `plan(script)` splits the script, applies its `SET`s to the table config, runs its DDL and
  `EXPLAIN PLAN_ADVICE`s each INSERT; errors are mapped back to the statement and the script
  line. Connectors that cannot run here are swapped *inside the validator* (options only,
  never in artifacts) and every swap is reported (`swap_options`).
- `run_case(script, case, postgres=...)` runs the job on one data-accuracy case
  (request-format.md §5, §8). *exact*: streaming, the job's own INSERT unchanged, BusinessEvent
  read from JSON lines on disk, dimensions looked up through JDBC in a private PostgreSQL, the
  result upserted through JDBC into PostgreSQL and read back. *rewritten* (when PostgreSQL or
  the jars are missing, or the tables cannot live in PostgreSQL): batch mode, lookups as
  regular joins over JSON files, the result written to JSON files. Each result says which ran.
- `run_cases(script, cases, postgres=...)` runs many cases; their exact runs share ONE Flink
  job when the job's names allow it (`batch_blocker`): each case gets its own database in the
  catalog (its own copy of the job's tables, views and functions, with its own events file and
  PostgreSQL schema) and its INSERT is bound there, in one statement set. If that job fails,
  every case of it runs alone, so the failure is reported on the case that causes it.
  `run_case` is `run_cases` with one case.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from services.flinksql import query
from services.flinksql.ddl import (
    CreateTable,
    DdlError,
    Option,
    physical_columns,
    read_create_table,
    rewrite_options,
)
from services.flinksql.quoting import quote_identifier, quote_string
from services.flinksql.sqltypes import FlinkType, TypeSyntaxError
from services.flinksql.statements import (
    Statement,
    error_position,
    parse_set,
    split_statements,
    statement_set_members,
)
from services.validator.adapters.connector_jars import ConnectorJarError, jar_urls, verify_connector_jars
from services.validator.adapters.postgres import PostgresError, PrivatePostgres, literal

if TYPE_CHECKING:
    from pyflink.table import TableEnvironment, TableResult  # type: ignore[import-untyped]

Fidelity = Literal["exact", "rewritten"]
Role = Literal["source", "lookup", "sink", "unused"]

PLACEHOLDER_JDBC_URL = "jdbc:postgresql://placeholder.invalid:5432/streamwright"
PLACEHOLDER_VALUE = "placeholder"
JOB_TIMEOUT_MS = 120_000
BATCH_CASE_TIMEOUT_MS = 15_000  # more time a batched job gets for each further case
MAX_BATCH_CASES = 12  # cases per batched job (a request has 3-5, plus the edge case)
_JAR_CONNECTORS = frozenset({"kafka", "upsert-kafka", "jdbc"})
_BUILTIN_CONNECTORS = frozenset({"filesystem", "datagen", "print", "blackhole"})
_CACHE_PREFIXES = ("lookup.cache", "lookup.partial-cache", "lookup.full-cache")


# ================================================================ reports


@dataclass(frozen=True, slots=True)
class OptionSwap:
    """One change the validator made to a table's options (or to the job config)."""

    table: str
    option: str
    from_value: str | None
    to_value: str | None
    why: str


@dataclass(frozen=True, slots=True)
class EngineError:
    """An engine error, positioned in the original script where Flink gave a position."""

    message: str
    exception: str  # Java class, e.g. ValidationException
    statement_index: int
    line: int  # script line (the statement's first line when Flink gave none)
    column: int | None
    detail: str = ""  # the cause chain, trimmed


@dataclass(frozen=True, slots=True)
class StatementResult:
    index: int
    kind: str
    line: int
    end_line: int
    ok: bool
    error: EngineError | None = None
    plan: str | None = None  # EXPLAIN PLAN_ADVICE text of an INSERT / query
    advice: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanReport:
    statements: tuple[StatementResult, ...]
    swaps: tuple[OptionSwap, ...]
    settings: tuple[tuple[str, str], ...]  # SETs applied, in order
    jars_loaded: bool
    seconds: float
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.statements)

    @property
    def errors(self) -> list[EngineError]:
        return [s.error for s in self.statements if s.error is not None]

    @property
    def advice(self) -> list[str]:
        return [a for s in self.statements for a in s.advice]


@dataclass(frozen=True, slots=True)
class SwapPolicy:
    """Which connectors stay as written when planning; everything else is swapped."""

    jars_available: bool = True
    placeholder_jdbc_url: str = PLACEHOLDER_JDBC_URL
    placeholder_value: str = PLACEHOLDER_VALUE

    def keeps(self, connector: str) -> bool:
        if connector in _BUILTIN_CONNECTORS:
            return True
        return self.jars_available and connector in _JAR_CONNECTORS


# ================================================================ cases


@dataclass(frozen=True, slots=True)
class CaseEvent:
    domain: str | None
    type: str | None
    payload: str | None  # JSON text, or the case's string as is
    create_time: int | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One data-accuracy case (request-format.md §8)."""

    name: str
    events: tuple[CaseEvent, ...]
    dimensions: Mapping[str, tuple[Mapping[str, Any], ...]]
    expected: tuple[Mapping[str, Any], ...]
    description: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Case:
        events = tuple(
            CaseEvent(
                domain=e.get("domain"),
                type=e.get("type"),
                payload=payload_text(e.get("payload")),
                create_time=None if e.get("create_time") is None else int(e["create_time"]),
            )
            for e in data.get("events") or ()
        )
        dims = {
            str(k): tuple(dict(r) for r in rows or ()) for k, rows in (data.get("dimensions") or {}).items()
        }
        expected = tuple(dict(r) for r in data.get("expected") or ())
        return cls(str(data["name"]), events, dims, expected, str(data.get("description") or ""))


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date | dtime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__} in a payload")


def payload_text(payload: object) -> str | None:
    """§8: a mapping becomes standard JSON text, a string is used as is, null is NULL."""
    if payload is None or isinstance(payload, str):
        return payload
    return json.dumps(payload, ensure_ascii=False, default=_json_default)


@dataclass(frozen=True, slots=True)
class RowDiff:
    missing: tuple[dict[str, Any], ...]
    unexpected: tuple[dict[str, Any], ...]

    @property
    def equal(self) -> bool:
        return not self.missing and not self.unexpected


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    fidelity: Fidelity
    passed: bool
    rows: tuple[dict[str, Any], ...] = ()
    missing: tuple[dict[str, Any], ...] = ()
    unexpected: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    swaps: tuple[OptionSwap, ...] = ()
    fallback_reason: str | None = None
    # alone: the run's wall time; in a batch: the case's own set-up and read-back plus an
    # equal share of the shared job, so a batch's seconds add up to its wall time
    seconds: float = 0.0
    note: str | None = None  # e.g. that the batched job failed and this case then ran alone
    batch_size: int = 1  # how many cases shared the Flink job that produced this result


def summary_line(results: Iterable[CaseResult]) -> str:
    results = list(results)
    passed = sum(r.passed for r in results)
    return f"{passed} passed, {len(results) - passed} failed"


class CaseInvalid(ValueError):
    """The case cannot be run against this job (the runner says so instead of running it)."""


class ExactUnsupported(RuntimeError):
    """The exact run is impossible here (no PostgreSQL, no jars, a name PostgreSQL can't take)."""


# ================================================================ value typing and comparison


def _parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.strip().replace("T", " "))


def normalize(value: object, ftype: FlinkType, zone: ZoneInfo | None = None) -> object:  # noqa: PLR0911, C901
    """A hashable canonical form for comparison under §8's rules (an unreadable value stays raw)."""
    if value is None:
        return None
    root = ftype.root
    try:
        if root == "DECIMAL" and not isinstance(value, bool):
            return Decimal(str(value))
        if root in ("FLOAT", "DOUBLE") and not isinstance(value, bool):
            return f"{float(value):.12g}"  # type: ignore[arg-type]
        if root in ("TINYINT", "SMALLINT", "INT", "BIGINT") and not isinstance(value, bool | float):
            return int(value)  # type: ignore[call-overload]
        if root == "BOOLEAN" and isinstance(value, bool):
            return value
        if root == "TIMESTAMP":
            return value if isinstance(value, datetime) else _parse_timestamp(str(value))
        if root == "TIMESTAMP_LTZ":
            stamp = value if isinstance(value, datetime) else _parse_timestamp(str(value))
            if stamp.tzinfo is not None and zone is not None:
                stamp = stamp.astimezone(zone).replace(tzinfo=None)
            return stamp
        if root == "DATE":
            return value if isinstance(value, date) else date.fromisoformat(str(value).strip())
        if root == "TIME":
            return value if isinstance(value, dtime) else dtime.fromisoformat(str(value).strip())
        if root in ("STRING", "VARCHAR", "CHAR"):
            return value if isinstance(value, str) else str(value)
    except (ValueError, TypeError, InvalidOperation):
        pass
    return ("raw", repr(value))


def render_value(value: object) -> object:
    """Display form of a typed value: §8 text for DECIMAL/TIMESTAMP/DATE, others as is."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return text + (f".{value.microsecond // 1000:03d}" if value.microsecond else "")
    if isinstance(value, date | dtime):
        return value.isoformat()
    return value


def compare_rows(
    expected: Sequence[Mapping[str, Any]],
    actual: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, FlinkType]],
    *,
    zone: ZoneInfo | None = None,
) -> RowDiff:
    """Expected vs actual as multisets (§8): missing = expected not produced, unexpected = extra."""

    def key(row: Mapping[str, Any]) -> tuple[object, ...]:
        return tuple(normalize(row.get(name), t, zone) for name, t in columns)

    want = Counter(key(r) for r in expected)
    got = Counter(key(r) for r in actual)
    missing_keys, unexpected_keys = want - got, got - want

    def pick(
        rows: Sequence[Mapping[str, Any]], keys: Counter[tuple[object, ...]]
    ) -> tuple[dict[str, Any], ...]:
        left, out = Counter(keys), []
        for row in rows:
            k = key(row)
            if left[k] > 0:
                left[k] -= 1
                out.append({name: render_value(row.get(name)) for name, _ in columns})
        return tuple(out)

    return RowDiff(pick(expected, missing_keys), pick(actual, unexpected_keys))


# ================================================================ option swaps


def table_roles(statements: Sequence[Statement]) -> dict[str, Role]:
    """Role of each table name (last name part) as the job's queries use it."""
    roles: dict[str, Role] = {}
    for st in statements:
        if st.kind not in ("INSERT", "STATEMENT_SET", "QUERY", "CREATE_VIEW", "EXPLAIN"):
            continue
        for ref in query.table_references(st.text):
            if ref.lookup:
                roles[ref.name] = "lookup"
            elif roles.get(ref.name) != "lookup":
                roles[ref.name] = "source"
        for member in statement_set_members(st):
            target = query.insert_target(member.text)
            if target is not None:
                roles.setdefault(target[-1], "sink")
    return roles


def _is_reference(value: str) -> bool:
    return "${" in value and "}" in value


def swap_options(table: CreateTable, role: Role, policy: SwapPolicy) -> tuple[list[Option], list[OptionSwap]]:
    """The options a table is planned with here, and the swaps that made them."""
    opts = table.option_map
    connector = opts.get("connector", "")
    swaps: list[OptionSwap] = []
    name = table.name
    if connector == "jdbc" and policy.keeps("jdbc"):
        url = opts.get("url", "")
        if not url.startswith("jdbc:postgresql:"):
            opts["url"] = policy.placeholder_jdbc_url
            swaps.append(
                OptionSwap(
                    name,
                    "url",
                    url,
                    opts["url"],
                    "no JDBC dialect jar for this URL here: planned as PostgreSQL",
                )
            )
            if "driver" in opts:
                swaps.append(
                    OptionSwap(
                        name, "driver", opts["driver"], "org.postgresql.Driver", "follows the url swap"
                    )
                )
                opts["driver"] = "org.postgresql.Driver"
    elif not policy.keeps(connector):
        new = _replacement(table, role, policy)
        swaps.append(
            OptionSwap(name, "connector", connector or None, new["connector"], _why(connector, role, policy))
        )
        for key, value in opts.items():
            if key != "connector" and new.get(key) != value:
                swaps.append(OptionSwap(name, key, value, new.get(key), "dropped with the connector swap"))
        swaps.extend(
            OptionSwap(name, k, None, v, "needed by the replacement connector")
            for k, v in new.items()
            if k not in opts
        )
        opts = new
    for key, value in list(opts.items()):
        if _is_reference(value):
            opts[key] = policy.placeholder_value
            swaps.append(
                OptionSwap(
                    name, key, value, policy.placeholder_value, "secret/variable reference: placeholder"
                )
            )
    return [Option(k, v) for k, v in opts.items()], swaps


def _replacement(table: CreateTable, role: Role, policy: SwapPolicy) -> dict[str, str]:
    if role == "lookup":
        return {"connector": "jdbc", "url": policy.placeholder_jdbc_url, "table-name": table.name}
    if role == "source":
        return {"connector": "datagen"}
    if table.primary_key and policy.jars_available:
        # blackhole is append-only: a keyed sink must stay an upsert sink, or Flink 2.3 refuses
        # the job's ON CONFLICT clause. JDBC with a placeholder URL plans without connecting.
        return {"connector": "jdbc", "url": policy.placeholder_jdbc_url, "table-name": table.name}
    return {"connector": "blackhole"}


def _why(connector: str, role: Role, policy: SwapPolicy) -> str:
    jarless = connector in _JAR_CONNECTORS and not policy.jars_available
    reason = "connector jars missing" if jarless else f"no connector {connector or '(none)'!r} here"
    purpose = {
        "lookup": "a lookup-capable connector (JDBC, placeholder URL: plans without connecting)",
        "source": "an unbounded generated source",
        "sink": "a sink that accepts every changelog (an upsert JDBC sink when keyed)",
        "unused": "a sink that accepts every changelog",
    }[role]
    return f"{reason}: replaced by {purpose}"


# ================================================================ engine errors


def _java_chain(exc: BaseException) -> list[tuple[str, str]]:
    """(simple class name, message) of the Java exception and its causes, if it came from Java."""
    java = getattr(exc, "java_exception", None)
    chain: list[tuple[str, str]] = []
    seen = 0
    while java is not None and seen < 12:
        chain.append((str(java.getClass().getSimpleName()), str(java.getMessage() or "")))
        java = java.getCause()
        seen += 1
    if not chain:
        chain.append((type(exc).__name__, str(exc)))
    return chain


def engine_error(exc: BaseException, st: Statement, *, line_offset: int = 0) -> EngineError:
    """The error of `st`; `line_offset` lines were sent before the statement's text."""
    chain = _java_chain(exc)
    exception, message = chain[0]
    for cls, msg in chain:  # prefer the planner's own exception class over wrappers
        if cls in ("ValidationException", "SqlParserException", "TableException"):
            exception, message = cls, msg
            break
    position = None
    for _cls, msg in chain:
        position = error_position(msg)
        if position is not None:
            break
    if position is not None and position[0] > line_offset:
        line, column = st.script_position(position[0] - line_offset, position[1])
    else:
        line, column = st.line, None
    first = _trim(message)
    detail = "\n".join(f"{c}: {_trim(m)}" for c, m in chain[1:4])
    return EngineError(first, exception, st.index, line, column, detail)


def _trim(message: str, limit: int = 600) -> str:
    text = message.split("\nWas expecting", 1)[0].strip()
    return text if len(text) <= limit else text[:limit] + "..."


def parse_advice(explained: str) -> tuple[str, ...]:
    """The `advice[N]: [KIND] ...` entries of an EXPLAIN PLAN_ADVICE output."""
    out: list[str] = []
    current: list[str] | None = None
    for line in explained.splitlines():
        if line.startswith("advice["):
            if current:
                out.append(" ".join(current).strip())
            current = [line]
        elif current is not None and line.strip() and not line.startswith("=="):
            current.append(line.strip())
        else:
            if current:
                out.append(" ".join(current).strip())
            current = None
    if current:
        out.append(" ".join(current).strip())
    return tuple(out)


# ================================================================ the engine


@dataclass
class _Job:
    """A script cut into the parts the engine needs."""

    statements: list[Statement]
    sets: list[tuple[Statement, tuple[str, str]]] = field(default_factory=list)
    tables: dict[str, tuple[Statement, CreateTable]] = field(default_factory=dict)
    inserts: list[Statement] = field(default_factory=list)
    others: list[Statement] = field(default_factory=list)

    @classmethod
    def read(cls, script: str) -> _Job:
        job = cls(split_statements(script, strict=False))
        for st in job.statements:
            if st.kind == "SET":
                pair = parse_set(st.text)
                if pair is not None:
                    job.sets.append((st, pair))
            elif st.kind == "CREATE_TABLE":
                ddl = read_create_table(st.text, strict=False)
                job.tables[ddl.name] = (st, ddl)
            elif st.kind in ("INSERT", "STATEMENT_SET"):
                job.inserts.append(st)
            else:
                job.others.append(st)
        return job

    @property
    def time_zone(self) -> str:
        zones = [v for _, (k, v) in self.sets if k == "table.local-time-zone"]
        return zones[-1] if zones else "UTC"


class FlinkEngine:
    """One warm PyFlink JVM per process; a fresh TableEnvironment per job."""

    def __init__(self, jars: Sequence[Path] | None = None, *, jar_dir: Path | None = None) -> None:
        self.jars_missing: str | None = None
        if jars is None and jar_dir is not None:
            try:
                jars = verify_connector_jars(jar_dir)
            except ConnectorJarError as exc:
                self.jars_missing = str(exc)
                jars = []
        elif jars is None:
            self.jars_missing = "no connector jars configured"
        self.jars: list[Path] = list(jars or [])
        self.jvm_start_seconds: float | None = None
        self._lock = threading.RLock()
        self._started = False

    @property
    def jars_available(self) -> bool:
        return bool(self.jars)

    def start(self) -> FlinkEngine:
        """Start the JVM (once); later calls return at once."""
        with self._lock:
            if not self._started:
                began = time.perf_counter()
                self.new_env(streaming=True)
                self.jvm_start_seconds = time.perf_counter() - began
                self._started = True
        return self

    def warm_up(self) -> float:
        """Run one tiny job now; its seconds.

        The first job in a JVM pays for starting the local runtime and loading its classes
        (measured: ~10 s against ~5 s for the same batch of cases warm); paid here, at service
        start, it is not paid by the first request.
        """
        self.start()
        began = time.perf_counter()
        with self._lock:
            env = self.new_env(streaming=True)
            env.execute_sql("CREATE TEMPORARY TABLE sw_warm_up (x INT) WITH ('connector' = 'blackhole')")
            env.execute_sql("INSERT INTO sw_warm_up SELECT x FROM (VALUES (1), (2)) AS t(x)").wait(
                JOB_TIMEOUT_MS
            )
        return time.perf_counter() - began

    def new_env(self, streaming: bool) -> TableEnvironment:
        from pyflink.table import EnvironmentSettings, TableEnvironment

        settings = (
            EnvironmentSettings.in_streaming_mode() if streaming else EnvironmentSettings.in_batch_mode()
        )
        env = TableEnvironment.create(settings)
        config = env.get_config()
        if self.jars:
            config.set("pipeline.jars", jar_urls(self.jars))
        config.set("parallelism.default", "1")
        config.set("table.exec.resource.default-parallelism", "1")
        return env

    # ------------------------------------------------------------ plan

    def plan(self, script: str, *, swaps_policy: SwapPolicy | None = None) -> PlanReport:
        """Parse, validate and optimise every statement on the real planner."""
        began = time.perf_counter()
        self.start()
        policy = swaps_policy or SwapPolicy(jars_available=self.jars_available)
        job = _Job.read(script)
        roles = table_roles(job.statements)
        swaps: list[OptionSwap] = []
        settings: list[tuple[str, str]] = []
        results: list[StatementResult] = []
        with self._lock:
            env = self.new_env(streaming=True)
            for st in job.statements:
                results.append(
                    self._plan_statement(
                        env, st=st, roles=roles, policy=policy, swaps=swaps, settings=settings
                    )
                )
        notes = () if self.jars_missing is None else (f"connector jars unavailable: {self.jars_missing}",)
        return PlanReport(
            tuple(results),
            tuple(swaps),
            tuple(settings),
            self.jars_available,
            time.perf_counter() - began,
            notes,
        )

    def _plan_statement(
        self,
        env: TableEnvironment,
        *,
        st: Statement,
        roles: Mapping[str, Role],
        policy: SwapPolicy,
        swaps: list[OptionSwap],
        settings: list[tuple[str, str]],
    ) -> StatementResult:
        base = StatementResult(st.index, st.kind, st.line, st.end_line, ok=True)
        try:
            if st.kind == "SET":
                pair = parse_set(st.text)
                if pair is not None:
                    env.get_config().set(*pair)
                    settings.append(pair)
                return base
            if st.kind in ("BEGIN_STATEMENT_SET", "END"):
                return base
            if st.kind == "CREATE_TABLE":
                ddl = read_create_table(st.text, strict=False)
                options, made = swap_options(ddl, roles.get(ddl.name, "unused"), policy)
                swaps.extend(made)
                _ensure_namespace(env, ddl.name_parts)
                env.execute_sql(rewrite_options(st.text, ddl, options) if made else st.text)
                return base
            if st.kind in ("INSERT", "QUERY", "STATEMENT_SET"):
                return self._explain_statement(env, st, base)
            env.execute_sql(st.text)
            return base
        except Exception as exc:  # an engine error is a result, not a crash
            return replace(base, ok=False, error=engine_error(exc, st))

    @staticmethod
    def _explain_statement(env: TableEnvironment, st: Statement, base: StatementResult) -> StatementResult:
        try:
            explained = _explain(env, st)
        except Exception as exc:
            return replace(base, ok=False, error=engine_error(exc, st, line_offset=1))
        return replace(base, plan=explained, advice=parse_advice(explained))

    # ------------------------------------------------------------ data-accuracy runs

    def run_case(
        self,
        script: str,
        case: Case | Mapping[str, Any],
        *,
        postgres: PrivatePostgres | None,
        fidelity: Literal["auto", "exact", "rewritten"] = "auto",
    ) -> CaseResult:
        """Run the job on one case and compare its result table with the expected rows."""
        return self.run_cases(script, [case], postgres=postgres, fidelity=fidelity)[0]

    def run_cases(
        self,
        script: str,
        cases: Iterable[Case | Mapping[str, Any]],
        *,
        postgres: PrivatePostgres | None,
        fidelity: Literal["auto", "exact", "rewritten"] = "auto",
    ) -> list[CaseResult]:
        """Run the job on every case, one result per case in order.

        The exact cases share one Flink job when the job allows it (`batch_blocker`): each case
        gets its own database in the catalog and its own PostgreSQL schema, and one statement
        set holds every case's INSERT. When that job fails, each of its cases runs alone, so a
        failure is reported on the case that causes it. Rewritten cases run one by one.
        """
        began = time.perf_counter()
        wanted = [c if isinstance(c, Case) else Case.from_mapping(c) for c in cases]
        self.start()
        try:
            job = _Job.read(script)
        except (DdlError, TypeSyntaxError, ValueError) as exc:
            spent = (time.perf_counter() - began) / max(len(wanted), 1)
            return [
                CaseResult(c.name, "exact", False, error=f"case not run: {exc}", seconds=spent)
                for c in wanted
            ]
        results: dict[int, CaseResult] = {}
        pending: list[_Pending] = []
        for index, case in enumerate(wanted):
            t0 = time.perf_counter()
            checked = self._prepare(job, case, postgres, fidelity)
            if isinstance(checked, CaseResult):
                results[index] = replace(checked, seconds=time.perf_counter() - t0)
            else:
                checked.index, checked.seconds = index, time.perf_counter() - t0
                pending.append(checked)
        exact = [p for p in pending if p.mode == "exact"]
        with self._lock, tempfile.TemporaryDirectory(prefix="sw-case-") as tmp:
            if len(exact) > 1 and batch_blocker(job) is None:
                assert postgres is not None  # exact runs were checked for it
                for start in range(0, len(exact), MAX_BATCH_CASES):
                    self._run_batch(job, exact[start : start + MAX_BATCH_CASES], postgres, Path(tmp))
            for p in pending:
                if not p.done:
                    self._run_alone(job, p, postgres, Path(tmp))
        for p in pending:
            results[p.index] = p.result(job)
        return [results[i] for i in range(len(wanted))]

    def _prepare(
        self,
        job: _Job,
        case: Case,
        postgres: PrivatePostgres | None,
        fidelity: Literal["auto", "exact", "rewritten"],
    ) -> _Pending | CaseResult:
        """The case checked against the job and its fidelity chosen, or why it does not run."""
        try:
            shape = _CaseShape.of(job, case)
        except (CaseInvalid, DdlError, TypeSyntaxError, ValueError) as exc:
            return CaseResult(case.name, "exact", False, error=f"case not run: {exc}")
        reason: str | None = None
        if fidelity != "rewritten":
            try:
                _check_exact_possible(shape, postgres, self)
            except ExactUnsupported as exc:
                if fidelity == "exact":
                    return CaseResult(case.name, "exact", False, error=str(exc))
                reason = str(exc)
        mode: Fidelity = "rewritten" if fidelity == "rewritten" or reason else "exact"
        return _Pending(case=case, shape=shape, mode=mode, reason=reason)

    def _run_alone(self, job: _Job, p: _Pending, postgres: PrivatePostgres | None, tmp: Path) -> None:
        t0 = time.perf_counter()
        folder = tmp / f"alone_{p.index}"
        folder.mkdir()
        runner = _CaseRun(self, job=job, shape=p.shape, case=p.case, tmp=folder, pg=postgres)
        try:
            p.rows, p.swaps = runner.run_exact() if p.mode == "exact" else runner.run_rewritten()
        except Exception as exc:
            p.error = _describe_failure(exc, job)
        p.seconds += time.perf_counter() - t0

    def _run_batch(self, job: _Job, items: Sequence[_Pending], pg: PrivatePostgres, tmp: Path) -> None:
        """Every item's INSERT in one streaming job; an item left not `done` is to run alone."""
        began = time.perf_counter()
        own = {p.index: 0.0 for p in items}
        runs: list[tuple[_Pending, _CaseRun]] = []
        try:
            env = self.new_env(streaming=True)
            config_swaps = _configure(env, job)
            statements = env.create_statement_set()
            for p in items:
                t0 = time.perf_counter()
                folder = tmp / f"batch_{p.index}"
                folder.mkdir()
                run = _CaseRun(self, job=job, shape=p.shape, case=p.case, tmp=folder, pg=pg)
                try:
                    run.create_schema()
                except Exception as exc:  # this case's own data: reported on it, the rest go on
                    p.error = _describe_failure(exc, job)
                    with contextlib.suppress(Exception):
                        run.drop_schema()
                    own[p.index] += time.perf_counter() - t0
                    continue
                runs.append((p, run))
                run.swaps.extend(config_swaps)
                database = quote_identifier(f"sw_case_{p.index}")
                env.execute_sql(f"CREATE DATABASE {database}")
                env.execute_sql(f"USE {database}")
                run.create_tables(env, run.exact_options(), global_statements=len(runs) == 1)
                statements.add_insert_sql(job.inserts[0].text)  # names bind to this database now
                own[p.index] += time.perf_counter() - t0
            if runs:
                _execute(statements.execute(), JOB_TIMEOUT_MS + BATCH_CASE_TIMEOUT_MS * (len(runs) - 1))
            for p, run in runs:
                t0 = time.perf_counter()
                p.rows, p.swaps, p.batch_size = run.read_result(), run.swaps, len(runs)
                own[p.index] += time.perf_counter() - t0
        except Exception as exc:
            failure = _describe_failure(exc, job)
            for p, _ in runs:
                p.rows, p.swaps = None, []
                p.note = f"ran alone: the batched job of {len(runs)} cases failed ({_trim(failure, 300)})"
        finally:
            if runs:
                with contextlib.suppress(PostgresError):  # the schemas die with the server anyway
                    pg.execute(f"DROP SCHEMA IF EXISTS {', '.join(r.schema for _, r in runs)} CASCADE")
        shared = (time.perf_counter() - began - sum(own.values())) / len(items)
        for p in items:
            p.seconds += own[p.index] + shared


def _describe_failure(exc: BaseException, job: _Job) -> str:
    if isinstance(exc, PostgresError | CaseInvalid):
        return str(exc)
    chain = _java_chain(exc)
    cls, msg = chain[0]
    for c, m in chain:
        if c in ("ValidationException", "SqlParserException", "TableException"):
            cls, msg = c, m
            break
    root = chain[-1]
    text = f"{cls}: {_trim(msg, 400)}"
    if root[1] and root[1] not in msg:
        text += f" (cause: {root[0]}: {_trim(root[1], 300)})"
    return text


def _explain(env: TableEnvironment, st: Statement) -> str:
    # the statement starts on a line of its own, so Flink's positions stay statement-relative
    rows = env.execute_sql("EXPLAIN PLAN_ADVICE\n" + st.text).collect()
    with rows:
        return "\n".join(str(r[0]) for r in rows)


def _ensure_namespace(env: TableEnvironment, parts: Sequence[str]) -> None:
    """Create the in-memory catalog / database a qualified DDL name needs (`vvp`.`default`.x)."""
    if len(parts) < 2:
        return
    q = quote_identifier
    if len(parts) >= 3:
        catalog, database = parts[-3], parts[-2]
        if catalog not in env.list_catalogs():
            env.execute_sql(
                f"CREATE CATALOG {q(catalog)} WITH ('type' = 'generic_in_memory', "
                f"'default-database' = {quote_string(database)})"
            )
        env.execute_sql(f"CREATE DATABASE IF NOT EXISTS {q(catalog)}.{q(database)}")
    else:
        env.execute_sql(f"CREATE DATABASE IF NOT EXISTS {q(parts[0])}")


# ================================================================ case runs


@dataclass
class _CaseShape:
    source: str
    lookups: list[str]
    result: str
    result_columns: list[tuple[str, FlinkType]]
    result_pk: tuple[str, ...]
    types: dict[str, list[tuple[str, FlinkType, bool]]]  # table -> physical (name, type, not null)

    @classmethod
    def of(cls, job: _Job, case: Case) -> _CaseShape:
        roles = table_roles(job.statements)
        targets = {query.insert_target(st.text) for st in job.inserts if st.kind == "INSERT"}
        if len(job.inserts) != 1 or len(targets) != 1 or None in targets:
            raise CaseInvalid("the job must have exactly one INSERT INTO the result table")
        result = next(iter(targets))[-1]  # type: ignore[index]
        sources = [n for n, r in roles.items() if r == "source" and n in job.tables]
        source = next((n for n in sources if n.lower() == "businessevent"), sources[0] if sources else None)
        if source is None or result not in job.tables:
            raise CaseInvalid("the job's BusinessEvent source or result table has no CREATE TABLE")
        lookups = [n for n, r in roles.items() if r == "lookup"]
        types = {name: _physical(ddl) for name, (_, ddl) in job.tables.items()}
        result_ddl = job.tables[result][1]
        columns = [(n, t) for n, t, _ in types[result]]
        _check_case(case, lookups, types, job, columns)
        return cls(source, lookups, result, columns, result_ddl.primary_key, types)


@dataclass
class _Pending:
    """A case on its way through `run_cases`: how it will run, then how it went."""

    case: Case
    shape: _CaseShape
    mode: Fidelity
    reason: str | None  # why not exact
    index: int = -1
    seconds: float = 0.0
    rows: list[dict[str, Any]] | None = None
    swaps: list[OptionSwap] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    batch_size: int = 1

    @property
    def done(self) -> bool:
        return self.rows is not None or self.error is not None

    def result(self, job: _Job) -> CaseResult:
        name = self.case.name
        if self.rows is None:
            error = self.error or "the case produced no result"
            return CaseResult(
                name,
                self.mode,
                False,
                error=error,
                fallback_reason=self.reason,
                seconds=self.seconds,
                note=self.note,
                batch_size=self.batch_size,
            )
        diff = compare_rows(
            self.case.expected, self.rows, self.shape.result_columns, zone=ZoneInfo(job.time_zone)
        )
        return CaseResult(
            name,
            self.mode,
            diff.equal,
            rows=tuple({k: render_value(v) for k, v in r.items()} for r in self.rows),
            missing=diff.missing,
            unexpected=diff.unexpected,
            swaps=tuple(self.swaps),
            fallback_reason=self.reason,
            seconds=self.seconds,
            note=self.note,
            batch_size=self.batch_size,
        )


def _created_object(st: Statement) -> tuple[tuple[str, ...] | None, bool]:
    """Name parts of the view / function a CREATE statement makes, and whether it is global."""
    return query.created_object(st.text)


def batch_blocker(job: _Job | str) -> str | None:
    """Why the job's (a script's) cases cannot share one Flink job; None when they can.

    A batched job gives each case its own database and binds each case's INSERT while that
    database is current, so every name the job uses must resolve there: tables, views and
    functions unqualified, and no statement that moves or creates catalogs and databases.
    """
    job = _Job.read(job) if isinstance(job, str) else job
    q = ".".join
    for _, ddl in job.tables.values():
        if len(ddl.name_parts) != 1:
            return f"table {q(ddl.name_parts)} has a qualified name"
    if len(job.inserts) != 1 or job.inserts[0].kind != "INSERT":
        return "the job is not one INSERT"
    target = query.insert_target(job.inserts[0].text)
    if target is None or len(target) != 1:
        return "the INSERT target is qualified"
    return _others_blocker(job)


def _others_blocker(job: _Job) -> str | None:
    """`batch_blocker` for the job's views, functions and other statements, and the names it reads."""
    q = ".".join
    names = {n.lower() for n in job.tables}
    queries = [job.inserts[0]]
    for st in job.others:
        if st.kind in _SKIPPED_KINDS:
            continue
        if st.kind not in ("CREATE_VIEW", "CREATE_FUNCTION"):
            return f"statement {st.index + 1} ({st.kind}) may change the catalog or database in use"
        parts, _ = _created_object(st)
        if parts is None or len(parts) != 1:
            return f"statement {st.index + 1} creates an object with a qualified or unreadable name"
        if st.kind == "CREATE_VIEW":
            names.add(parts[0].lower())
            queries.append(st)
    for st in queries:
        for ref in query.table_references(st.text):
            if len(ref.name_parts) > 1 and ref.name.lower() in names:
                return f"statement {st.index + 1} names {q(ref.name_parts)} with a qualifier"
    return None


def _physical(ddl: CreateTable) -> list[tuple[str, FlinkType, bool]]:
    return physical_columns(ddl)


def _check_case(
    case: Case,
    lookups: Sequence[str],
    types: Mapping[str, Sequence[tuple[str, FlinkType, bool]]],
    job: _Job,
    result_columns: Sequence[tuple[str, FlinkType]],
) -> None:
    for table, rows in case.dimensions.items():
        if table not in lookups:
            raise CaseInvalid(f"dimension {table!r} is not a lookup table of the job")
        known = {n for n, _, _ in types[table]}
        required = [n for n, _, nn in types[table] if nn]
        for i, row in enumerate(rows, 1):
            if unknown := sorted(set(row) - known):
                raise CaseInvalid(f"dimension {table} row {i}: unknown column(s) {', '.join(unknown)}")
            if absent := [n for n in required if row.get(n) is None]:
                raise CaseInvalid(
                    f"dimension {table} row {i} leaves out NOT NULL/key column(s) {', '.join(absent)}"
                )
    names = [n for n, _ in result_columns]
    for i, row in enumerate(case.expected, 1):
        if set(row) != set(names):
            lacking, extra = sorted(set(names) - set(row)), sorted(set(row) - set(names))
            raise CaseInvalid(f"expected row {i}: missing columns {lacking}, unknown columns {extra}")
    del job


# PostgreSQL reserved words: Flink's PostgreSQL dialect does not quote identifiers, so a column
# or table with one of these names cannot be read or written through JDBC (exact runs fall back).
_PG_RESERVED = frozenset(
    """all analyse analyze and any array as asc asymmetric authorization binary both case cast check
    collate collation column concurrently constraint create cross current_catalog current_date
    current_role current_schema current_time current_timestamp current_user default deferrable desc
    distinct do else end except false fetch for foreign freeze from full grant group having ilike in
    initially inner intersect into is isnull join lateral leading left like limit localtime
    localtimestamp natural not notnull null offset on only or order outer overlaps placing primary
    references returning right select session_user similar some symmetric system_user table
    tablesample then to trailing true union unique user using variadic verbose when where window
    with""".split()  # noqa: SIM905 (a word list reads better as text)
)


def pg_type(ftype: FlinkType) -> str:
    """The PostgreSQL column type a Flink type is stored in for JDBC (ExactUnsupported if none)."""
    root = ftype.root
    simple = {
        "STRING": "text",
        "VARCHAR": "text",
        "CHAR": "text",
        "BOOLEAN": "boolean",
        "TINYINT": "smallint",
        "SMALLINT": "smallint",
        "INT": "integer",
        "BIGINT": "bigint",
        "FLOAT": "real",
        "DOUBLE": "double precision",
        "DATE": "date",
        "BYTES": "bytea",
        "VARBINARY": "bytea",
        "BINARY": "bytea",
    }
    if root in simple:
        return simple[root]
    if root == "DECIMAL":
        return f"numeric({ftype.precision}, {ftype.scale})"
    if root == "TIME":
        return f"time({min(ftype.precision or 0, 6)})"
    if root == "TIMESTAMP":
        return f"timestamp({min(ftype.precision or 6, 6)})"
    if root == "TIMESTAMP_LTZ":
        return f"timestamptz({min(ftype.precision or 6, 6)})"
    raise ExactUnsupported(f"type {ftype.sql()} has no PostgreSQL column for JDBC here")


def _check_exact_possible(shape: _CaseShape, postgres: PrivatePostgres | None, engine: FlinkEngine) -> None:
    if postgres is None or not postgres.running:
        raise ExactUnsupported("no private PostgreSQL available")
    if not engine.jars_available:
        raise ExactUnsupported(f"connector jars unavailable ({engine.jars_missing})")
    for table in [*shape.lookups, shape.result]:
        if table.lower() in _PG_RESERVED:
            raise ExactUnsupported(f"table name {table!r} is a PostgreSQL reserved word")
        for name, ftype, _ in shape.types[table]:
            if name.lower() in _PG_RESERVED:
                raise ExactUnsupported(
                    f"column {table}.{name} is a PostgreSQL reserved word (JDBC does not quote)"
                )
            pg_type(ftype)


def _events_jsonl(case: Case) -> str:
    lines = [
        json.dumps(
            {"domain": e.domain, "type": e.type, "payload": e.payload, "create_time": e.create_time},
            ensure_ascii=False,
        )
        for e in case.events
    ]
    return "\n".join(lines) + ("\n" if lines else "")


def _text_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | dtime):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def from_pg_text(text: str | None, ftype: FlinkType) -> object:  # noqa: PLR0911
    """A PostgreSQL text value typed as the Flink column type."""
    if text is None:
        return None
    root = ftype.root
    if root in ("TINYINT", "SMALLINT", "INT", "BIGINT"):
        return int(text)
    if root in ("FLOAT", "DOUBLE"):
        return float(text)
    if root == "DECIMAL":
        return Decimal(text)
    if root == "BOOLEAN":
        return text == "t"
    if root == "DATE":
        return date.fromisoformat(text)
    if root == "TIME":
        return dtime.fromisoformat(text)
    if root in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        return _parse_timestamp(text)
    if root in ("BYTES", "VARBINARY", "BINARY"):
        return bytes.fromhex(text[2:])
    return text


def _at_scale(value: Decimal, ftype: FlinkType) -> Decimal:
    """The value written with the column's scale (Flink's JSON format drops trailing zeros)."""
    if ftype.scale is None:
        return value
    return value.quantize(Decimal(1).scaleb(-ftype.scale), context=Context(prec=80))


def from_json_value(value: object, ftype: FlinkType) -> object:  # noqa: PLR0911
    """A value of Flink's JSON format typed as the Flink column type."""
    if value is None:
        return None
    root = ftype.root
    if root == "DECIMAL":
        return _at_scale(Decimal(str(value)), ftype)
    if root in ("TINYINT", "SMALLINT", "INT", "BIGINT"):
        return int(value)  # type: ignore[call-overload]
    if root in ("FLOAT", "DOUBLE"):
        return float(value)  # type: ignore[arg-type]
    if root in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        stamp = _parse_timestamp(str(value).rstrip("Z"))
        return stamp.replace(tzinfo=UTC) if root == "TIMESTAMP_LTZ" else stamp
    if root == "DATE":
        return date.fromisoformat(str(value))
    if root == "TIME":
        return dtime.fromisoformat(str(value))
    return value


def _json_cell(value: object, ftype: FlinkType) -> str:
    """A dimension value as Flink's JSON format reads it for the column type."""
    if value is None:
        return "null"
    if ftype.root == "DECIMAL" and not isinstance(value, bool):
        return str(Decimal(str(value)))
    if ftype.root in ("TIMESTAMP", "TIMESTAMP_LTZ", "DATE", "TIME"):
        return json.dumps(_text_value(value))
    if ftype.root in ("STRING", "VARCHAR", "CHAR"):
        return json.dumps(str(value), ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=_json_default)


_SKIPPED_KINDS = frozenset({"BEGIN_STATEMENT_SET", "END", "EXPLAIN", "QUERY"})


def _configure(env: TableEnvironment, job: _Job) -> list[OptionSwap]:
    """Apply the job's SETs for a case run; the overrides made, as swaps."""
    swaps: list[OptionSwap] = []
    config = env.get_config()
    for _, (key, value) in job.sets:
        if key in ("parallelism.default", "table.exec.resource.default-parallelism") and value != "1":
            swaps.append(OptionSwap("(config)", key, value, "1", "case runs use one slot"))
            continue
        config.set(key, value)
    enforcer = dict(pair for _, pair in job.sets).get("table.exec.sink.not-null-enforcer")
    if enforcer not in (None, "DROP"):
        swaps.append(
            OptionSwap(
                "(config)", "table.exec.sink.not-null-enforcer", enforcer, "DROP", "§5 NOT NULL drop rule"
            )
        )
    config.set("table.exec.sink.not-null-enforcer", "DROP")
    config.set("table.local-time-zone", job.time_zone)
    return swaps


def _execute(result: TableResult, timeout_ms: int) -> None:
    """Wait for the job of an INSERT / statement set; cancel it when it fails or times out."""
    try:
        result.wait(timeout_ms)
    except Exception:
        with contextlib.suppress(Exception):
            client = result.get_job_client()
            if client is not None:
                client.cancel()
                result.wait(10_000)  # until the cancelled job is gone
        raise


class _CaseRun:
    """One case on one job, in one temp directory (alone, or as part of a batched job)."""

    def __init__(
        self,
        engine: FlinkEngine,
        *,
        job: _Job,
        shape: _CaseShape,
        case: Case,
        tmp: Path,
        pg: PrivatePostgres | None,
    ) -> None:
        self.engine, self.job, self.shape, self.case, self.tmp, self.pg = engine, job, shape, case, tmp, pg
        self.swaps: list[OptionSwap] = []
        self.schema = f"sw_case_{uuid.uuid4().hex[:12]}"
        events = tmp / "events"
        events.mkdir()
        (events / "events.json").write_text(_events_jsonl(case), encoding="utf-8")
        self.events_dir = events

    # ---- shared

    def create_tables(
        self,
        env: TableEnvironment,
        options_for: Mapping[str, dict[str, str]],
        *,
        global_statements: bool = True,
    ) -> None:
        """The job's tables with this case's options, then its views and functions.

        `global_statements` False leaves out what lives outside the current database
        (temporary system functions): a batched job creates those once.
        """
        roles = table_roles(self.job.statements)
        policy = SwapPolicy(jars_available=self.engine.jars_available)
        for name, (st, ddl) in self.job.tables.items():
            if name in options_for:
                new = options_for[name]
                old = ddl.option_map
                for key in sorted(set(old) | set(new)):
                    if old.get(key) != new.get(key):
                        self.swaps.append(OptionSwap(name, key, old.get(key), new.get(key), "case run"))
                options = [Option(k, v) for k, v in new.items()]
            else:
                options, made = swap_options(ddl, roles.get(name, "unused"), policy)
                self.swaps.extend(made)
            _ensure_namespace(env, ddl.name_parts)
            env.execute_sql(rewrite_options(st.text, ddl, options))
        for st in self.job.others:
            if st.kind in _SKIPPED_KINDS or (not global_statements and _created_object(st)[1]):
                continue
            env.execute_sql(st.text)

    def _source_options(self) -> dict[str, str]:
        return {"connector": "filesystem", "path": self.events_dir.as_uri(), "format": "json"}

    # ---- exact

    def run_exact(self) -> tuple[list[dict[str, Any]], list[OptionSwap]]:
        """The case alone: its own streaming job over its own PostgreSQL schema."""
        try:
            self.create_schema()
            env = self.engine.new_env(streaming=True)
            self.swaps.extend(_configure(env, self.job))
            self.create_tables(env, self.exact_options())
            _execute(env.execute_sql(self.job.inserts[0].text), JOB_TIMEOUT_MS)
            rows = self.read_result()
        finally:
            self.drop_schema()
        return rows, self.swaps

    def create_schema(self) -> None:
        """This case's PostgreSQL schema: the lookup and result tables, the dimension rows."""
        assert self.pg is not None
        self.pg.execute(self._pg_setup_sql(self.schema))

    def drop_schema(self) -> None:
        assert self.pg is not None
        self.pg.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    def exact_options(self) -> dict[str, dict[str, str]]:
        """The source on this case's events file; lookups and the result in its schema."""
        assert self.pg is not None
        shape, schema = self.shape, self.schema
        jdbc = {"connector": "jdbc", "url": self.pg.jdbc_url()}
        options = {shape.source: self._source_options()}
        for dim in shape.lookups:
            options[dim] = {**jdbc, "table-name": f"{schema}.{dim.lower()}"}
        options[shape.result] = {
            **jdbc,
            "table-name": f"{schema}.{shape.result.lower()}",
            "sink.max-retries": "0",
        }
        return options

    def read_result(self) -> list[dict[str, Any]]:
        """The result table of this case's schema, typed from the result DDL."""
        assert self.pg is not None
        shape = self.shape
        names = [n.lower() for n, _ in shape.result_columns]
        table = f"{self.schema}.{shape.result.lower()}"
        raw = self.pg.query_text(f"SELECT * FROM {table}", names)  # noqa: S608 (names checked by the DDL reader)
        return [
            {name: from_pg_text(v, t) for (name, t), v in zip(shape.result_columns, row, strict=True)}
            for row in raw
        ]

    def _pg_setup_sql(self, schema: str) -> str:
        parts = [f"CREATE SCHEMA {schema};"]
        for table in [*self.shape.lookups, self.shape.result]:
            parts.append(self._pg_create(schema, table))
        for table, rows in self.case.dimensions.items():
            cols = self.shape.types[table]
            names = ", ".join(n.lower() for n, _, _ in cols)
            for row in rows:
                values = ", ".join(
                    literal(None if row.get(n) is None else _text_value(row[n])) for n, _, _ in cols
                )
                target = f"{schema}.{table.lower()}"
                parts.append(f"INSERT INTO {target} ({names}) VALUES ({values});")  # noqa: S608
        return "\n".join(parts)

    def _pg_create(self, schema: str, table: str) -> str:
        ddl = self.job.tables[table][1]
        cols = [
            f"{n.lower()} {pg_type(t)}{' NOT NULL' if nn else ''}" for n, t, nn in self.shape.types[table]
        ]
        if ddl.primary_key:
            cols.append(f"PRIMARY KEY ({', '.join(c.lower() for c in ddl.primary_key)})")
        return f"CREATE TABLE {schema}.{table.lower()} ({', '.join(cols)});"

    # ---- rewritten

    def run_rewritten(self) -> tuple[list[dict[str, Any]], list[OptionSwap]]:
        shape = self.shape
        env = self.engine.new_env(streaming=False)
        self.swaps.extend(_configure(env, self.job))
        options = {shape.source: self._source_options()}
        for dim in shape.lookups:
            folder = self.tmp / f"dim_{dim}"
            folder.mkdir()
            cols = shape.types[dim]
            lines = [
                "{" + ", ".join(f"{json.dumps(n)}: {_json_cell(row.get(n), t)}" for n, t, _ in cols) + "}"
                for row in self.case.dimensions.get(dim, ())
            ]
            (folder / "rows.json").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            options[dim] = {"connector": "filesystem", "path": folder.as_uri(), "format": "json"}
        out = self.tmp / "result"
        options[shape.result] = {"connector": "filesystem", "path": out.as_uri(), "format": "json"}
        self.create_tables(env, options)
        insert, removed = query.strip_for_system_time(self.job.inserts[0].text)
        if removed:
            self.swaps.append(
                OptionSwap(
                    "(query)",
                    "FOR SYSTEM_TIME AS OF",
                    f"{removed} lookup join(s)",
                    "regular joins",
                    "batch mode",
                )
            )
        _execute(env.execute_sql(insert), JOB_TIMEOUT_MS)
        return self._read_json_result(out), self.swaps

    def _read_json_result(self, out: Path) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for part in sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))):
            for line in part.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    data = json.loads(line, parse_float=Decimal)
                    rows.append({n: from_json_value(data.get(n), t) for n, t in self.shape.result_columns})
        if not self.shape.result_pk:
            return rows
        latest: dict[tuple[object, ...], dict[str, Any]] = {}
        for row in rows:  # upsert: the last row written per key
            latest[tuple(row[k] for k in self.shape.result_pk)] = row
        return list(latest.values())


__all__ = [
    "Case",
    "CaseEvent",
    "CaseInvalid",
    "CaseResult",
    "EngineError",
    "FlinkEngine",
    "OptionSwap",
    "PlanReport",
    "RowDiff",
    "StatementResult",
    "SwapPolicy",
    "batch_blocker",
    "compare_rows",
    "normalize",
    "payload_text",
    "summary_line",
    "swap_options",
    "table_roles",
]
