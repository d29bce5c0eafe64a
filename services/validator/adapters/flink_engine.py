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
  result upserted through JDBC into PostgreSQL and read back typed (psycopg). *rewritten* (when PostgreSQL or
  the jars are missing, or the tables cannot live in PostgreSQL): batch mode, lookups as
  regular joins over JSON files, the result written to JSON files. Each result says which ran.
- `run_cases(script, cases, postgres=...)` runs many cases; their exact runs share ONE Flink
  job when the job's names allow it (`batch_blocker`): each case gets its own database in the
  catalog (its own copy of the job's tables, views and functions, with its own events file and
  PostgreSQL schema) and its INSERT is bound there, in one statement set. If that job fails,
  every case of it runs alone, so the failure is reported on the case that causes it.
  `run_case` is `run_cases` with one case.

What is pure lives in the validator's domain: the case model and its checks (`cases`), job
reading and batching (`case_batch`), the connector-swap policy (`connector_swap`), the
engine's reports (`engine_report`), value typing and row comparison (`values`), and the
PostgreSQL type mapping and schema SQL (`pg_schema`). This module keeps the PyFlink and
PostgreSQL I/O.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from services.flinksql import query
from services.flinksql.ddl import DdlError, Option, read_create_table, rewrite_options
from services.flinksql.job_policy import LOOPBACK_OPTIONS
from services.flinksql.lexer import LexError
from services.flinksql.quoting import quote_identifier, quote_string
from services.flinksql.sqltypes import TypeSyntaxError
from services.flinksql.state_fingerprint import FingerprintError, StateFingerprint, StreamOperator, derive
from services.flinksql.statements import (
    Statement,
    parse_set,
    split_statements,
    statement_set_members,
    statements_digest,
)
from services.validator.adapters.connector_jars import ConnectorJarError, jar_urls, verify_connector_jars
from services.validator.adapters.flink_cluster import (
    HotCluster,
    jars_on_classpath,
    jvm_classpath,
    shared_cluster,
)
from services.validator.adapters.postgres import PostgresError, PrivatePostgres
from services.validator.domain.case_batch import SKIPPED_KINDS, JobScript, batch_blocker, created_object
from services.validator.domain.cases import (
    Case,
    CaseInvalid,
    CaseResult,
    CaseShape,
    ExactUnsupported,
    Fidelity,
    PendingCase,
    events_jsonl,
)
from services.validator.domain.connector_swap import (
    OptionSwap,
    Role,
    SwapPolicy,
    case_run_settings,
    keyed_stand_in_insert,
    swap_options,
    table_roles,
)
from services.validator.domain.engine_report import (
    EngineError,
    PlanReport,
    StatementResult,
    error_of,
    failure_text,
    parse_advice,
    trim,
)
from services.validator.domain.pg_schema import check_postgres_fit, pg_setup_sql, result_row, result_select
from services.validator.domain.values import json_result_rows, json_rows_text

if TYPE_CHECKING:
    from pyflink.table import TableEnvironment, TableResult  # type: ignore[import-untyped]

JOB_TIMEOUT_MS = 120_000
BATCH_CASE_TIMEOUT_MS = 15_000  # more time a batched job gets for each further case
MAX_BATCH_CASES = 12  # cases per batched job (a request has 3-5, plus the edge case)
# The parallelism operator ids are computed at when the job sets none (any value above 1 gives
# the same ids: docs/safe-upgrades.md).
FINGERPRINT_PARALLELISM = 2


# ================================================================ where the time goes

# Where the caller's thread (and asyncio.to_thread's, which copies the context) adds phase times.
_clock: ContextVar[dict[str, float] | None] = ContextVar("streamwright_engine_phases", default=None)


@contextlib.contextmanager
def profiled() -> Iterator[dict[str, float]]:
    """Within: seconds per engine phase (environment, ddl, explain, submit, job, pg_setup,
    pg_read, pg_drop), summed over this context and the worker threads it hands work to
    (asyncio.to_thread). What `benchmarks/validate_latency.py --profile` prints."""
    spent: dict[str, float] = {}
    token = _clock.set(spent)
    try:
        yield spent
    finally:
        _clock.reset(token)


@contextlib.contextmanager
def _phase(name: str) -> Iterator[None]:
    spent = _clock.get()
    if spent is None:
        yield
        return
    began = time.perf_counter()
    try:
        yield
    finally:
        spent[name] = spent.get(name, 0.0) + time.perf_counter() - began


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
    return error_of(_java_chain(exc), st, line_offset=line_offset)


# ================================================================ the engine


class FlinkEngine:
    """One warm PyFlink JVM per process, with one hot cluster in it; a fresh TableEnvironment per job.

    `hot=True` (the default) starts a MiniCluster with the engine and submits every job to it
    (`flink_cluster.HotCluster`): jobs of concurrent callers run side by side on its slots. If it
    cannot start, or with `hot=False`, each job runs on its own short-lived MiniCluster (Flink's
    local execution), one job at a time.
    """

    def __init__(
        self, jars: Sequence[Path] | None = None, *, jar_dir: Path | None = None, hot: bool = True
    ) -> None:
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
        self.cluster_start_seconds: float | None = None
        self.cluster_error: str | None = None  # why jobs run on per-job MiniClusters instead
        self._hot = hot
        self._cluster: HotCluster | None = None
        self._jars_on_classpath = False
        self._lock = threading.RLock()
        # Jobs at once: the hot cluster's slots; per-job MiniClusters run one at a time.
        self._job_slots: threading.BoundedSemaphore = threading.BoundedSemaphore(1)
        self._started = False

    @property
    def jars_available(self) -> bool:
        return bool(self.jars)

    def start(self) -> FlinkEngine:
        """Start the JVM and the hot cluster (once); later calls return at once."""
        with self._lock:
            if not self._started:
                began = time.perf_counter()
                with jvm_classpath(self.jars):
                    self.new_env(streaming=True)  # launches the JVM
                self._jars_on_classpath = bool(self.jars) and jars_on_classpath(self.jars)
                self.jvm_start_seconds = time.perf_counter() - began
                if self._hot:
                    self._start_cluster()
                self._started = True
        return self

    def _start_cluster(self) -> None:
        began = time.perf_counter()
        try:
            self._cluster = shared_cluster()
        except Exception as exc:  # jobs still run, each on its own MiniCluster
            self.cluster_error = f"hot cluster did not start ({trim(str(exc), 300)}): one MiniCluster per job"
            return
        self.cluster_start_seconds = time.perf_counter() - began
        self._job_slots = self._cluster.job_slots

    @property
    def hot(self) -> bool:
        """Jobs go to the engine's long-lived cluster."""
        return self._cluster is not None

    def warm_up(self) -> float:
        """Run one tiny job now; its seconds.

        The first job in a JVM pays for starting the local runtime and loading its classes
        (measured: ~10 s against ~5 s for the same batch of cases warm); paid here, at service
        start, it is not paid by the first request.
        """
        self.start()
        began = time.perf_counter()
        with self._job_slots:
            env = self.new_env(streaming=True)
            env.execute_sql("CREATE TEMPORARY TABLE sw_warm_up (x INT) WITH ('connector' = 'blackhole')")
            env.execute_sql("INSERT INTO sw_warm_up SELECT x FROM (VALUES (1), (2)) AS t(x)").wait(
                JOB_TIMEOUT_MS
            )
        return time.perf_counter() - began

    def new_env(self, streaming: bool) -> TableEnvironment:
        with _phase("environment"):
            return self._new_env(streaming)

    def _new_env(self, streaming: bool) -> TableEnvironment:
        from pyflink.table import EnvironmentSettings, TableEnvironment

        settings = (
            EnvironmentSettings.in_streaming_mode() if streaming else EnvironmentSettings.in_batch_mode()
        )
        # No Python UDFs run here: no Beam loopback worker pool, which PyFlink would start for every
        # table environment, bound to every interface without authentication (read at create).
        os.environ["_python_worker_execution_mode"] = "process"  # noqa: SIM112 - PyFlink's own name
        env = TableEnvironment.create(settings)
        config = env.get_config()
        for key, value in LOOPBACK_OPTIONS.items():  # the local runtime's endpoints on loopback only
            config.set(key, value)
        if self._cluster is not None:
            for key, value in self._cluster.job_options().items():
                config.set(key, value)
        if self.jars and not self._jars_on_classpath:  # a JVM launched before the engine's
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
        # split only: a statement the kernel cannot read is planned (and fails) on its own
        statements = split_statements(script, strict=False)
        roles = table_roles(statements)
        swaps: list[OptionSwap] = []
        settings: list[tuple[str, str]] = []
        results: list[StatementResult] = []
        # planning runs no job: concurrent callers plan side by side
        env = self.new_env(streaming=True)
        for st in statements:
            results.append(
                self._plan_statement(env, st=st, roles=roles, policy=policy, swaps=swaps, settings=settings)
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
                _create_table(env, st, roles=roles, policy=policy, swaps=swaps)
                return base
            if st.kind in ("INSERT", "QUERY", "STATEMENT_SET"):
                return self._explain_statement(env, st, base)
            env.execute_sql(st.text)
            return base
        except Exception as exc:  # an engine error is a result, not a crash
            return replace(base, ok=False, error=engine_error(exc, st))

    # ------------------------------------------------------------ state fingerprint

    def state_fingerprint(self, script: str, *, swaps_policy: SwapPolicy | None = None) -> StateFingerprint:
        """The job's state fingerprint (services.flinksql.state_fingerprint): its compiled plan and
        the operator ids Flink will give its stream graph.

        The job's DDL and SETs run in a fresh TableEnvironment with the connector swaps planning
        uses; its INSERTs are compiled together into one plan (`COMPILE PLAN`'s JSON), and that
        plan is translated with uids off (`table.exec.uid.generation: DISABLED`, so the ids are
        the hashes a job run from SQL gets: such a job sets no uids) and turned into the stream
        graph the way `executeSql` does (the environment's own executor, `createPipeline`), whose
        operators Flink's StreamGraphHasherV2 hashes. Parallelism: the job's `parallelism.default`,
        else FINGERPRINT_PARALLELISM (ids depend on parallelism only where it breaks a chain, as
        a parallelism-1 operator does among parallel ones). Raises FingerprintError (or the
        engine's error) when the job cannot be compiled.
        """
        self.start()
        policy = swaps_policy or SwapPolicy(jars_available=self.jars_available)
        statements = split_statements(script, strict=False)
        roles = table_roles(statements)
        swaps: list[OptionSwap] = []
        written: dict[str, dict[str, str]] = {}
        inserts: list[str] = []
        env = self.new_env(streaming=True)
        config = env.get_config()
        config.set("parallelism.default", str(FINGERPRINT_PARALLELISM))
        config.set("table.exec.resource.default-parallelism", "-1")
        for st in statements:
            if st.kind == "SET":
                pair = parse_set(st.text)
                if pair is not None:
                    config.set(*pair)
            elif st.kind == "CREATE_TABLE":
                with contextlib.suppress(DdlError, TypeSyntaxError):
                    ddl = read_create_table(st.text, strict=False)
                    written[ddl.name] = dict(ddl.option_map)
                _create_table(env, st, roles=roles, policy=policy, swaps=swaps)
            elif st.kind == "INSERT":
                inserts.append(st.text)
            elif st.kind == "STATEMENT_SET":
                inserts += [m.text for m in statement_set_members(st) if m.kind == "INSERT"]
            elif st.kind not in ("BEGIN_STATEMENT_SET", "END"):
                env.execute_sql(st.text)
        if not inserts:
            raise FingerprintError("the job has no INSERT: nothing runs, nothing holds state")
        parallelism = int(config.get("parallelism.default", str(FINGERPRINT_PARALLELISM)))
        self.ensure_jars_on_this_thread()
        with _phase("fingerprint"):
            plan_json, operators = _compiled_graph(env, inserts)
        try:
            digest: str | None = statements_digest(split_statements(script))
        except LexError:
            digest = None
        return derive(
            json.loads(plan_json),
            operators,
            parallelism=parallelism,
            sql_digest=digest,
            written_options=written,
            connector_swaps=[s.table for s in swaps if s.option == "connector"],
        )

    def ensure_jars_on_this_thread(self) -> None:
        """The connector jars on the context class loader of the Java thread serving this call.

        PyFlink adds `pipeline.jars` to the context class loader of one gateway thread only, and
        py4j may serve a call from another of its connections (one opened for a finaliser
        during a call): connector factories are then not found ("Unable to create a source").
        py4j reuses the connection it got back last, so adding the jars right before a call
        that looks factories up reaches the thread that serves it. Not needed when the engine
        launched the JVM: the jars are then on its class path.
        """
        if self.jars and not self._jars_on_classpath:
            from pyflink.util.java_utils import add_jars_to_context_class_loader  # type: ignore[import-untyped]

            add_jars_to_context_class_loader(jar_urls(self.jars).split(";"))

    def _explain_statement(
        self, env: TableEnvironment, st: Statement, base: StatementResult
    ) -> StatementResult:
        try:
            try:
                explained = _explain(env, st)
            except Exception as exc:
                if not _FACTORY_MISSING.search(str(exc)) or not self.jars or self._jars_on_classpath:
                    raise
                self.ensure_jars_on_this_thread()  # a gateway thread without the jars: once more
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
            job = JobScript.read(script)
        except (DdlError, TypeSyntaxError, ValueError) as exc:
            spent = (time.perf_counter() - began) / max(len(wanted), 1)
            return [
                CaseResult(c.name, "exact", False, error=f"case not run: {exc}", seconds=spent)
                for c in wanted
            ]
        results: dict[int, CaseResult] = {}
        pending: list[PendingCase] = []
        for index, case in enumerate(wanted):
            t0 = time.perf_counter()
            checked = self._prepare(job, case, postgres, fidelity)
            if isinstance(checked, CaseResult):
                results[index] = replace(checked, seconds=time.perf_counter() - t0)
            else:
                checked.index, checked.seconds = index, time.perf_counter() - t0
                pending.append(checked)
        exact = [p for p in pending if p.mode == "exact"]
        with tempfile.TemporaryDirectory(prefix="sw-case-") as tmp:
            if len(exact) > 1 and batch_blocker(job) is None:
                assert postgres is not None  # exact runs were checked for it
                for start in range(0, len(exact), MAX_BATCH_CASES):
                    with self._job_slots:
                        self._run_batch(job, exact[start : start + MAX_BATCH_CASES], postgres, Path(tmp))
            for p in pending:
                if not p.done:
                    with self._job_slots:
                        self._run_alone(job, p, postgres, Path(tmp))
        for p in pending:
            results[p.index] = p.result(job)
        return [results[i] for i in range(len(wanted))]

    def _prepare(
        self,
        job: JobScript,
        case: Case,
        postgres: PrivatePostgres | None,
        fidelity: Literal["auto", "exact", "rewritten"],
    ) -> PendingCase | CaseResult:
        """The case checked against the job and its fidelity chosen, or why it does not run."""
        try:
            shape = CaseShape.of(job, case)
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
        return PendingCase(case=case, shape=shape, mode=mode, reason=reason)

    def _run_alone(self, job: JobScript, p: PendingCase, postgres: PrivatePostgres | None, tmp: Path) -> None:
        t0 = time.perf_counter()
        folder = tmp / f"alone_{p.index}"
        folder.mkdir()
        runner = _CaseRun(self, job=job, shape=p.shape, case=p.case, tmp=folder, pg=postgres)
        try:
            p.rows, p.swaps = runner.run_exact() if p.mode == "exact" else runner.run_rewritten()
        except Exception as exc:
            p.error = _describe_failure(exc, job)
        p.seconds += time.perf_counter() - t0

    def _run_batch(
        self, job: JobScript, items: Sequence[PendingCase], pg: PrivatePostgres, tmp: Path
    ) -> None:
        """Every item's INSERT in one streaming job; an item left not `done` is to run alone."""
        began = time.perf_counter()
        own = {p.index: 0.0 for p in items}
        runs: list[tuple[PendingCase, _CaseRun]] = []
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
                with _phase("ddl"):
                    env.execute_sql(f"CREATE DATABASE {database}")
                    env.execute_sql(f"USE {database}")
                run.create_tables(env, run.exact_options(), global_statements=len(runs) == 1)
                statements.add_insert_sql(run.exact_insert())  # names bind to this database now
                own[p.index] += time.perf_counter() - t0
            if runs:
                self.ensure_jars_on_this_thread()
                with _phase("submit"):
                    submitted = statements.execute()
                _execute(submitted, JOB_TIMEOUT_MS + BATCH_CASE_TIMEOUT_MS * (len(runs) - 1))
            for p, run in runs:
                t0 = time.perf_counter()
                p.rows, p.swaps, p.batch_size = run.read_result(), run.swaps, len(runs)
                own[p.index] += time.perf_counter() - t0
        except Exception as exc:
            failure = _describe_failure(exc, job)
            for p, _ in runs:
                p.rows, p.swaps = None, []
                p.note = f"ran alone: the batched job of {len(runs)} cases failed ({trim(failure, 300)})"
        finally:
            if runs:
                with contextlib.suppress(PostgresError):  # the schemas die with the server anyway
                    pg.execute(f"DROP SCHEMA IF EXISTS {', '.join(r.schema for _, r in runs)} CASCADE")
        shared = (time.perf_counter() - began - sum(own.values())) / len(items)
        for p in items:
            p.seconds += own[p.index] + shared


def _describe_failure(exc: BaseException, job: JobScript) -> str:
    if isinstance(exc, PostgresError | CaseInvalid):
        return str(exc)
    return failure_text(_java_chain(exc))


def _create_table(
    env: TableEnvironment,
    st: Statement,
    *,
    roles: Mapping[str, Role],
    policy: SwapPolicy,
    swaps: list[OptionSwap],
) -> None:
    """Create a job's table for planning, its options swapped (`swap_options`)."""
    try:
        ddl = read_create_table(st.text, strict=False)
    except (DdlError, TypeSyntaxError):
        # the kernel cannot read it, so nothing can be swapped: the engine's own error (with
        # its position) is the finding, not the reader's
        env.execute_sql(st.text)
        return
    options, made = swap_options(ddl, roles.get(ddl.name, "unused"), policy)
    swaps.extend(made)
    with _phase("ddl"):
        _ensure_namespace(env, ddl.name_parts)
        env.execute_sql(rewrite_options(st.text, ddl, options) if made else st.text)


def _compiled_graph(env: TableEnvironment, inserts: Sequence[str]) -> tuple[str, list[StreamOperator]]:
    """The INSERTs' compiled plan (JSON) and the stream graph's operators with Flink's ids."""
    from pyflink.java_gateway import get_gateway  # type: ignore[import-untyped]

    jvm = get_gateway().jvm
    table_env = env._j_tenv
    operations = jvm.java.util.ArrayList()
    for insert in inserts:
        for operation in list(table_env.getParser().parse(insert).toArray()):
            operations.add(operation)
    planner = table_env.getPlanner()
    plan = planner.compilePlan(operations)
    plan_json = str(plan.asJsonString())
    config = table_env.getConfig()
    config.set("table.exec.uid.generation", "DISABLED")  # ids as a job run from SQL gets them
    transformations = planner.translatePlan(plan)
    graph = _executor(table_env).createPipeline(transformations, config.getConfiguration(), "fingerprint")
    hasher = jvm.org.apache.flink.streaming.api.graph.StreamGraphHasherV2()
    hashes = hasher.traverseStreamGraphAndGenerateHashes(graph)
    operators = [
        StreamOperator(
            name=str(node.getOperatorName()),
            uid=bytes(hashes.get(node.getId())).hex(),
            parallelism=int(node.getParallelism()),
            id=int(node.getId()),
            inputs=tuple(int(edge.getSourceId()) for edge in node.getInEdges().toArray()),
        )
        for node in sorted(graph.getStreamNodes().toArray(), key=lambda n: int(n.getId()))
    ]
    return plan_json, operators


def _executor(table_env: Any) -> Any:
    """The TableEnvironment's own executor (the one `executeSql` builds the stream graph with)."""
    cls = table_env.getClass()
    while cls is not None:
        for field_ in cls.getDeclaredFields():
            if str(field_.getName()) == "execEnv":
                field_.setAccessible(True)
                return field_.get(table_env)
        cls = cls.getSuperclass()
    raise FingerprintError("this Flink's TableEnvironment has no executor field (execEnv)")


def _explain(env: TableEnvironment, st: Statement) -> str:
    # the statement starts on a line of its own, so Flink's positions stay statement-relative
    with _phase("explain"):
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


def _check_exact_possible(shape: CaseShape, postgres: PrivatePostgres | None, engine: FlinkEngine) -> None:
    if postgres is None or not postgres.running:
        raise ExactUnsupported("no private PostgreSQL available")
    if not engine.jars_available:
        raise ExactUnsupported(f"connector jars unavailable ({engine.jars_missing})")
    check_postgres_fit(shape)


def _configure(env: TableEnvironment, job: JobScript) -> list[OptionSwap]:
    """Apply the job's SETs for a case run; the overrides made, as swaps."""
    settings, swaps = case_run_settings(job)
    config = env.get_config()
    for key, value in settings:
        config.set(key, value)
    return swaps


_FACTORY_MISSING = re.compile(
    r"Unable to create a (source|sink) for (reading|writing) table|Could not find any factory for identifier"
)


def _execute(result: TableResult, timeout_ms: int) -> None:
    """Wait for the job of an INSERT / statement set; cancel it when it fails or times out."""
    try:
        with _phase("job"):
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
        job: JobScript,
        shape: CaseShape,
        case: Case,
        tmp: Path,
        pg: PrivatePostgres | None,
    ) -> None:
        self.engine, self.job, self.shape, self.case, self.tmp, self.pg = engine, job, shape, case, tmp, pg
        self.swaps: list[OptionSwap] = []
        self.schema = f"sw_case_{uuid.uuid4().hex[:12]}"
        events = tmp / "events"
        events.mkdir()
        (events / "events.json").write_text(events_jsonl(case), encoding="utf-8")
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
            with _phase("ddl"):
                _ensure_namespace(env, ddl.name_parts)
                env.execute_sql(rewrite_options(st.text, ddl, options))
        for st in self.job.others:
            if st.kind in SKIPPED_KINDS or (not global_statements and created_object(st)[1]):
                continue
            with _phase("ddl"):
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
            with _phase("submit"):
                submitted = env.execute_sql(self.exact_insert())
            _execute(submitted, JOB_TIMEOUT_MS)
            rows = self.read_result()
        finally:
            self.drop_schema()
        return rows, self.swaps

    def create_schema(self) -> None:
        """This case's PostgreSQL schema: the lookup and result tables, the dimension rows."""
        assert self.pg is not None
        with _phase("pg_setup"):
            self.pg.execute(pg_setup_sql(self.schema, self.job, self.shape, self.case))

    def drop_schema(self) -> None:
        assert self.pg is not None
        with _phase("pg_drop"):
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

    def exact_insert(self) -> str:
        """The job's INSERT for the JDBC stand-in of its result table (`keyed_stand_in_insert`)."""
        _, result = self.job.tables[self.shape.result]
        insert, made = keyed_stand_in_insert(self.job.inserts[0].text, result)
        self.swaps.extend(made)
        return insert

    def read_result(self) -> list[dict[str, Any]]:
        """The result table of this case's schema, typed from the result DDL (`result_select`)."""
        assert self.pg is not None
        shape = self.shape
        table = f"{self.schema}.{shape.result.lower()}"
        with _phase("pg_read"):
            raw = self.pg.query(result_select(table, shape.result_columns))
        return [result_row(shape.result_columns, row) for row in raw]

    # ---- rewritten

    def run_rewritten(self) -> tuple[list[dict[str, Any]], list[OptionSwap]]:
        shape = self.shape
        env = self.engine.new_env(streaming=False)
        self.swaps.extend(_configure(env, self.job))
        options = {shape.source: self._source_options()}
        for dim in shape.lookups:
            folder = self.tmp / f"dim_{dim}"
            folder.mkdir()
            rows = json_rows_text(self.case.dimensions.get(dim, ()), shape.types[dim])
            (folder / "rows.json").write_text(rows, encoding="utf-8")
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
        with _phase("submit"):
            submitted = env.execute_sql(insert)
        _execute(submitted, JOB_TIMEOUT_MS)
        return self._read_json_result(out), self.swaps

    def _read_json_result(self, out: Path) -> list[dict[str, Any]]:
        parts = sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        lines = [line for part in parts for line in part.read_text(encoding="utf-8").splitlines()]
        return json_result_rows(lines, self.shape.result_columns, self.shape.result_pk)


__all__ = ["FlinkEngine", "engine_error", "profiled"]
