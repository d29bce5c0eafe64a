"""Mermaid ER diagrams and the markdown documents of seed 000's knowledge-base layout.

    knowledge-base/er-schemas/domains/<domain>/{source-payload, dimension-tables,
        relationships, generated-er-diagram-v3}.md
    knowledge-base/er-schemas/global/{global-er-diagram, tables}.md
    knowledge-base/conflict-reports/<domain>-<run>-<outcome>.md

Everything is rendered from the knowledge base, never copied from a request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from services.knowledge.domain.identity import physical_identity
from services.knowledge.domain.model import Change, DomainModel, KbRelationship, KbTable, mermaid_type

_LEFT = {"zero_or_one": "|o", "exactly_one": "||", "zero_or_more": "}o", "one_or_more": "}|"}
_RIGHT = {"zero_or_one": "o|", "exactly_one": "||", "zero_or_more": "o{", "one_or_more": "|{"}
_SEVERITY_LABEL = {"critical": "Critical", "warning": "Warning", "info": "Info"}
GENERATOR = "streamwright knowledge"


def cardinality_symbol(rel: KbRelationship) -> str:
    return f"{_LEFT[rel.from_cardinality]}--{_RIGHT[rel.to_cardinality]}"


def _quote(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def _entity(table: KbTable, foreign: set[str]) -> list[str]:
    lines = [f"    {table.name} {{"]
    for column in table.columns:
        keys = [k for k, on in (("PK", column.primary_key), ("FK", column.name in foreign)) if on]
        note = " - ".join(
            p for p in (column.comment, column.type + ("" if column.nullable else " NOT NULL")) if p
        )
        key_text = (" " + ", ".join(keys)) if keys else ""
        lines.append(f'        {mermaid_type(column.type)} {column.name}{key_text} "{_quote(note)}"')
    lines.append("    }")
    return lines


def mermaid(tables: Iterable[KbTable], relationships: Iterable[KbRelationship]) -> str:
    """An `erDiagram` of the tables (first definition of a name wins) and their relationships."""
    rels = list(relationships)
    foreign: dict[str, set[str]] = {}
    for rel in rels:
        foreign.setdefault(rel.from_table, set()).update(rel.from_columns)
    seen: set[str] = set()
    lines = ["erDiagram"]
    for table in tables:
        if table.name not in seen:
            seen.add(table.name)
            lines += _entity(table, foreign.get(table.name, set()))
            lines.append("")
    done: set[tuple[str, str, str]] = set()
    for rel in rels:
        label = rel.label or ", ".join(rel.from_columns)
        if (rel.from_table, rel.to_table, label) not in done:
            done.add((rel.from_table, rel.to_table, label))
            lines.append(f'    {rel.from_table} {cardinality_symbol(rel)} {rel.to_table} : "{_quote(label)}"')
    return "\n".join(lines).rstrip() + "\n"


def domain_mermaid(model: DomainModel) -> str:
    return mermaid(model.tables, model.relationships)


def global_mermaid(models: Mapping[str, DomainModel]) -> str:
    ordered = [models[d] for d in sorted(models)]
    return mermaid((t for m in ordered for t in m.tables), (r for m in ordered for r in m.relationships))


def _columns_table(table: KbTable) -> list[str]:
    rows = ["| column | type | nullable | key | comment |", "| --- | --- | --- | --- | --- |"]
    for c in table.columns:
        key = "PK" if c.primary_key else ""
        rows.append(f"| {c.name} | {c.type} | {'yes' if c.nullable else 'no'} | {key} | {c.comment or ''} |")
    return rows


def _table_section(table: KbTable) -> list[str]:
    lines = [f"## {table.name}", ""]
    if table.comment:
        lines += [table.comment, ""]
    if table.primary_key:
        lines += [f"Primary key: ({', '.join(table.primary_key)})", ""]
    lines += _columns_table(table)
    if table.options:
        lines += ["", "Options: " + ", ".join(f"`{k}` = `{v}`" for k, v in sorted(table.options.items()))]
    if (place := physical_identity(table)) is not None:
        lines += ["", f"Physical table: `{place}`"]
    return [*lines, ""]


def _header(title: str, domain: str, version: int) -> list[str]:
    return [f"# {title}", "", f"Domain `{domain}`, knowledge-base version {version}.", ""]


def domain_documents(
    model: DomainModel, version: int, *, generated_at: datetime, changes: Iterable[Change] = ()
) -> dict[str, str]:
    """The four documents of `er-schemas/domains/<domain>/`, by file name."""
    domain = model.domain
    source = [t for t in model.tables if t.role == "source"]
    dims = [t for t in model.tables if t.role == "dimension"]
    results = [t for t in model.tables if t.role == "result"]
    payload = _header("Source payload", domain, version)
    for table in source:
        payload += _table_section(table)
    dimension = _header("Dimension tables", domain, version)
    for table in dims:
        dimension += _table_section(table)
    relations = _header("Relationships", domain, version)
    relations += [
        "| from | columns | to | columns | cardinality | join |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for rel in model.relationships:
        relations.append(
            f"| {rel.from_table} | {', '.join(rel.from_columns)} | {rel.to_table} | {', '.join(rel.to_columns)}"
            f" | `{cardinality_symbol(rel)}` | {rel.join_type or ''} |"
        )
    relations += ["", "Results: " + ", ".join(t.name for t in results), ""]
    return {
        "source-payload.md": "\n".join(payload),
        "dimension-tables.md": "\n".join(dimension),
        "relationships.md": "\n".join(relations),
        "generated-er-diagram-v3.md": er_diagram_document(model, version, generated_at, list(changes)),
    }


def _counts(changes: list[Change]) -> dict[str, int]:
    return {s: sum(1 for c in changes if c.severity == s) for s in ("critical", "warning", "info")}


def er_diagram_document(
    model: DomainModel, version: int, generated_at: datetime, changes: list[Change]
) -> str:
    counts = _counts(changes)
    job = model.jobs[0] if model.jobs else None
    detection = "no conflicts" if not counts["critical"] else f"{counts['critical']} critical conflict(s)"
    lines = [
        f"# {domain_title(model)} ER diagram (knowledge base v{version})",
        "",
        "## Generation",
        "```yaml",
        "generation_metadata:",
        f'  domain: "{model.domain}"',
        f'  generated_by: "{GENERATOR}"',
        f'  generation_time: "{generated_at.isoformat()}"',
        f"  version: {version}",
        f'  source_run: "{job.run_id if job and job.run_id else ""}"',
        f'  conflict_detection: "{detection}"',
        "```",
        "",
        "## ER diagram",
        "```mermaid",
        domain_mermaid(model).rstrip(),
        "```",
        "",
        "## Conflict detection",
        f"- **Critical**: {counts['critical']}",
        f"- **Warning**: {counts['warning']}",
        f"- **Info**: {counts['info']}",
        "",
    ]
    return "\n".join(lines)


def domain_title(model: DomainModel) -> str:
    return model.jobs[0].job if model.jobs else model.domain


def global_documents(models: Mapping[str, DomainModel], *, generated_at: datetime) -> dict[str, str]:
    """`er-schemas/global/`: the merged diagram and an index of every table and who uses it."""
    diagram = [
        "# Global ER diagram",
        "",
        f"Domains: {', '.join(sorted(models)) or 'none'}; generated {generated_at.isoformat()}.",
        "",
        "```mermaid",
        global_mermaid(models).rstrip(),
        "```",
        "",
    ]
    index = [
        "# Tables",
        "",
        "| table | role | domain | columns | physical table |",
        "| --- | --- | --- | --- | --- |",
    ]
    for domain in sorted(models):
        for table in models[domain].tables:
            place = physical_identity(table)
            index.append(
                f"| {table.name} | {table.role} | {domain} | {len(table.columns)} | "
                f"{f'`{place}`' if place else ''} |"
            )
    return {"global-er-diagram.md": "\n".join(diagram), "tables.md": "\n".join([*index, ""])}


def conflict_report(
    *,
    domain: str,
    run_id: str,
    outcome: str,
    mode: str,
    base_version: int | None,
    changes: Iterable[Change],
    generated_at: datetime,
    reason: str | None = None,
) -> str:
    """A conflict report (seed 000 `conflict-reports/`): counts, then every finding by severity."""
    items = list(changes)
    counts = _counts(items)
    lines = [
        f"# Conflict report: {domain}",
        "",
        f"- run: `{run_id}`",
        f"- outcome: **{outcome}**" + (f" ({reason})" if reason else ""),
        f"- compatibility mode: {mode}",
        f"- checked against version: {base_version if base_version is not None else 'none (new domain)'}",
        f"- generated: {generated_at.isoformat()}",
        "",
        "## Result",
        f"- **Critical**: {counts['critical']}",
        f"- **Warning**: {counts['warning']}",
        f"- **Info**: {counts['info']}",
        "",
    ]
    for severity in ("critical", "warning", "info"):
        chosen = [c for c in items if c.severity == severity]
        if chosen:
            lines += [f"## {_SEVERITY_LABEL[severity]}", ""]
            lines += [
                f"- `{c.kind}` {c.table}{'.' + c.column if c.column else ''}: {c.detail}" for c in chosen
            ]
            lines.append("")
    return "\n".join(lines)
