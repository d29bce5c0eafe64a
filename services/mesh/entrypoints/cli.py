"""Mesh commands: `streamwright broker` and `streamwright up`.

Cheap to import: the broker, Kafka clients and gRPC are imported inside the commands.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Annotated

import typer

from services import exit_codes
from services.cli_output import echo_json

SERVICE_NAMES = ("ingest", "generator", "validator", "knowledge", "router")


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a TCP port (0-65535; 0 = any free port)")
    return value


def _services(values: list[str] | None) -> list[str]:
    unknown = sorted(set(values or ()) - set(SERVICE_NAMES))
    if unknown:
        raise typer.BadParameter(
            f"unknown service(s) {', '.join(unknown)}; known: {', '.join(SERVICE_NAMES)}"
        )
    return values or []


def _replicas(values: list[str] | None) -> dict[str, int]:
    """`--replicas validator=2` (repeatable) -> {"validator": 2}."""
    out: dict[str, int] = {}
    for value in values or ():
        name, sep, count = value.partition("=")
        if not sep or name not in SERVICE_NAMES or not count.isdigit() or int(count) < 1:
            raise typer.BadParameter(
                f"{value!r}: expected SERVICE=N with N >= 1 and SERVICE one of {', '.join(SERVICE_NAMES)}"
            )
        out[name] = int(count)
    return out


def broker(
    port: Annotated[
        int, typer.Option("--port", "-p", callback=_port, help="Port to listen on (0 = any free port).")
    ] = 9092,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Once ready, print one JSON line (bootstrap_servers, log) instead of the text."
        ),
    ] = False,
) -> None:
    """Run the embedded Kafka-compatible broker (Tansu, in memory) until Ctrl-C."""
    from services.mesh.embedded_broker import BrokerStartError, EmbeddedBroker
    from services.mesh.settings import MeshSettings, settings_or_exit

    settings = settings_or_exit(MeshSettings, "streamwright broker")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    embedded = EmbeddedBroker(settings.home, port=port)
    try:
        embedded.start()
    except BrokerStartError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(exit_codes.FAILED) from None
    try:
        if as_json:
            echo_json(
                {"bootstrap_servers": embedded.bootstrap_servers, "log": str(embedded.log_path)}, line=True
            )
        else:
            typer.echo(f"Kafka broker ready: bootstrap servers {embedded.bootstrap_servers}", err=False)
            typer.echo(
                f"(log: {embedded.log_path}; in memory: stopping it forgets everything; Ctrl-C to stop)"
            )
        while not stop.wait(0.5):
            if not embedded.running():
                typer.echo(f"error: broker exited; see {embedded.log_path}", err=True)
                raise typer.Exit(exit_codes.FAILED)
    finally:
        embedded.stop()


def up(  # noqa: PLR0917 - typer options
    broker_port: Annotated[
        int,
        typer.Option(
            "--broker-port",
            callback=_port,
            help="Port of the embedded broker (0 = any free port). Ignored when "
            "STREAMWRIGHT_BOOTSTRAP_SERVERS is set: then that running cluster is used.",
        ),
    ] = 9092,
    free_ports: Annotated[
        bool,
        typer.Option(
            "--free-ports", help="Give every service free gRPC/metrics ports instead of the defaults."
        ),
    ] = False,
    service: Annotated[
        list[str] | None,
        typer.Option("--service", "-s", callback=_services, help="Start only this service (repeatable)."),
    ] = None,
    health_timeout: Annotated[
        float, typer.Option("--health-timeout", min=1.0, help="Seconds each service has to become healthy.")
    ] = 60.0,
    replicas: Annotated[
        list[str] | None,
        typer.Option(
            "--replicas",
            help="SERVICE=N: run N processes of a service in one consumer group (repeatable); "
            "extra instances get free ports.",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Once every service is SERVING, print one JSON line (broker, services with their "
            "grpc, metrics, pid, log) on stdout; the rest goes to stderr.",
        ),
    ] = False,
) -> None:
    """Start the embedded broker and every service, each as its own process, until Ctrl-C."""
    from services.mesh.settings import MeshSettings, SettingsError, exit_invalid, settings_or_exit
    from services.mesh.supervisor import run_supervisor
    from services.mesh.tracing import exporters_from_environment

    # Checked before the broker starts: an invalid variable exits 2 naming it, not a traceback.
    settings = settings_or_exit(MeshSettings, "streamwright up")
    try:
        exporters_from_environment()  # OTEL_* settings every service would refuse
    except SettingsError as error:
        exit_invalid("streamwright up", error)
    counts = _replicas(replicas)
    code = asyncio.run(
        run_supervisor(
            settings,
            broker_port=broker_port,
            free_ports=free_ports,
            only=service or (),
            health_timeout=health_timeout,
            replicas=counts,
            as_json=as_json,
        )
    )
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("broker")(broker)
    app.command("up")(up)
