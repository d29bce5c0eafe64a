"""Lowering: `RequestSpec` (+ target + profile) -> `JobIR`.

Every decision of the generated job is taken here, from typed spec fields only: which payload
fields are extracted, how lookups chain, where CASTs go, whether the INSERT needs
`ON CONFLICT`, which settings and how much state TTL. The emitter only prints the IR.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from services.flinksql import expr as ex
from services.flinksql.artifacts import BadDomain, checked_domain
from services.flinksql.job_policy import secret_name
from services.flinksql.spec import Mapping, RequestSpec, Table
from services.flinksql.sqltypes import (
    BIGINT,
    STRING,
    FlinkType,
    insert_assignable,
    is_character,
    same_type,
)
from services.generator.domain import sizing
from services.generator.domain.ir import (
    ColumnDef,
    ConflictStrategy,
    EventProjection,
    Extraction,
    Header,
    JobIR,
    KeyCast,
    KeyRef,
    Lookup,
    Option,
    Predicate,
    Projection,
    Setting,
    Sizing,
    TableDef,
)
from services.generator.domain.profiles import Profile
from services.generator.domain.target import Target

# Connector options whose values are credentials: never emitted, always a secret reference.
SENSITIVE_OPTION = re.compile(
    r"(password|passwd|secret|access[-_.]?key|accesskey|token|credential|jaas\.config)", re.IGNORECASE
)
# Sinks that only take INSERT rows when the query is insert-only; ON CONFLICT is refused there.
APPEND_ONLY_CONNECTORS = frozenset({"print", "blackhole", "filesystem", "kafka"})
DEFAULT_AGGREGATE_TTL_HOURS = 7 * 24
DEFAULT_UPSERT_TTL_HOURS = 24


class CompileError(ValueError):
    """A spec the compiler cannot turn into a job (it names the offending part)."""


def check_domain(domain: str) -> str:
    """The domain, re-checked: it becomes directory names and SQL literals."""
    try:
        return checked_domain(domain)
    except BadDomain as exc:
        raise CompileError(str(exc)) from None


def fresh(base: str, taken: Iterable[str]) -> str:
    """`base`, or `base_1`, `base_2`, ... : the first not in `taken` (case-insensitively)."""
    used = {t.lower() for t in taken}
    if base.lower() not in used:
        return base
    n = 1
    while f"{base}_{n}".lower() in used:
        n += 1
    return f"{base}_{n}"


def json_path(field: str) -> str:
    """The JSON path of a top-level key: `$.name` for plain names, else `$['...']` escaped."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field):
        return f"$.{field}"
    return "$['" + field.replace("\\", "\\\\").replace("'", "\\'") + "']"


def _literal_only(e: ex.Expr) -> bool:
    return all(
        isinstance(
            n,
            ex.StringLit
            | ex.NumberLit
            | ex.ApproxLit
            | ex.BoolLit
            | ex.NullLit
            | ex.TypedLit
            | ex.IntervalLit
            | ex.Cast
            | ex.Unary
            | ex.Binary,
        )
        for n in ex.walk(e)
    )


def _referenced_payload_fields(spec: RequestSpec) -> set[str]:
    exprs: list[ex.Expr] = [m.expression.ast for m in spec.mappings]
    exprs += [f.ast for f in spec.filters] + [r.condition.ast for r in spec.business_rules]
    exprs += [j.additional_condition.ast for j in spec.joins if j.additional_condition is not None]
    fields = {c.name for e in exprs for c in ex.columns(e) if c.qualifier == "payload"}
    fields |= {j.source_field for j in spec.joins if j.source_kind == "event"}
    return fields


def _extractions(spec: RequestSpec, taken: set[str]) -> tuple[tuple[Extraction, ...], str]:
    wanted = _referenced_payload_fields(spec)
    out: list[Extraction] = []
    for f in spec.payload.fields:
        if f.name not in wanted:
            continue
        if f.flink_type is None:
            raise CompileError(f"payload field {f.name!r} ({f.java_type}) cannot be referenced")
        is_string = f.flink_type.root == "STRING"
        out.append(Extraction(f.name, f.name, json_path(f.name), None if is_string else f.flink_type))
    missing = wanted - {e.field for e in out}
    if missing:
        raise CompileError(f"payload field(s) {sorted(missing)} are not declared in the payload class")
    proc_time = fresh("proc_time", [e.column for e in out])
    return tuple(out), proc_time


def _options(table: Table, profile: Profile, notes: list[str]) -> tuple[tuple[Option, ...], list[str]]:
    """The document's options with profile overrides; credentials become secret references."""
    override = profile.tables.get(table.name)
    merged: dict[str, Option] = {}
    for key, value in table.options.items():
        if SENSITIVE_OPTION.search(key):
            notes.append(
                f"table {table.name}: the document's {key!r} value was dropped (credentials never "
                "enter artifacts); it is a secret reference"
            )
            merged[key] = Option(
                key, "", secret_name(profile.jdbc.password_secret_prefix, table.name, key), "generator"
            )
            continue
        merged[key] = Option(key, value, None, "document")
    connector = table.options.get("connector", "").lower()
    url_overridden = override is not None and "url" in override.options
    if (
        connector == "jdbc"
        and profile.jdbc.default_url is not None
        and "url" in merged
        and not url_overridden
    ):
        merged["url"] = Option("url", profile.jdbc.default_url, None, "profile")
    if override is not None:
        for key, value in override.options.items():
            merged[key] = Option(key, value, None, "profile")
        for key, secret in override.secret_options.items():
            merged[key] = Option(key, "", secret, "profile")
    if "username" in merged and "password" not in merged:
        merged["password"] = Option(
            "password", "", secret_name(profile.jdbc.password_secret_prefix, table.name), "generator"
        )
    secrets = [o.secret for o in merged.values() if o.secret is not None]
    return tuple(merged.values()), secrets


def _table_def(
    role: str, table: Table, sql_name: str, profile: Profile, notes: list[str]
) -> tuple[TableDef, list[str]]:
    options, secrets = _options(table, profile, notes)
    columns = tuple(ColumnDef(c.name, c.type.with_nullable(not c.not_null), c.comment) for c in table.columns)
    assert role in ("dimension", "result")
    return (
        TableDef(
            role="dimension" if role == "dimension" else "result",
            name=table.name,
            sql_name=sql_name,
            columns=columns,
            options=options,
            primary_key=table.primary_key,
            comment=table.comment,
        ),
        secrets,
    )


def _source_def(
    spec: RequestSpec, profile: Profile, sql_name: str, proc_time: str
) -> tuple[TableDef, list[str]]:
    k = profile.kafka
    options = [
        Option("connector", "kafka", None, "generator"),
        Option("topic", k.topic, None, "profile"),
        Option("properties.bootstrap.servers", k.bootstrap_servers, None, "profile"),
        Option(
            "properties.group.id", f"{k.group_id_prefix}-{check_domain(spec.job.domain)}", None, "profile"
        ),
        Option("scan.startup.mode", k.startup_mode, None, "profile"),
        Option("format", "json", None, "generator"),
        Option("json.fail-on-missing-field", "false", None, "generator"),
        Option("json.ignore-parse-errors", "true", None, "generator"),
    ]
    for key, value in k.properties.items():
        options.append(Option(f"properties.{key}", value, None, "profile"))
    secrets: list[str] = []
    if k.sasl_jaas_config_secret is not None:
        options.append(Option("properties.sasl.jaas.config", "", k.sasl_jaas_config_secret, "profile"))
        secrets.append(k.sasl_jaas_config_secret)
    columns = (
        ColumnDef("domain", STRING),
        ColumnDef("type", STRING),
        ColumnDef("payload", STRING),
        ColumnDef("create_time", BIGINT),
        ColumnDef(proc_time, STRING, proctime=True),
    )
    return TableDef("source", "BusinessEvent", sql_name, columns, tuple(options)), secrets


def _cast_for(m: Mapping) -> FlinkType | None:
    target = m.column_type.with_nullable(True)
    source = m.expression.type
    if m.needs_cast or source is None or not insert_assignable(source, m.column_type):
        if source is not None and same_type(source, target):
            return None
        return target
    return None


def _conflict(
    spec: RequestSpec, target: Target, projections: tuple[Projection, ...], group_cols: set[str]
) -> tuple[bool, ConflictStrategy | None, str]:
    """(needs upsert materialisation, ON CONFLICT strategy, reason)."""
    pk = set(spec.result.primary_key)
    if not pk:
        return False, None, "The result table has no primary key: rows are appended, nothing can conflict."
    if (
        spec.aggregation.is_aggregate
        and group_cols == pk
        and not any(p.cast_to is not None for p in projections if p.column in pk)
    ):
        return (
            False,
            None,
            "The query is grouped by exactly the primary-key columns, so its upsert key equals the "
            "sink's primary key: every update replaces the row of its own key and no ON CONFLICT "
            "clause is needed (the Flink planner accepts the INSERT as is).",
        )
    connector = spec.result.options.get("connector", "").lower()
    why = (
        "the query's upsert key differs from the sink's primary key"
        + (" (it is insert-only: no upsert key at all)" if not spec.aggregation.is_aggregate else "")
        + ", so several rows may map to one key"
    )
    if connector in APPEND_ONLY_CONNECTORS:
        return False, None, f"The {connector!r} sink is append-only; ON CONFLICT is refused there."
    if not target.on_conflict:
        return (
            True,
            None,
            f"Although {why}, {target.label} has no ON CONFLICT clause; its planner adds a "
            "SinkUpsertMaterializer (table.exec.sink.upsert-materialize = AUTO), which keeps the "
            "last row written per key: the same meaning as DO DEDUPLICATE.",
        )
    return (
        True,
        "DEDUPLICATE",
        f"ON CONFLICT DO DEDUPLICATE: {why}. The request's data-accuracy rule (request-format §5) "
        "is 'the last row written for each key wins', which is exactly DEDUPLICATE. DO ERROR would "
        "fail the job on a replayed or corrected event, and DO NOTHING keeps the first row and "
        "needs watermarks on BusinessEvent, which has none.",
    )


def _key_cast(source: FlinkType, target: FlinkType) -> KeyCast | None:
    """The conversion that makes `<target column> = <source key>` compare the values exactly.

    Equal types and two character strings need none: Flink compares character strings of any
    lengths as they are, and takes them as lookup keys (a `TRY_CAST` to a shorter VARCHAR would
    cut 'ICU-NORTH' to 'ICU-N' and match the wrong row). A widening that keeps every value is a
    plain CAST; any other numeric conversion is guarded so that it never changes the value
    (4294967297 is not the INT 1, 1.6 is not 1): such a key matches no row.
    """
    if same_type(source, target) or (is_character(source) and is_character(target)):
        return None
    to = target.with_nullable(True)
    if insert_assignable(source, target):
        return KeyCast(to)
    return KeyCast(to, guard_from=source.with_nullable(True))


def _lookups(spec: RequestSpec, events: EventProjection, dim_sql: dict[str, str]) -> list[Lookup]:
    """The lookup joins in block order; a cascade must follow the join that introduces it."""
    ev_alias = events.alias
    lookups: list[Lookup] = []
    joined: set[str] = set()
    for j in spec.joins:
        if j.target_table not in dim_sql:
            raise CompileError(f"join {j.name!r}: target table {j.target_table!r} is not a dimension")
        if j.source_kind == "event":
            key_col = events.column_of(j.source_field)
            if key_col is None:  # pragma: no cover - every join key field is extracted
                raise CompileError(f"join {j.name!r}: payload field {j.source_field!r} not extracted")
            src = KeyRef(ev_alias, key_col)
        else:
            if j.source_alias is None or j.source_alias not in joined:
                raise CompileError(f"join {j.name!r}: source {j.source_alias!r} is not joined before it")
            src = KeyRef(j.source_alias, j.source_field)
        cast = None
        if j.source_type is not None and j.target_type is not None:
            cast = _key_cast(j.source_type, j.target_type)
        lookups.append(
            Lookup(
                name=j.name,
                join_type=j.join_type,
                table=dim_sql[j.target_table],
                alias=j.alias,
                target_column=j.target_field,
                source=src,
                source_cast=cast,
                condition=None if j.additional_condition is None else j.additional_condition.ast,
                description=j.description,
            )
        )
        joined.add(j.alias)
    return lookups


def _projections(spec: RequestSpec, known_aliases: set[str]) -> tuple[list[Projection], list[Predicate]]:
    """Mappings in result-column order and predicates (filters, then rules), references checked."""

    def check_refs(e: ex.Expr, where: str) -> None:
        for c in ex.columns(e):
            if c.qualifier == "payload":
                continue
            if c.qualifier not in known_aliases:
                raise CompileError(f"{where}: unknown alias {c.qualifier!r}")

    # -- projections in result-column order
    by_column = {m.column: m for m in spec.mappings}
    projections: list[Projection] = []
    for col in spec.result.columns:
        m = by_column.get(col.name)
        if m is None:
            raise CompileError(f"result column {col.name!r} has no mapping")
        check_refs(m.expression.ast, f"mapping {col.name!r}")
        projections.append(
            Projection(col.name, m.expression.ast, _cast_for(m), m.is_aggregate, m.expression.text)
        )
    predicates: list[Predicate] = []
    for i, f in enumerate(spec.filters, 1):
        check_refs(f.ast, f"data filter {i}")
        predicates.append(Predicate("filter", f"data_filters[{i}]", f.ast, f.text))
    for r in spec.business_rules:
        check_refs(r.condition.ast, f"business rule {r.name!r}")
        predicates.append(Predicate("rule", r.name, r.condition.ast, r.condition.text))
    return projections, predicates


def _state_ttl(spec: RequestSpec, *, is_aggregate: bool, materialises: bool) -> tuple[str | None, str]:
    """State TTL where the job keeps keyed state: from the hints/notes, else a documented default."""
    hints = spec.performance_hints
    hint_ttl = sizing.state_ttl_hours(hints + tuple(n.text for n in spec.notes))
    state_ttl: str | None = None
    if is_aggregate or materialises:
        if hint_ttl is not None:
            state_ttl = sizing.format_duration_hours(hint_ttl)
            ttl_reason = f"state TTL {state_ttl} from the request's hints/notes"
        else:
            default = DEFAULT_AGGREGATE_TTL_HOURS if is_aggregate else DEFAULT_UPSERT_TTL_HOURS
            state_ttl = sizing.format_duration_hours(default)
            ttl_reason = f"no TTL in the request: default {state_ttl} for " + (
                "aggregation state (a key idle longer than this restarts from zero)"
                if is_aggregate
                else "the sink's upsert materialiser (per-key last rows)"
            )
    else:
        ttl_reason = "the job keeps no keyed state (lookup joins and projections are stateless): no TTL"
    return state_ttl, ttl_reason


def _settings(
    spec: RequestSpec,
    domain: str,
    state_ttl: str | None,
    ttl_reason: str,
    *,
    is_aggregate: bool,
    latency: float | None,
) -> list[Setting]:
    hints = spec.performance_hints
    mini_batch = is_aggregate or sizing.wants_mini_batch(hints)
    settings = [
        Setting("pipeline.name", f"streamwright-{domain}-v3", "the job's name in the Flink UI and metrics"),
        Setting(
            "table.local-time-zone",
            spec.job.time_zone,
            "job_info.time_zone: how TIMESTAMP_LTZ becomes TIMESTAMP/DATE/text",
        ),
        Setting(
            "table.exec.sink.not-null-enforcer",
            "DROP",
            "a row with NULL in a NOT NULL result column is dropped (request-format §5)",
        ),
    ]
    if state_ttl is not None:
        settings.append(Setting("table.exec.state.ttl", state_ttl, ttl_reason))
    if mini_batch:
        allow_ms = 1000 if latency is None else max(100, min(1000, int(latency * 1000 / 5)))
        why = "aggregation" if is_aggregate else "a mini-batch hint"
        settings += [
            Setting("table.exec.mini-batch.enabled", "true", f"{why}: fewer state accesses and sink writes"),
            Setting(
                "table.exec.mini-batch.allow-latency",
                f"{allow_ms} ms",
                "a fifth of the latency bound, at most 1 s",
            ),
            Setting("table.exec.mini-batch.size", "5000", "buffered rows per mini-batch"),
        ]
    return settings


def _hints_applied(hints: tuple[str, ...], state_ttl: str | None, par: int) -> list[str]:
    """What became of each performance hint, for the README."""
    applied: list[str] = []
    for h in hints:
        if sizing.is_ttl_hint(h):
            applied.append(
                f"{h} -> table.exec.state.ttl = {state_ttl}"
                if state_ttl
                else f"{h} -> no keyed state, TTL not needed"
            )
        elif sizing.wants_mini_batch((h,)):
            applied.append(f"{h} -> table.exec.mini-batch.enabled = true")
        elif sizing.is_rate_hint(h):
            applied.append(f"{h} -> parallelism {par}")
        elif re.search(r"cache|缓存", h, re.IGNORECASE):
            applied.append(f"{h} -> the document's lookup cache options are emitted unchanged")
        else:
            applied.append(f"{h} -> recorded, not machine-applicable")
    return applied


def lower_spec(
    spec: RequestSpec, *, target: Target, profile: Profile, revision: int, generator_version: str
) -> JobIR:
    domain = check_domain(spec.job.domain)
    notes: list[str] = []
    # -- names: every SQL-level table name and alias unique in the script
    taken_tables: list[str] = []
    dim_sql: dict[str, str] = {}
    for d in spec.dimensions:
        dim_sql[d.table.name] = fresh(d.table.name, taken_tables)
        taken_tables.append(dim_sql[d.table.name])
    result_sql = fresh(spec.result.name, taken_tables)
    taken_tables.append(result_sql)
    source_sql = fresh("BusinessEvent", taken_tables)
    aliases = {j.alias for j in spec.joins}
    ev_alias = fresh("ev", aliases)

    extractions, proc_time = _extractions(spec, set())
    events = EventProjection(ev_alias, source_sql, proc_time, domain, spec.job.event_type, extractions)
    known_aliases = {ev_alias} | aliases

    # -- tables
    secrets: list[str] = []
    source, s = _source_def(spec, profile, source_sql, proc_time)
    secrets += s
    dims: list[TableDef] = []
    for d in spec.dimensions:
        t, s = _table_def("dimension", d.table, dim_sql[d.table.name], profile, notes)
        dims.append(t)
        secrets += s
    result, s = _table_def("result", spec.result, result_sql, profile, notes)
    secrets += s

    lookups = _lookups(spec, events, dim_sql)

    projections, predicates = _projections(spec, known_aliases)

    is_aggregate = spec.aggregation.is_aggregate or any(p.is_aggregate for p in projections)
    group_by: list[ex.Expr] = []
    group_cols: set[str] = set()
    if is_aggregate:
        for p in projections:
            if not p.is_aggregate and not _literal_only(p.expr):
                group_by.append(p.expr)
                group_cols.add(p.column)
    proj_t = tuple(projections)
    materialises, on_conflict, conflict_reason = _conflict(spec, target, proj_t, group_cols)

    # -- state TTL, mini-batch, sizing from hints / SLA
    hints = spec.performance_hints
    texts = (
        hints
        + tuple(n.text for n in spec.notes)
        + ((spec.job.sla_requirement,) if spec.job.sla_requirement else ())
    )
    state_ttl, ttl_reason = _state_ttl(spec, is_aggregate=is_aggregate, materialises=materialises)

    latency = sizing.latency_seconds(spec.job.sla_requirement)
    cached = sum(
        1 for d in spec.dimensions if any(k.startswith("lookup.") and "cache" in k for k in d.table.options)
    )
    par, tms, tm_mem, jm_mem, interval, reasons = sizing.size(
        sizing.SizingInput(
            latency_s=latency,
            peak_eps=sizing.peak_rate(texts),
            lookups=len(lookups),
            cached_lookups=cached,
            aggregate=is_aggregate,
            events_per_subtask=profile.resources.events_per_subtask,
            max_parallelism=profile.resources.max_parallelism,
            slots_per_task_manager=profile.resources.slots_per_task_manager,
        )
    )
    settings = _settings(spec, domain, state_ttl, ttl_reason, is_aggregate=is_aggregate, latency=latency)
    applied = _hints_applied(hints, state_ttl, par)

    header = Header(
        job_name=spec.job.name,
        domain=domain,
        event_type=spec.job.event_type,
        revision=revision,
        content_hash=spec.content_hash,
        generator_version=generator_version,
        target_label=target.label,
        profile=profile.name,
    )
    return JobIR(
        header=header,
        settings=tuple(settings),
        source=source,
        dimensions=tuple(dims),
        result=result,
        events=events,
        lookups=tuple(lookups),
        projections=proj_t,
        predicates=tuple(predicates),
        group_by=tuple(group_by),
        is_aggregate=is_aggregate,
        on_conflict=on_conflict,
        on_conflict_reason=conflict_reason,
        state_ttl=state_ttl,
        state_ttl_reason=ttl_reason,
        sizing=Sizing(par, tms, profile.resources.slots_per_task_manager, tm_mem, jm_mem, interval, reasons),
        secrets=tuple(sorted(set(secrets))),
        hints_applied=tuple(applied),
        notes=tuple(notes),
    )
