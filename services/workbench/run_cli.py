"""`streamwright run FILE`: one request through the whole mesh, with live progress.

Uses a running mesh when its ingest service answers on the configured port; otherwise starts
the embedded one (broker + five services, each its own process) for the duration of the run.
Progress and the summary go to stderr; `--json` prints the outcome on stdout as one document.
Exit 0 only when the job passed the gate and started; 1 for any other outcome; 2 for usage;
3 when the mesh stopped answering (services/exit_codes.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services import exit_codes
from services.cli_output import echo_json
from services.mesh.cli_tracing import OFF, command_trace  # light: imports nothing until a command traces

if TYPE_CHECKING:
    from services.mesh.cli_tracing import CommandTrace

_USAGE, _NOT_PASSED = exit_codes.USAGE, exit_codes.FAILED
_PASSED_STATES = {"RUNNING"}
# `run` stops following here: what comes next needs a reviewer (`streamwright review`).
_WAITS_FOR_A_PERSON = {"IN_REVIEW"}
ROUTER_GONE_S = 30.0
# The router (a child of the embedded mesh) writes manifests and reports here.
ROUTER_OUTPUT_DIR_ENV = "STREAMWRIGHT_ROUTER_OUTPUT_DIR"


class MeshGone(RuntimeError):
    """The router stopped answering while we followed a run."""


_DIMENSION_NAMES = {
    1: "SQL standards",
    2: "data accuracy",
    3: "performance",
    4: "business compliance",
}


def run(
    file: Annotated[Path, typer.Argument(help="The request-v3 markdown document.")],
    out: Annotated[Path, typer.Option("--out", help="Where artifacts and reports are written.")] = Path(
        "out"
    ),
    cases: Annotated[Path | None, typer.Option("--cases", help="A cases YAML to send with it.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the run to end.")] = 900.0,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the outcome as one JSON document: run_id, state, passed, timed_out, "
            "the run read-model, the validation report, the files written.",
        ),
    ] = False,
) -> None:
    """Submit a request to the mesh (the embedded one unless one is running) and follow it to the end."""
    for path in (file, cases):
        if path is not None and not path.is_file():
            typer.echo(f"error: {path} is not a readable file", err=True)
            raise typer.Exit(_USAGE)
    if timeout <= 0:
        typer.echo("error: --timeout must be positive", err=True)
        raise typer.Exit(_USAGE)
    from services.mesh.settings import MeshSettings, settings_or_exit

    settings_or_exit(MeshSettings, "streamwright run")  # checked here: invalid exits 2, naming it
    # With tracing configured, the run's trace starts here (cli_tracing.py), not at the ingest service.
    with command_trace("run", {"streamwright.request_file": str(file)}) as trace:
        code = asyncio.run(_run(file, out.resolve(), cases, timeout, as_json=as_json, trace=trace))
        raise typer.Exit(code)


def child_environment(out: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The embedded mesh's environment: a copy of `base` (default: ours) with the router's
    output directory set to `out`. Our own environment is left as it is."""
    return {**(os.environ if base is None else base), ROUTER_OUTPUT_DIR_ENV: str(out)}


async def _run(
    file: Path,
    out: Path,
    cases: Path | None,
    wait_s: float,
    *,
    as_json: bool = False,
    trace: CommandTrace = OFF,
) -> int:
    """`trace`: the command's span (cli_tracing.py), told the run's ids as they come."""
    from rich.console import Console

    from services.ingest.entrypoints.cli import submit_exit_code
    from services.ingest.entrypoints.submit import SubmitError, read_text, submit_document
    from services.mesh.settings import MeshSettings

    console = Console(stderr=True)
    settings = MeshSettings()
    ready, supervisor = await _mesh(settings, out, console, trace)
    if not ready:
        return _NOT_PASSED
    try:
        try:
            document = read_text(file, "request document")
            cases_yaml = read_text(cases, "cases file") if cases is not None else _sidecar(file)
            submitted = await submit_document(
                document, settings=settings, file_name=file.name, cases_yaml=cases_yaml, idempotency_key=None
            )
        except SubmitError as exc:
            console.print(f"[red]error:[/] {exc}")
            return submit_exit_code(exc)
        trace.set("streamwright.run_id", submitted.run_id)
        trace.set("streamwright.request_id", submitted.request_id)
        console.print(f"submitted {file.name}: run [bold]{submitted.run_id}[/]")
        try:
            final = await _follow(settings, submitted.run_id, console, wait_s)
        except MeshGone as exc:
            console.print(f"[red]error:[/] {exc}")
            return exit_codes.UNAVAILABLE
        if final is None:
            console.print(
                f"[red]timed out[/] after {wait_s:.0f} s; the run goes on: streamwright status {submitted.run_id}"
            )
            if as_json:
                echo_json(outcome_json(file, submitted.run_id, None, None, []))
            return _NOT_PASSED
        trace.set("streamwright.domain", final.domain)
        trace.set("streamwright.state", final.state_name)
        report, written = await _summarise(settings, final, out, console)
        if as_json:
            echo_json(outcome_json(file, submitted.run_id, final, report, written))
        return exit_codes.OK if final.state_name in _PASSED_STATES else _NOT_PASSED
    finally:
        if supervisor is not None:
            with console.status("stopping the embedded mesh ..."):
                await asyncio.to_thread(supervisor.stop)


async def _mesh(settings: Any, out: Path, console: Any, trace: CommandTrace) -> tuple[bool, Any]:
    """The running mesh, else the embedded one started for this run: (ready, the Supervisor we
    started, None when we started none); not ready once the reason is printed."""
    from services.mesh.grpc_client import check_health
    from services.mesh.service import peer_target
    from services.mesh.supervisor import Supervisor, SupervisorError

    ingest_at = peer_target("ingest", settings)
    started = time.monotonic()
    if await check_health(ingest_at, settings, timeout=1.0):
        console.print(f"using the running mesh (ingest at {ingest_at})")
        return True, None
    # The router writes manifests and reports into --out: told through the children's environment.
    supervisor = Supervisor(settings, console=console, env=child_environment(out))
    try:
        with (
            trace.step("start embedded mesh"),
            console.status("starting the embedded mesh: broker + 5 services ..."),
        ):
            await supervisor.start()
    except SupervisorError as exc:
        supervisor.stop()
        console.print(f"[red]error:[/] the embedded mesh did not start: {exc}")
        return False, None
    console.print(f"embedded mesh up in {time.monotonic() - started:.1f} s (logs: {settings.home / 'logs'})")
    return True, supervisor


def _sidecar(file: Path) -> str | None:
    from services.ingest.entrypoints.cli import sidecar_cases

    found = sidecar_cases(file)
    return found.read_text(encoding="utf-8") if found is not None else None


async def _follow(settings: Any, run_id: str, console: Any, wait_s: float) -> Any:
    """Stream the run's state changes until it is terminal; the final Run, or None on timeout."""
    import grpc

    from services.mesh.grpc_client import open_channel
    from services.mesh.rpc.streamwright.v1 import router_pb2, router_pb2_grpc
    from services.mesh.service import peer_target

    target = peer_target("router", settings)
    deadline = time.monotonic() + wait_s
    began = time.monotonic()
    last_state = ""
    unreachable_since: float | None = None
    async with open_channel(target, settings) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)  # type: ignore[no-untyped-call]
        while time.monotonic() < deadline:
            try:
                stream = stub.WatchRun(
                    router_pb2.WatchRunRequest(run_id=run_id), timeout=deadline - time.monotonic()
                )
                async for update in stream:
                    unreachable_since = None
                    run = update.run
                    if run.state_name != last_state:
                        last_state = run.state_name
                        detail = f"  score {run.score:.1f}" if run.HasField("score") else ""
                        console.print(f"  {time.monotonic() - began:6.1f} s  {run.state_name:<12}{detail}")
                    if run.terminal or run.state_name in _WAITS_FOR_A_PERSON:
                        return run
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    return None
                if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE):
                    raise
                if exc.code() == grpc.StatusCode.UNAVAILABLE:
                    # a mesh that went away (e.g. an `up` stopped mid-run) must not leave us waiting
                    unreachable_since = unreachable_since or time.monotonic()
                    if time.monotonic() - unreachable_since > ROUTER_GONE_S:
                        raise MeshGone(
                            f"the router at {target} has not answered for {ROUTER_GONE_S:.0f} s; "
                            f"is the mesh still up? (last state: {last_state or 'none'})"
                        ) from exc
            await asyncio.sleep(0.2)  # the router has not seen the run yet
    return None


def outcome_json(file: Path, run_id: str, run: Any, report: Any, written: list[Path]) -> dict[str, Any]:
    """`run --json`: the outcome; `run` None means the wait timed out (the run goes on)."""
    state = run.state_name if run is not None else None
    return {
        "file": str(file),
        "run_id": run_id,
        "state": state,
        "passed": state in _PASSED_STATES,
        "timed_out": run is None,
        # the read-model `streamwright status RUN --json` prints
        "run": (json.loads(run.detail_json) if run.detail_json else None) if run is not None else None,
        # the validator's machine report (its own schema_version); None when not validated
        "report": json.loads(report.json) if report is not None and report.json else None,
        "written": [str(path) for path in written],
    }


async def _summarise(settings: Any, run: Any, out: Path, console: Any) -> tuple[Any, list[Path]]:
    """Print the outcome on `console`; the validation report (None without one) and the files written."""
    from rich.table import Table

    colour = "green" if run.state_name in _PASSED_STATES else "red"
    console.print(f"\n[bold {colour}]{run.state_name}[/]  {run.reason}")
    if run.state_name in _WAITS_FOR_A_PERSON:
        console.print(
            f"  a reviewer decides next: streamwright review {run.run_id} --approve|--reject "
            "(with the mesh running: streamwright up)"
        )
    for decision in run.decisions:
        console.print(
            f"  gate (attempt {decision.attempt}): {decision.decision} by {decision.decided_by} - {decision.reason}"
        )
    report = await _report(settings, run.run_id)
    if report is not None:
        table = Table(
            title=f"quality score {report.score:.1f} / 100" + (" (provisional)" if report.provisional else "")
        )
        table.add_column("dimension")
        table.add_column("score", justify="right")
        table.add_column("weight", justify="right")
        for dim in report.dimensions:
            table.add_row(
                _DIMENSION_NAMES.get(dim.dimension, str(dim.dimension)),
                f"{dim.score:.1f}",
                f"{dim.weight:.0%}",
            )
        console.print(table)
        severity = {1: "CRITICAL", 2: "WARNING", 3: "INFO"}
        for finding in sorted(report.findings, key=lambda f: f.severity)[:5]:
            console.print(f"  [{severity.get(finding.severity, '?')}] {finding.code}: {finding.message}")
    written = await _write_outputs(settings, run, report, out)
    if written:
        console.print(f"\nwritten under {out}:")
        for path in written:
            console.print(f"  {path.relative_to(out) if path.is_relative_to(out) else path}")
    return report, written


async def _report(settings: Any, run_id: str) -> Any:
    import grpc

    from services.mesh.grpc_client import open_channel
    from services.mesh.rpc.streamwright.v1 import validator_pb2, validator_pb2_grpc
    from services.mesh.service import peer_target

    target = peer_target("validator", settings)
    async with open_channel(target, settings) as channel:
        stub = validator_pb2_grpc.ValidatorServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            return await stub.GetReport(validator_pb2.GetReportRequest(run_id=run_id), timeout=10)
        except grpc.aio.AioRpcError:
            return None  # rejected before validation: there is no report


async def _write_outputs(settings: Any, run: Any, report: Any, out: Path) -> list[Path]:
    """The run's artifacts (from the generator) and its validation report, in seed 000's layout."""
    import grpc

    from services.flinksql.artifacts import ArtifactLayout
    from services.mesh.files import write_files
    from services.mesh.grpc_client import open_channel
    from services.mesh.rpc.streamwright.v1 import generator_pb2, generator_pb2_grpc
    from services.mesh.service import peer_target

    files: dict[str, str] = {}
    target = peer_target("generator", settings)
    async with open_channel(target, settings) as channel:
        stub = generator_pb2_grpc.GeneratorServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            got = await stub.GetArtifacts(
                generator_pb2.GetArtifactsRequest(run_id=run.run_id, include_content=True), timeout=10
            )
            files.update({a.path: a.content.decode("utf-8") for a in got.artifacts})
        except grpc.aio.AioRpcError:
            pass  # nothing was generated (rejected request)
    if report is not None and run.domain and files:
        layout = ArtifactLayout(run.domain)
        files[layout.validation_report] = report.markdown
        files[layout.validation_report_json] = report.json
    written = await asyncio.to_thread(write_files, files, out) if files else []
    reports = await asyncio.to_thread(
        lambda: [*out.glob("**/workflow/*.md"), *out.glob("**/deployment/*.yaml")]
    )
    return sorted(set(written) | set(reports))


def register(app: typer.Typer) -> None:
    app.command("run")(run)
