"""Performance (20 %): planner advice, lookup caches, state TTL, JSON parsing, joins, config vs SLA."""

from __future__ import annotations

import re
from collections.abc import Mapping

from services.validator.domain.context import Context
from services.validator.domain.model import SeverityName

_LOOKUP_CONNECTORS = frozenset({"jdbc", "hbase-2.2", "hbase-1.4", "redis", "mysql", "postgres"})
_NON_LOOKUP_CONNECTORS = frozenset(
    {"kafka", "upsert-kafka", "datagen", "filesystem", "print", "blackhole", "faker"}
)
# Sinks whose primary key brings no SinkUpsertMaterializer: the generator treats them as
# append-only and sets no TTL for them (services/generator/domain/lower.py,
# APPEND_ONLY_CONNECTORS). Flink adds the materialiser (upsert-materialize AUTO) only in front of
# a sink that takes updates fed by an updating stream; these take an insert-only stream as it is,
# and a stream only updates through state already counted (a regular join, an aggregation).
_APPEND_ONLY_SINKS = frozenset({"print", "blackhole", "filesystem", "kafka"})
_CACHE_KEYS = ("lookup.cache.max-rows", "lookup.partial-cache.max-rows", "lookup.cache.ttl", "cache")
_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(ms|milli(?:second)?s?|毫秒|s|sec(?:ond)?s?|秒|min(?:ute)?s?|m|分钟|分|h|hours?|小时|d|days?|天)?",
    re.IGNORECASE,
)
_UNIT_SECONDS = {
    "ms": 0.001,
    "milli": 0.001,
    "毫秒": 0.001,
    "s": 1,
    "sec": 1,
    "秒": 1,
    "min": 60,
    "m": 60,
    "分钟": 60,
    "分": 60,
    "h": 3600,
    "hour": 3600,
    "小时": 3600,
    "d": 86400,
    "day": 86400,
    "天": 86400,
}


def duration_seconds(text: str | None) -> float | None:
    """Seconds of a duration text: '30 s', '1 d', '1000 ms', '< 5秒', '2 minutes' (None if unreadable)."""
    if not text:
        return None
    match = _DURATION.search(text)
    if match is None:
        return None
    value = float(match.group(1))
    unit = (match.group(2) or "ms").lower()
    for prefix, factor in _UNIT_SECONDS.items():
        if unit == prefix or (len(prefix) > 1 and unit.startswith(prefix)):
            return value * factor
    return value * _UNIT_SECONDS.get(unit[:1], 1)


def run(ctx: Context) -> None:
    _advice(ctx)
    _lookups(ctx)
    _state_ttl(ctx)
    _json_parsing(ctx)
    _regular_joins(ctx)
    _config_vs_sla(ctx)


def _advice(ctx: Context) -> None:
    plan = ctx.inputs.plan
    if plan is None or not plan.ran:
        return
    ctx.ran("perf.planner_advice")
    for st in plan.statements:
        for advice in st.advice:
            kind: SeverityName = "warning" if "[WARNING]" in advice.upper() else "info"
            ctx.add(
                "perf.planner_advice",
                ctx.t(f"Planner advice: {advice}", f"优化器建议: {advice}"),
                location=f"{st.kind} #{st.index + 1}",
                line=st.line,
                severity=kind,
            )


def _has_cache(options: dict[str, str]) -> bool:
    mode = options.get("lookup.cache", "").strip().upper()
    if mode in ("PARTIAL", "FULL"):
        return True
    if mode == "NONE":
        return False
    return any(k in options and options[k].strip() not in ("", "0") for k in _CACHE_KEYS)


def _lookups(ctx: Context) -> None:
    for ins in ctx.view.inserts:
        seen: set[str] = set()
        for table, lookup in ins.table_refs:
            if not lookup or table in seen:
                continue
            seen.add(table)
            found = ctx.view.table(table)
            if found is None:
                continue
            st, ddl = found
            opts = {k.lower(): v for k, v in ddl.option_map.items()}
            connector = opts.get("connector", "").lower()
            ctx.ran("perf.lookup_on_non_lookup_table")
            if connector in _NON_LOOKUP_CONNECTORS:
                ctx.add(
                    "perf.lookup_on_non_lookup_table",
                    ctx.t(
                        f"{ddl.name} is joined FOR SYSTEM_TIME AS OF (a processing-time lookup) but its "
                        f"connector '{connector}' cannot be looked up.",
                        f"{ddl.name} 以 FOR SYSTEM_TIME AS OF 做处理时间 lookup 关联, 但其连接器 '{connector}' 不支持点查。",
                    ),
                    location=f"CREATE TABLE {ddl.name}",
                    line=st.line,
                    name=ddl.name,
                )
                continue
            ctx.ran("perf.lookup_cache_missing")
            if not _has_cache(opts):
                ctx.add(
                    "perf.lookup_cache_missing",
                    ctx.t(
                        f"Lookup dimension {ddl.name} has no lookup cache: every event queries the database.",
                        f"lookup 维表 {ddl.name} 未配置缓存: 每条事件都会查询数据库。",
                    ),
                    location=f"CREATE TABLE {ddl.name}",
                    line=st.line,
                    name=ddl.name,
                )


def _state_reasons(ctx: Context) -> list[str]:
    reasons: list[str] = []
    for ins in ctx.view.inserts:
        if any(not j.lookup and j.join_type != "CROSS" for j in ins.joins):
            reasons.append(ctx.t("a regular join", "双流/常规 JOIN"))
        if ins.group_by or ctx.spec.aggregation.is_aggregate:
            reasons.append(ctx.t("an aggregation", "聚合"))
        target = ctx.view.table(ins.target) if ins.target else None
        if target is not None and target[1].primary_key and not _append_only(target[1].option_map):
            reasons.append(ctx.t("the upsert sink's materialiser", "upsert sink 的物化算子"))
    return sorted(set(reasons))


def _append_only(options: Mapping[str, str]) -> bool:
    opts = {k.lower(): v for k, v in options.items()}
    return opts.get("connector", "").strip().lower() in _APPEND_ONLY_SINKS


def _state_ttl(ctx: Context) -> None:
    reasons = _state_reasons(ctx)
    if not reasons:
        return
    ctx.ran("perf.state_ttl_missing")
    ttl = ctx.view.setting("table.exec.state.ttl")
    seconds = duration_seconds(ttl)
    if ttl is None or seconds is None or seconds <= 0:
        ctx.add(
            "perf.state_ttl_missing",
            ctx.t(
                f"State grows without bound ({', '.join(reasons)}) and no table.exec.state.ttl is set.",
                f"状态无限增长 ({', '.join(reasons)}), 且未设置 table.exec.state.ttl。",
            ),
            location="SET table.exec.state.ttl",
        )


def _json_parsing(ctx: Context) -> None:
    for ins in ctx.view.inserts:
        ctx.ran("perf.repeated_json_parse")
        for path, count in sorted(ins.json_paths.items()):
            if count > 1:
                ctx.add(
                    "perf.repeated_json_parse",
                    ctx.t(
                        f"JSON path {path} is parsed {count} times per event.",
                        f"JSON 路径 {path} 每条事件被解析 {count} 次。",
                    ),
                    location=f"INSERT INTO {ins.target}",
                    line=ins.statement.line,
                    name=path,
                )


def _regular_joins(ctx: Context) -> None:
    for ins in ctx.view.inserts:
        for join in ins.joins:
            ctx.ran("perf.unbounded_regular_join")
            if join.lookup or join.join_type == "CROSS":
                continue
            ctx.add(
                "perf.unbounded_regular_join",
                ctx.t(
                    f"{join.join_type} JOIN {join.table} is a regular join on a stream: both sides stay in state.",
                    f"{join.join_type} JOIN {join.table} 是流上的常规 JOIN: 两侧数据都保存在状态中。",
                ),
                location=f"INSERT INTO {ins.target}",
                line=ins.statement.line + join.line_offset,
                name=join.table,
            )


def _transactional_sink(ctx: Context) -> bool:
    ins = ctx.insert
    if ins is None or ins.target is None:
        return False
    found = ctx.view.table(ins.target)
    if found is None:
        return False
    opts = {k.lower(): v.lower() for k, v in found[1].option_map.items()}
    connector = opts.get("connector", "")
    if connector == "filesystem":
        return True
    return connector in ("kafka", "upsert-kafka") and opts.get("sink.delivery-guarantee") == "exactly-once"


def _config_vs_sla(ctx: Context) -> None:
    config = ctx.inputs.job_config
    sla = duration_seconds(ctx.spec.job.sla_requirement)
    interval_text = ctx.view.setting("execution.checkpointing.interval") or (
        config.checkpoint_interval if config else None
    )
    interval = duration_seconds(interval_text)
    ctx.ran("perf.checkpoint_missing")
    if interval is None:
        ctx.add(
            "perf.checkpoint_missing",
            ctx.t(
                "No checkpoint interval is configured (job config or SET execution.checkpointing.interval).",
                "未配置 checkpoint 间隔 (作业配置或 SET execution.checkpointing.interval)。",
            ),
            location="job config",
        )
    elif sla is not None and _transactional_sink(ctx):
        ctx.ran("perf.checkpoint_vs_sla")
        if interval > sla:
            ctx.add(
                "perf.checkpoint_vs_sla",
                ctx.t(
                    f"The sink commits on checkpoints every {interval_text}, longer than the SLA "
                    f"({ctx.spec.job.sla_requirement}).",
                    f"sink 在 checkpoint 时提交, 间隔 {interval_text} 超过 SLA ({ctx.spec.job.sla_requirement})。",
                ),
                location="job config",
            )
    minibatch = ctx.view.setting("table.exec.mini-batch.allow-latency")
    mb = duration_seconds(minibatch)
    if (
        sla is not None
        and mb is not None
        and (ctx.view.setting("table.exec.mini-batch.enabled") or "").lower() == "true"
    ):
        ctx.ran("perf.minibatch_vs_sla")
        if mb > sla / 2:
            ctx.add(
                "perf.minibatch_vs_sla",
                ctx.t(
                    f"Mini-batch latency {minibatch} uses more than half of the SLA ({ctx.spec.job.sla_requirement}).",
                    f"mini-batch 延迟 {minibatch} 超过 SLA ({ctx.spec.job.sla_requirement}) 的一半。",
                ),
                location="SET table.exec.mini-batch.allow-latency",
            )
    ctx.ran("perf.parallelism_unset")
    parallelism = ctx.view.setting("parallelism.default") or (
        str(config.parallelism) if config and config.parallelism else None
    )
    if parallelism is None:
        ctx.add(
            "perf.parallelism_unset",
            ctx.t(
                "No parallelism is configured for the job (deployment or parallelism.default).",
                "作业未配置并行度 (部署配置或 parallelism.default)。",
            ),
            location="job config",
        )
