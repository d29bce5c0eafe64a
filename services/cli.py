"""The `streamwright` command line: one typer app; each service contributes its commands.

Service CLI modules must stay cheap to import (no Kafka, gRPC or PyFlink at import time),
because every invocation imports all of them.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from services import exit_codes

app = typer.Typer(
    name="streamwright",
    help="Request documents in, verified and gated Flink SQL jobs out.",
    epilog=exit_codes.HELP,
    no_args_is_help=True,
    # --install-completion / --show-completion (bash, zsh, fish, PowerShell): typer's own.
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from services.version import package_version

        typer.echo(f"streamwright {package_version()}")
        raise typer.Exit(exit_codes.OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Request documents in, verified and gated Flink SQL jobs out."""


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
    from services.mesh.settings import SettingsError

    try:
        app()
    except SettingsError as error:  # e.g. an unreadable or world-readable gRPC token file
        typer.echo(f"streamwright: error: {error}", err=True)
        raise SystemExit(exit_codes.USAGE) from None
