"""The span of a CLI command that sends work into the mesh (`submit`, `run`): the root of its trace.

    with command_trace("submit", {"streamwright.request_file": str(file)}) as trace:
        response = run_submit(...)           # gRPC calls in here are its CLIENT children
        trace.set("streamwright.run_id", response.run_id)

With tracing configured (the services' rule, tracing.exporters_from_environment: an OTLP
endpoint or OTEL_TRACES_EXPORTER), the command is one INTERNAL span `streamwright <command>` of
service `streamwright-cli` (OpenTelemetry's CLI conventions: the program's own execution is
INTERNAL, `process.exit.code` on it, ERROR when that is not 0). It is current while the command
runs, so every unary gRPC call the command makes is a CLIENT span under it, whose context goes
to the server in the call's metadata (grpc_client.py): the ingest service's `SubmitRequest`
SERVER span, and with it the whole run, is in the command's trace. Its spans are exported
before the command returns (an OTLP export waits at most EXPORT_TIMEOUT_S, unless
OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT says otherwise); console spans go to stderr, so
`--json` output stays one document.

Off (no such variable, the usual case), this module imports nothing: no OpenTelemetry SDK, no
exporter, and the command's own code runs as before (`OFF`, a handle that does nothing).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.mesh.tracing import AttributeValue, ServiceTracing, Span

__all__ = ["CLI_SERVICE", "EXPORT_TIMEOUT_S", "OFF", "CommandTrace", "command_trace", "tracing_requested"]

CLI_SERVICE = "cli"  # service.name streamwright-cli
EXECUTABLE = "streamwright"
EXPORT_TIMEOUT_S = 2.0
# The variables that can turn tracing on; tracing.exporters_from_environment decides.
_SWITCHES = ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the OTEL_* variables may turn tracing on; without one, nothing needs importing."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(env.get(name, "").strip() for name in _SWITCHES)


class CommandTrace:
    """A command's span, as the command sees it; does nothing when tracing is off."""

    def __init__(self, tracing: ServiceTracing | None = None, span: Span | None = None) -> None:
        self._tracing = tracing
        self._span = span

    @property
    def enabled(self) -> bool:
        return self._span is not None

    def set(self, key: str, value: AttributeValue | None) -> None:
        """An attribute learnt on the way (the run id); None and "" are not recorded."""
        if self._span is not None and value is not None and value != "":
            self._span.set_attribute(key, value)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A child span around a part of the command (starting the embedded mesh)."""
        if self._tracing is None:
            yield
            return
        with self._tracing.span(name):
            yield


OFF = CommandTrace()


def _exit_code(error: BaseException) -> int:
    """The exit code `error` ends the command with (typer.Exit, SystemExit, Ctrl-C, a crash)."""
    code = getattr(error, "exit_code", None)  # click's Exit (typer.Exit)
    if isinstance(code, int):
        return code
    if isinstance(error, SystemExit):
        return error.code if isinstance(error.code, int) else (0 if error.code is None else 1)
    if isinstance(error, KeyboardInterrupt):
        return 130
    return 1


def _crashed(error: BaseException) -> bool:
    return getattr(error, "exit_code", None) is None and not isinstance(error, SystemExit)


@contextlib.contextmanager
def command_trace(command: str, attributes: Mapping[str, AttributeValue | None]) -> Iterator[CommandTrace]:
    """The span `streamwright <command>` around the block, a new trace; flushed when it ends.

    An OTEL_* setting that cannot work raises SettingsError (the CLI exits 2 naming it), as it
    stops a service.
    """
    if not tracing_requested():
        yield OFF
        return
    from services.mesh.tracing import ServiceTracing, SpanKind, Status, StatusCode, root_context

    tracing = ServiceTracing.from_environment(
        CLI_SERVICE, export_timeout_s=EXPORT_TIMEOUT_S, console_out=sys.stderr, legacy_warning=False
    )
    if not tracing.enabled:  # OTEL_TRACES_EXPORTER=none
        yield OFF
        return
    given = {key: value for key, value in attributes.items() if value is not None and value != ""}
    try:
        with tracing.span(
            f"{EXECUTABLE} {command}",
            kind=SpanKind.INTERNAL,
            context=root_context(),
            attributes={"process.executable.name": EXECUTABLE, "process.pid": os.getpid(), **given},
            record_errors=False,  # typer.Exit(0) is an exception too: the exit code decides
        ) as span:
            code, error_type = 0, ""
            try:
                yield CommandTrace(tracing, span)
            except BaseException as error:
                code, error_type = _exit_code(error), str(_exit_code(error))
                if _crashed(error):  # not an exit code the command chose: what happened, as an event
                    span.record_exception(error)
                    error_type = f"{type(error).__module__}.{type(error).__qualname__}"
                raise
            finally:
                span.set_attribute("process.exit.code", code)
                if code != 0:
                    span.set_attribute("error.type", error_type)
                    span.set_status(Status(StatusCode.ERROR, f"exit code {code}"))
    finally:
        tracing.shutdown()  # exports what is left, waits at most the export timeout
