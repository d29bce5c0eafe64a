"""Router commands: `streamwright runs`, `status RUN [--watch] [--json]`, `review RUN --approve|--reject`,
`cancel RUN`, `stop DOMAIN [--reason]`, `rollback DOMAIN [--to REVISION]`.

They talk to the running router over gRPC. Cheap to import: gRPC and rich load inside the commands.
Exit codes (services/exit_codes.py): 1 for an error the router answers (unknown run, not in review,
...) and for a run that ended other than RUNNING, 2 for usage, 3 when the router does not answer.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services import exit_codes
from services.cli_output import echo_json

if TYPE_CHECKING:
    from services.mesh.rpc.streamwright.v1 import router_pb2

_FAILED = exit_codes.FAILED
_USAGE = exit_codes.USAGE
_UNAVAILABLE = exit_codes.UNAVAILABLE
# Stop-with-savepoint and a checked start can take minutes; the server finishes them regardless.
DEPLOY_TIMEOUT_S = 900.0
STATES = (
    "PENDING",
    "GENERATING",
    "VALIDATING",
    "GATED",
    "IN_REVIEW",
    "KB_UPDATED",
    "STARTING",
    "RUNNING",
    "REJECTED",
    "FAILED",
    "TIMED_OUT",
    "CANCELLED",
    "SUPERSEDED",
)


def _target() -> tuple[str, Any]:
    from services.mesh.service import peer_target
    from services.mesh.settings import MeshSettings, settings_or_exit

    settings = settings_or_exit(MeshSettings, "streamwright")  # invalid: exit 2, naming it
    return peer_target("router", settings), settings


async def _call(method: str, request: Any, *, deadline_s: float = 15) -> Any:
    import grpc

    from services.mesh.grpc_client import open_channel
    from services.mesh.rpc.streamwright.v1 import router_pb2_grpc

    target, settings = _target()
    async with open_channel(target, settings) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            return await getattr(stub, method)(request, timeout=deadline_s)
        except grpc.aio.AioRpcError as error:
            _fail_rpc(error, target)


def _fail_rpc(error: Any, target: str) -> None:
    import grpc

    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        typer.echo(
            f"error: the router is not reachable at {target}; start the mesh with `streamwright up`", err=True
        )
        raise typer.Exit(_UNAVAILABLE)
    typer.echo(f"error: {error.details()}", err=True)
    raise typer.Exit(_FAILED)


def _doc(run: router_pb2.Run) -> dict[str, Any]:
    if run.detail_json:
        loaded: dict[str, Any] = json.loads(run.detail_json)
        return loaded
    return {"run_id": run.run_id, "state": run.state_name, "reason": run.reason}


def runs(
    domain: Annotated[str | None, typer.Option("--domain", help="Only runs of this domain.")] = None,
    state: Annotated[
        str | None, typer.Option("--state", help=f"Only runs in this state ({', '.join(STATES)}).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="At most this many runs.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List runs, newest first."""
    from services.mesh.rpc.streamwright.v1 import router_pb2
    from services.router.domain.runs import RunState
    from services.router.entrypoints.grpc_api import STATE_TO_PB

    request = router_pb2.ListRunsRequest(page_size=limit)
    if domain:
        request.domain = domain
    if state:
        name = state.upper()
        if name not in STATES:
            typer.echo(f"error: unknown state {state!r}; known: {', '.join(STATES)}", err=True)
            raise typer.Exit(_USAGE)
        request.state = STATE_TO_PB[RunState(name)]  # type: ignore[assignment]
    response = asyncio.run(_call("ListRuns", request))
    if as_json:
        for run in response.runs:
            echo_json(_doc(run), line=True)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("run", "domain", "rev", "state", "attempt", "score", "created", "reason")
    for run in response.runs:
        score = f"{run.score:.1f}" if run.HasField("score") else "-"
        created = (
            run.created_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S") if run.HasField("created_at") else ""
        )
        table.add_row(
            run.run_id,
            run.domain,
            str(run.revision or "-"),
            run.state_name,
            str(run.attempt),
            score,
            created,
            run.reason[:60],
        )
    Console().print(table)


def _render(doc: dict[str, Any]) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    state = doc.get("state", "?")
    head = Text.assemble(
        ("run ", "bold"),
        doc.get("run_id", ""),
        f"  {doc.get('domain', '')} r{doc.get('revision') or '-'}  ",
        (state, "bold green" if state == "RUNNING" else "bold red" if doc.get("terminal") else "bold yellow"),
        f"  attempt {doc.get('attempt')}  score {doc.get('score') if doc.get('score') is not None else '-'}",
    )
    phases = Table("phase", "attempt", "duration")
    for phase in doc.get("phases", []):
        ms = phase.get("duration_ms")
        phases.add_row(
            phase["phase"],
            str(phase.get("attempt") or ""),
            "running..." if ms is None else f"{ms / 1000:.2f}s",
        )
    timeline = Table("time", "event", "by", "summary")
    for entry in doc.get("timeline", [])[-12:]:
        timeline.add_row(
            entry["occurred_at"][11:23], entry["event_type"], entry["producer"], entry["summary"][:80]
        )
    refs = doc.get("references") or {}
    custody = Text.assemble(
        ("verified statements ", "bold"),
        refs.get("sql_digest") or "-",
        *(("   started ", refs["started_sql_digest"]) if refs.get("started_sql_digest") else ()),
    )
    return Group(head, Text(doc.get("reason") or ""), custody, phases, timeline)


def status(
    run_id: Annotated[str, typer.Argument(help="The run id (printed by `streamwright submit`).")],
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Follow the run until it ends.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run read-model as JSON.")] = False,
) -> None:
    """Show a run: state, phases with timings, timeline; --watch follows it live."""
    from services.mesh.rpc.streamwright.v1 import router_pb2

    if not watch:
        run = asyncio.run(_call("GetRun", router_pb2.GetRunRequest(run_id=run_id)))
        doc = _doc(run)
        if as_json:
            echo_json(doc)
        else:
            from rich.console import Console

            Console().print(_render(doc))
        raise typer.Exit(
            exit_codes.OK
            if doc.get("state") not in ("FAILED", "REJECTED", "TIMED_OUT", "CANCELLED", "SUPERSEDED")
            else _FAILED
        )
    final = asyncio.run(_watch(run_id, as_json))
    raise typer.Exit(exit_codes.OK if final == "RUNNING" else _FAILED)


async def _watch(run_id: str, as_json: bool) -> str:
    import grpc
    from rich.console import Console
    from rich.live import Live

    from services.mesh.grpc_client import open_channel
    from services.mesh.rpc.streamwright.v1 import router_pb2, router_pb2_grpc

    target, settings = _target()
    state = ""
    async with open_channel(target, settings) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            if as_json:
                async for update in stub.WatchRun(router_pb2.WatchRunRequest(run_id=run_id)):
                    doc = _doc(update.run)
                    state = str(doc.get("state"))
                    echo_json(doc, line=True)
                return state
            with Live(console=Console(), refresh_per_second=4) as live:
                async for update in stub.WatchRun(router_pb2.WatchRunRequest(run_id=run_id)):
                    doc = _doc(update.run)
                    state = str(doc.get("state"))
                    live.update(_render(doc))
        except grpc.aio.AioRpcError as error:
            _fail_rpc(error, target)
    return state


def review(  # noqa: PLR0917 - typer options
    run_id: Annotated[str, typer.Argument(help="A run waiting for review (state IN_REVIEW).")],
    approve: Annotated[
        bool, typer.Option("--approve", help="Approve: the job goes on to knowledge and start.")
    ] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject: the run ends REJECTED.")] = False,
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why (kept in the audit trail).")] = "",
    reviewer: Annotated[
        str | None,
        typer.Option(
            "--reviewer",
            help="Who decides, when auth is off (default: your login name). With auth on the "
            "token's subject is the reviewer, and a different name is refused.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run read-model as JSON.")] = False,
) -> None:
    """Approve or reject a run waiting for review."""
    import getpass

    from services.mesh.rpc.streamwright.v1 import router_pb2
    from services.mesh.settings import MeshSettings, settings_or_exit

    if approve == reject:
        typer.echo("error: give exactly one of --approve or --reject", err=True)
        raise typer.Exit(_USAGE)
    request = router_pb2.ReviewRequest(
        run_id=run_id,
        decision=router_pb2.REVIEW_DECISION_APPROVE if approve else router_pb2.REVIEW_DECISION_REJECT,
        comment=comment,
        reviewer=reviewer
        or (
            getpass.getuser()
            if settings_or_exit(MeshSettings, "streamwright review").grpc_auth == "off"
            else None
        ),
    )
    run = asyncio.run(_call("Review", request))
    if as_json:
        echo_json(_doc(run))
    else:
        typer.echo(f"{run.run_id}: {run.state_name} ({run.reason})")


def cancel(
    run_id: Annotated[str, typer.Argument(help="A run that has not ended.")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")] = "cancelled from the CLI",
    as_json: Annotated[bool, typer.Option("--json", help="Print the run read-model as JSON.")] = False,
) -> None:
    """Cancel a run that has not reached a final state."""
    from services.mesh.rpc.streamwright.v1 import router_pb2

    run = asyncio.run(_call("CancelRun", router_pb2.CancelRunRequest(run_id=run_id, reason=reason)))
    if as_json:
        echo_json(_doc(run))
    else:
        typer.echo(f"{run.run_id}: {run.state_name}")


def _domain(value: str) -> str:
    domain = value.strip()
    if not domain:
        typer.echo("error: DOMAIN must not be empty", err=True)
        raise typer.Exit(_USAGE)
    return domain


def _print_deployment(status: Any, as_json: bool) -> None:
    if as_json:
        echo_json(json.loads(status.detail_json or "{}"))
        return
    job = f" job {status.job_id}" if status.HasField("job_id") else ""
    typer.echo(f"{status.domain}: revision {status.revision} {status.state} on {status.target}{job}")
    if status.reason:
        typer.echo(f"  {status.reason}")
    if status.HasField("savepoint_path"):
        typer.echo(f"  savepoint: {status.savepoint_path}")
    elif status.HasField("savepoint_restored"):
        typer.echo(f"  started from savepoint: {status.savepoint_restored}")


def stop(
    domain: Annotated[str, typer.Argument(help="The domain whose deployed job to stop.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the deployment record).")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the deployment record as JSON.")] = False,
) -> None:
    """Stop a domain's job with a savepoint and record it STOPPED."""
    from services.mesh.rpc.streamwright.v1 import router_pb2

    request = router_pb2.StopDomainRequest(domain=_domain(domain), reason=reason or "stopped from the CLI")
    _print_deployment(asyncio.run(_call("StopDomain", request, deadline_s=DEPLOY_TIMEOUT_S)), as_json)


def rollback(
    domain: Annotated[str, typer.Argument(help="The domain to roll back.")],
    to: Annotated[
        int | None,
        typer.Option(
            "--to",
            min=1,
            help="The revision to start again (default: the previous deployed revision); the current "
            "one when it is stopped.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the deployment record as JSON.")] = False,
) -> None:
    """Start the previous revision of a domain again, from a savepoint of the current job."""
    from services.mesh.rpc.streamwright.v1 import router_pb2

    request = router_pb2.RollbackDomainRequest(domain=_domain(domain))
    if to is not None:
        request.to_revision = to
    _print_deployment(asyncio.run(_call("RollbackDomain", request, deadline_s=DEPLOY_TIMEOUT_S)), as_json)


def register(app: typer.Typer) -> None:
    app.command("runs")(runs)
    app.command("status")(status)
    app.command("review")(review)
    app.command("cancel")(cancel)
    app.command("stop")(stop)
    app.command("rollback")(rollback)
