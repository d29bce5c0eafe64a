"""The `streamwright` command line: one typer app; each service contributes its commands.

Service CLI modules must stay cheap to import (no Kafka, gRPC or PyFlink at import time),
because every invocation imports all of them.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="streamwright",
    help="Request documents in, verified and gated Flink SQL jobs out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module exposes `register(app: typer.Typer) -> None`. The generator's and the validator's
# commands (generate, test, validate) chain other services, so they live in the workbench.
_COMMAND_MODULES = (
    "services.mesh.entrypoints.cli",
    "services.mesh.entrypoints.ops_cli",
    "services.ingest.entrypoints.cli",
    "services.knowledge.entrypoints.cli",
    "services.router.entrypoints.cli",
    # Commands that chain several services' logic in-process (generate, test, validate, run).
    "services.workbench.cli",
    "services.workbench.validate_cli",
    "services.workbench.run_cli",
)


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_all()


def main() -> None:
    from services.mesh.settings import INVALID_SETTINGS_EXIT, SettingsError

    try:
        app()
    except SettingsError as error:  # e.g. an unreadable or world-readable gRPC token file
        typer.echo(f"streamwright: error: {error}", err=True)
        raise SystemExit(INVALID_SETTINGS_EXIT) from None
