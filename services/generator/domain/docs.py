"""The generated job's README: what it does, field lineage, hints applied, choices explained."""

from __future__ import annotations

import re

from services.flinksql import expr as ex
from services.flinksql.spec import RequestSpec
from services.generator.domain.emit_sql import one_line, secret_reference
from services.generator.domain.ir import JobIR
from services.generator.domain.manifests import SECRET_KEY, secret_env_var
from services.generator.domain.target import Target


def _cell(text: str) -> str:
    """Text safe in a markdown table cell (and on a terminal: no control characters)."""
    flat = re.sub(r"\s+", " ", one_line(text)).strip()
    return flat.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def _code(text: str) -> str:
    flat = _cell(text)
    return f"`` {flat} ``" if flat else ""


def lineage(spec: RequestSpec, ir: JobIR) -> list[tuple[str, list[str], list[str]]]:
    """(result column, payload fields, dimension `table.column (alias)`) per result column."""
    alias_table = {j.alias: j.target_table for j in spec.joins}
    rows = []
    for p in ir.projections:
        payload: list[str] = []
        dims: list[str] = []
        for c in ex.columns(p.expr):
            item = (
                f"payload.{c.name}"
                if c.qualifier == "payload"
                else f"{alias_table.get(c.qualifier, '?')}.{c.name} ({c.qualifier})"
            )
            target = payload if c.qualifier == "payload" else dims
            if item not in target:
                target.append(item)
        rows.append((p.column, payload, dims))
    return rows


def readme(spec: RequestSpec, ir: JobIR, target: Target, files: list[str]) -> str:
    h = ir.header
    out: list[str] = [
        f"# {_cell(h.job_name)} — generated Flink SQL job (v3)",
        "",
        f"- Domain `{h.domain}`, event type `{_cell(h.event_type)}`, request revision {h.revision}",
        f"- Content hash `sha256:{h.content_hash}`",
        f"- Generator `streamwright-generator {_cell(h.generator_version)}`, target {target.label}, profile `{h.profile}`",
        "",
        "## What the job does",
        "",
    ]
    if spec.job.description:
        out += [_cell(spec.job.description), ""]
    out.append(
        f"It reads `BusinessEvent` from Kafka, keeps events with domain `{h.domain}` and type "
        f"`{_cell(h.event_type)}`, extracts {len(ir.events.extractions)} payload field(s) once per event, "
        f"enriches them with {len(ir.lookups)} lookup join(s), applies {len(ir.predicates)} filter(s)/rule(s)"
        + (f", groups by {len(ir.group_by)} expression(s)" if ir.group_by else "")
        + f" and writes `{ir.result.name}`"
        + (f" (upsert on {', '.join(ir.result.primary_key)})." if ir.result.primary_key else " (append).")
    )
    out += [
        "",
        "## Lookups",
        "",
        "| # | join | table | alias | key | extra condition |",
        "|---|---|---|---|---|---|",
    ]
    for i, lk in enumerate(ir.lookups, 1):
        key = f"{lk.alias}.{lk.target_column} = {lk.source.qualifier}.{lk.source.column}"
        key_cast = lk.source_cast
        if key_cast is not None and key_cast.guard_from is None:
            key += f" (source CAST to {key_cast.to.sql()}, a widening)"
        elif key_cast is not None and key_cast.guard_from is not None:
            key += (
                f" (source TRY_CAST to {key_cast.to.sql()} to look the row up, and the row's key must "
                f"equal the source value as {key_cast.guard_from.sql()}: a value the conversion would "
                "change matches no row)"
            )
        cond = "" if lk.condition is None else ex.render(lk.condition, lambda c: f"{c.qualifier}.{c.name}")
        out.append(f"| {i} | {lk.join_type} | `{lk.table}` | `{lk.alias}` | {_code(key)} | {_code(cond)} |")
    out += [
        "",
        "## Field lineage",
        "",
        "| result column | expression | payload fields | dimension fields | cast |",
        "|---|---|---|---|---|",
    ]
    for (column, payload, dims), p in zip(lineage(spec, ir), ir.projections, strict=True):
        cast = f"CAST to {p.cast_to.sql()}" if p.cast_to is not None else ""
        out.append(
            f"| `{column}` | {_code(p.text)} | {_cell(', '.join(payload))} | {_cell(', '.join(dims))} | {cast} |"
        )
    out += [
        "",
        "## Filters and business rules (after the joins" + (", before grouping)" if ir.group_by else ")"),
        "",
    ]
    for pr in ir.predicates:
        out.append(f"- {pr.kind} `{_cell(pr.name)}`: {_code(pr.text)}")
    if not ir.predicates:
        out.append("- none besides the event filter")
    out += ["", "## Performance hints and sizing", ""]
    out += [f"- {_cell(a)}" for a in ir.hints_applied] or ["- no performance hints in the request"]
    out += [f"- {_cell(r)}" for r in ir.sizing.reasons]
    out += [
        f"- State TTL: {ir.state_ttl or 'none'} ({_cell(ir.state_ttl_reason)})",
        "",
        "## ON CONFLICT",
        "",
        _cell(ir.on_conflict_reason),
        "",
        "## Payload parsing",
        "",
        "Each referenced payload field is read by exactly one expression, "
        "`TRY_CAST(JSON_VALUE(payload, '$.<field>') AS <type>)` (plain `JSON_VALUE` for String), in the "
        "inner projection `" + ir.events.alias + "`; every later reference uses that column. "
        "The Flink planner may still inline that projection into a consumer that has no operator in "
        "between (calc merging), so 'parsed once' is guaranteed per field reference in the SQL, and per "
        "field at run time below a lookup join. VARIANT (`TRY_PARSE_JSON`) is not used: on Flink 2.3 "
        "a VARIANT value cannot be CAST to the payload types, so it cannot give the same meaning.",
        "",
        "## Secrets",
        "",
    ]
    if ir.secrets:
        out.append(
            "Credentials are never in the request or these files. Each value `"
            + secret_reference("<name>")
            + f"` is resolved at submission from Kubernetes Secret `<name>` (key `{SECRET_KEY}`), which the "
            "FlinkDeployment exposes as an environment variable:"
        )
        out.append("")
        out += [f"- `{s}` → `{secret_env_var(s)}`" for s in ir.secrets]
    else:
        out.append("The job references no secrets.")
    out += ["", "## Session settings", ""]
    out += [f"- `{s.key}` = `{_cell(s.value)}`: {_cell(s.reason)}" for s in ir.settings]
    if ir.notes or spec.warnings:
        out += ["", "## Notes and warnings", ""]
        out += [f"- {_cell(n)}" for n in ir.notes]
        out += [f"- warning {w.code}: {_cell(w.message)}" for w in spec.warnings]
    out += ["", "## Files", ""] + [f"- `{f}`" for f in files]
    return "\n".join(out) + "\n"
