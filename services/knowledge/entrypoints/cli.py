"""`streamwright kb ...`: the knowledge base on the local store, without a running mesh.

    kb show DOMAIN|global     kb diff DOMAIN V1 V2     kb search QUERY      kb history DOMAIN
    kb rollback DOMAIN [--to V]     kb export FILE     kb import FILE       kb impact TABLE[.COLUMN]
    kb check FILE [--mode MODE]  (exit 1 when a conflict is Critical)
    kb commit FILE               (seed the KB from a request approved elsewhere)

FILE is a request-v3 markdown document (checked by `streamwright check --json` in a child
process: knowledge never imports another service) or a spec JSON (`RequestSpec`, or the
output of `streamwright check --json`). Every command takes `--json` (one document on stdout).
Exit codes (services/exit_codes.py): 0 ok, 1 conflicts / rejected document / nothing found,
2 usage errors. Cheap to import: everything heavy loads inside the commands.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from services import exit_codes
from services.cli_output import echo_json

if TYPE_CHECKING:
    from services.flinksql.spec import RequestSpec
    from services.knowledge.domain.impact import ImpactedJob
    from services.knowledge.domain.lineage import Downstream, Node
    from services.knowledge.domain.model import Change, KbTable
    from services.knowledge.knowledge_base import KnowledgeBase

_USAGE, _FAILED = exit_codes.USAGE, exit_codes.FAILED
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as one JSON document.")]
_MODES = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)
T = TypeVar("T")

kb_app = typer.Typer(
    name="kb", help="The ER knowledge base: versions, conflicts, diagrams, search.", no_args_is_help=True
)


def _fail(message: str, code: int = _USAGE) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _run(body: Callable[[KnowledgeBase], Awaitable[T]], *, index: bool = False) -> T:
    """Open the local knowledge base, run `body`, close it."""
    from services.knowledge.adapters.memory_index import MemorySchemaIndex
    from services.knowledge.adapters.qdrant_index import QdrantBusy
    from services.knowledge.bootstrap import knowledge_base, open_index
    from services.knowledge.ports import SchemaIndex
    from services.knowledge.settings import SERVICE, KnowledgeSettings
    from services.mesh.settings import settings_or_exit
    from services.mesh.store import open_store

    settings = settings_or_exit(KnowledgeSettings, "streamwright kb")  # invalid: exit 2, naming it

    async def main() -> T:
        store = open_store(settings, SERVICE)
        chosen: SchemaIndex = MemorySchemaIndex()
        fallback = True
        if index:
            try:
                chosen, fallback = open_index(settings), False
            except QdrantBusy:
                typer.echo(
                    "note: the knowledge service holds the Qdrant directory; using an in-memory "
                    "index (the service re-indexes when it restarts)",
                    err=True,
                )
        kb = knowledge_base(settings, store, index=chosen)
        try:
            if fallback and index:
                await kb.reindex_all()
            return await body(kb)
        finally:
            await chosen.close()
            await store.close()

    return asyncio.run(main())


def _mode(value: str | None) -> str | None:
    if value is None:
        return None
    upper = value.upper()
    if upper not in _MODES:
        raise _fail(f"--mode must be one of {', '.join(_MODES)}")
    return upper


def load_spec(file: Path) -> RequestSpec:
    """A spec from a spec JSON file or a request markdown document (checked by the ingest CLI)."""
    from pydantic import ValidationError

    from services.flinksql.spec import RequestSpec

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"cannot read {file}: {getattr(error, 'strerror', None) or error}") from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
            return RequestSpec.model_validate(data.get("spec", data) if isinstance(data, dict) else data)
        except (ValueError, ValidationError) as error:
            raise _fail(f"{file} is not a request spec JSON: {str(error).splitlines()[0]}") from None
    return _checked_markdown(file)


def _checked_markdown(file: Path) -> RequestSpec:
    import subprocess
    import sys

    from services.flinksql.spec import RequestSpec

    command = [
        sys.executable,
        "-c",
        "from services.cli import app; app(prog_name='streamwright')",
        "check",
        "--json",
        str(file),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode == _USAGE:
        raise _fail(done.stderr.strip().removeprefix("error: ") or f"cannot check {file}")
    try:
        result = json.loads(done.stdout)
    except ValueError:
        raise _fail(f"could not check {file}: {done.stderr.strip()[-400:]}") from None
    if not result.get("valid"):
        for error in result.get("errors", []):
            typer.echo(f"  {error.get('block')}: {error.get('message')} ({error.get('name')})", err=True)
        raise _fail(f"{file} is rejected by the request checker", _FAILED)
    return RequestSpec.model_validate(result["spec"])


def _print_changes(changes: list[Change]) -> None:
    for c in changes:
        where = c.table + (f".{c.column}" if c.column else "")
        typer.echo(f"  {c.severity.upper():8} {c.kind:26} {where}: {c.detail}")


def _changes_json(changes: list[Change]) -> list[dict[str, object]]:
    return [c.model_dump(mode="json", exclude={"breaks"}) for c in changes]


def _table_json(table: KbTable) -> dict[str, object]:
    """A table as `kb show --json` prints it: role, columns with their types (no connector options)."""
    return table.model_dump(mode="json", exclude={"options"})


@kb_app.command("check")
def check_cmd(
    file: Annotated[Path, typer.Argument(help="A request-v3 document or a spec JSON.")],
    mode: Annotated[
        str | None, typer.Option("--mode", help=f"Compatibility mode: {', '.join(_MODES)}.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The conflicts FILE would raise against the current version: exit 1 when any is Critical."""
    from services.knowledge.domain.conflicts import Mode
    from services.knowledge.domain.model import build_model

    chosen = _mode(mode)
    spec = load_spec(file)
    result = _run(lambda kb: kb.check(build_model(spec), Mode(chosen) if chosen else None))
    if as_json:
        echo_json(
            {
                "domain": spec.job.domain,
                "mode": result.mode.value,
                "compatible": result.compatible,
                "base_version": result.base_version,
                "conflicts": _changes_json(list(result.changes)),
            }
        )
    else:
        base = f"version {result.base_version}" if result.base_version else "an empty domain"
        typer.echo(f"{spec.job.domain}: checked against {base} under {result.mode.value}")
        _print_changes(list(result.changes))
        verdict = (
            "compatible"
            if result.compatible
            else f"INCOMPATIBLE: {len(result.critical)} critical conflict(s)"
        )
        typer.echo(verdict)
    if not result.compatible:
        raise typer.Exit(_FAILED)


@kb_app.command("commit")
def commit_cmd(
    file: Annotated[Path, typer.Argument(help="A request-v3 document or a spec JSON.")],
    as_json: JsonFlag = False,
) -> None:
    """Seed the knowledge base from a request that was approved elsewhere (commits a new version)."""
    from services.knowledge.domain.model import build_model
    from services.knowledge.knowledge_base import CommitMeta, CommitOutcome

    spec = load_spec(file)

    async def body(kb: KnowledgeBase) -> CommitOutcome:
        head, _ = await kb.repo.head(spec.job.domain)
        meta = CommitMeta(content_hash=spec.content_hash)
        return await kb.commit(build_model(spec), meta, base_version=head.current, force=True)

    outcome = _run(body, index=True)
    assert outcome.record is not None
    if as_json:
        echo_json(
            {
                "domain": spec.job.domain,
                "version": outcome.record.version,
                "summary": outcome.record.summary,
                "changes": _changes_json(list(outcome.result.changes)),
            }
        )
        return
    typer.echo(f"{spec.job.domain}: committed version {outcome.record.version} ({outcome.record.summary})")
    _print_changes(list(outcome.result.changes))


@kb_app.command("show")
def show_cmd(
    domain: Annotated[str, typer.Argument(help="A domain, or 'global' for every domain.")],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="A version (default: current).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Print a domain's tables, relationships and mermaid ER diagram (or the global diagram)."""
    from services.knowledge.domain.versions import VersionRecord

    async def body(kb: KnowledgeBase) -> tuple[VersionRecord | None, tuple[int, str] | None]:
        record = None if domain == "global" else await kb.record(domain, version)
        return record, await kb.diagram(domain, version)

    record, diagram = _run(body)
    if diagram is None:
        raise _fail(
            f"the knowledge base has no {'version ' + str(version) + ' of ' if version else ''}domain {domain!r}",
            _FAILED,
        )
    if as_json:
        model = record.model if record is not None else None
        echo_json(
            {
                "domain": domain,
                "version": record.version if record is not None else None,
                "state": record.state if record is not None else None,
                "created_at": record.created_at if record is not None else None,
                "run_id": record.run_id if record is not None else None,
                "tables": [_table_json(t) for t in model.tables] if model is not None else [],
                "relationships": [r.model_dump(mode="json") for r in model.relationships]
                if model is not None
                else [],
                "mermaid": diagram[1],
            }
        )
        return
    if record is not None:
        typer.echo(
            f"{record.domain} v{record.version} ({record.state}), committed {record.created_at:%Y-%m-%d %H:%M:%S}"
            f" by run {record.run_id or '-'}"
        )
        for table in record.model.tables:
            typer.echo(f"  {table.role:9} {table.name}: {', '.join(c.name for c in table.columns)}")
    typer.echo(diagram[1])


@kb_app.command("history")
def history_cmd(
    domain: Annotated[str, typer.Argument(help="The domain.")], as_json: JsonFlag = False
) -> None:
    """List a domain's versions, newest first; `*` marks the current one."""
    from services.knowledge.domain.versions import DomainHead, VersionRecord

    async def body(kb: KnowledgeBase) -> tuple[DomainHead, list[VersionRecord]]:
        return (await kb.repo.head(domain))[0], await kb.repo.versions(domain)

    head, versions = _run(body)
    if not versions:
        raise _fail(f"the knowledge base has no domain {domain!r}", _FAILED)
    if as_json:
        echo_json(
            {
                "domain": domain,
                "current": head.current,
                "versions": [
                    {
                        "version": r.version,
                        "current": r.version == head.current,
                        "state": r.state,
                        "created_at": r.created_at,
                        "run_id": r.run_id,
                        "revision": r.revision,
                        "mode": r.mode,
                        "summary": r.summary,
                    }
                    for r in reversed(versions)
                ],
            }
        )
        return
    for record in reversed(versions):
        mark = "*" if record.version == head.current else " "
        typer.echo(
            f"{mark} v{record.version:<4} {record.created_at:%Y-%m-%d %H:%M:%S} {record.state:12} "
            f"run {record.run_id or '-':26} {record.summary}"
        )


@kb_app.command("diff")
def diff_cmd(
    domain: Annotated[str, typer.Argument(help="The domain.")],
    old: Annotated[int, typer.Argument(help="The older version.", min=1)],
    new: Annotated[int, typer.Argument(help="The newer version.", min=1)],
    as_json: JsonFlag = False,
) -> None:
    """The changes from version OLD to version NEW, graded under the domain's mode."""
    try:
        changes = _run(lambda kb: kb.diff(domain, old, new))
    except LookupError as error:
        raise _fail(str(error.args[0]), _FAILED) from None
    if as_json:
        echo_json({"domain": domain, "from": old, "to": new, "changes": _changes_json(changes)})
        return
    typer.echo(f"{domain}: v{old} -> v{new}: {len(changes)} change(s)")
    _print_changes(changes)


@kb_app.command("rollback")
def rollback_cmd(
    domain: Annotated[str, typer.Argument(help="The domain.")],
    to: Annotated[
        int | None, typer.Option("--to", min=1, help="The version to go back to (default: previous).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make an earlier live version current again; the left version is marked rolled_back."""
    from services.knowledge.domain.versions import RollbackError

    try:
        left, current = _run(lambda kb: kb.rollback(domain, to), index=True)
    except RollbackError as error:
        raise _fail(str(error), _FAILED) from None
    if as_json:
        echo_json({"domain": domain, "rolled_back": left, "current": current})
        return
    typer.echo(f"{domain}: v{left} rolled back; current is now {'v' + str(current) if current else 'none'}")


@kb_app.command("search")
def search_cmd(
    query: Annotated[
        str, typer.Argument(help="Words in English or Chinese, e.g. '店铺名称' or 'merchant blacklist'.")
    ],
    domain: Annotated[str | None, typer.Option("--domain", help="Only this domain.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="How many hits.")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Search tables and columns (lexical, plus dense vectors when an embedding model is set)."""
    if not query.strip():
        raise _fail("QUERY must not be empty")
    hits = _run(lambda kb: kb.search(query, limit=limit, domain=domain), index=True)
    if as_json:  # no hits is still an answer: printed, and exit 1 as below
        echo_json(
            {
                "query": query,
                "domain": domain,
                "hits": [
                    {"score": h.score, "domain": h.domain, "table": h.table, "column": h.column} for h in hits
                ],
            }
        )
        if not hits:
            raise typer.Exit(_FAILED)
        return
    if not hits:
        raise _fail("no matches", _FAILED)
    for hit in hits:
        typer.echo(f"{hit.score:8.3f}  {hit.domain}/{hit.table}{'.' + hit.column if hit.column else ''}")


@kb_app.command("impact")
def impact_cmd(
    target: Annotated[str, typer.Argument(metavar="TABLE[.COLUMN]", help="A table, or one column of it.")],
    domain: Annotated[
        str | None, typer.Option("--domain", help="Only jobs of this domain (and lineage from its table).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Which jobs read or write a table or column, and where its data flows: the lineage followed
    transitively across jobs and domains (a result column of one job read by the next, ...)."""
    from services.knowledge.domain.impact import parse_target

    try:
        table, column = parse_target(target)
    except ValueError as error:
        raise _fail(str(error)) from None

    async def answer(kb: KnowledgeBase) -> tuple[list[ImpactedJob], Downstream]:
        return await kb.impact(table, column, domain), await kb.downstream(table, column, domain)

    jobs, flow = _run(answer)
    if as_json:  # no job is still an answer: printed, and exit 1 as below
        echo_json(
            {
                "table": table,
                "column": column,
                "domain": domain,
                "jobs": [
                    {
                        "domain": j.domain,
                        "job": j.job,
                        "run_id": j.run_id,
                        "usage": j.usage,
                        "access": j.access,
                        "columns": list(j.columns),
                    }
                    for j in jobs
                ],
                "lineage": _lineage_json(flow),
            }
        )
        if not jobs:
            raise typer.Exit(_FAILED)
        return
    if not jobs:
        raise _fail(f"no job uses {target}", _FAILED)
    for job in jobs:
        typer.echo(
            f"{job.access:6} {job.domain}/{job.job} ({job.usage}; run {job.run_id or '-'}): {', '.join(job.columns)}"
        )
    _echo_lineage(flow)


def _node_json(node: Node) -> dict[str, str | None]:
    return {"domain": node.domain, "table": node.table, "column": node.column}


def _lineage_json(flow: Downstream) -> dict[str, object]:
    return {
        "start": [_node_json(n) for n in flow.start],
        "reached": [
            {
                **_node_json(hop.node),
                "job": {"domain": hop.job_domain, "name": hop.job},
                "via": _node_json(hop.via),
                "kind": hop.kind,
                "subtype": hop.subtype,
                "depth": hop.depth,
                "chain": [str(n) for n in flow.chain(i)],
            }
            for i, hop in enumerate(flow.hops)
        ],
        "cycles": [{"from": _node_json(a), "back_to": _node_json(b)} for a, b in flow.cycles],
    }


def _echo_lineage(flow: Downstream) -> None:
    """The hops as a tree, each under the hop it comes from: `->` a value flows into a column,
    `=>` rows of a table may change; `from` names the input where it is not the line above
    (a start, or the same table under another name in another domain)."""
    if not flow.hops:
        typer.echo("lineage: nothing downstream")
        return
    typer.echo("lineage (downstream, across jobs and domains):")
    children: dict[int | None, list[int]] = {}
    for index, hop in enumerate(flow.hops):
        children.setdefault(hop.parent, []).append(index)

    def show(index: int, depth: int) -> None:
        hop = flow.hops[index]
        arrow = "->" if hop.kind in ("DIRECT", "INDIRECT") else "=>"
        above = flow.hops[hop.parent].node if hop.parent is not None else None
        origin = "" if hop.via == above else f", from {hop.via}"
        typer.echo(
            f"{'  ' * depth}{arrow} {hop.node}  [{hop.job_domain}/{hop.job}: {hop.kind} {hop.subtype}{origin}]"
        )
        for child in children.get(index, []):
            show(child, depth + 1)

    for root in children.get(None, []):
        show(root, 1)
    for back_from, back_to in flow.cycles:
        typer.echo(f"  cycle: {back_from} leads back to {back_to}")


@kb_app.command("export")
def export_cmd(
    file: Annotated[Path, typer.Argument(help="The backup file to write (JSON).")], as_json: JsonFlag = False
) -> None:
    """Back the knowledge base up to FILE (every domain, every version)."""
    snapshot = _run(lambda kb: kb.export())
    try:
        file.write_text(snapshot.model_dump_json(indent=1), encoding="utf-8")
    except OSError as error:
        raise _fail(f"cannot write {file}: {error.strerror or error}") from None
    if as_json:
        echo_json(
            {
                "file": str(file),
                "domains": [h.domain for h in snapshot.heads],
                "versions": len(snapshot.versions),
            }
        )
        return
    typer.echo(f"exported {len(snapshot.heads)} domain(s), {len(snapshot.versions)} version(s) to {file}")


@kb_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="A backup written by `kb export`.")], as_json: JsonFlag = False
) -> None:
    """Restore FILE: every domain in it is replaced by its backed-up versions."""
    from services.knowledge.domain.versions import SnapshotError, parse_snapshot

    try:
        snapshot = parse_snapshot(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"cannot read {file}: {getattr(error, 'strerror', None) or error}") from None
    except SnapshotError as error:
        raise _fail(str(error)) from None
    domains = _run(lambda kb: kb.restore(snapshot), index=True)
    if as_json:
        echo_json({"file": str(file), "domains": list(domains)})
        return
    typer.echo(f"restored {len(domains)} domain(s): {', '.join(domains) or 'none'}")


def register(app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")
