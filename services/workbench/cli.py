"""`streamwright generate FILE --out DIR`: check a request, compile it, write the job layout.

The workbench is the CLI's composition root above the services, so it may call the ingest
checker and the generator together; the services themselves never import each other.
Exit codes (services/exit_codes.py): 0 written, 1 document rejected or not compilable,
2 usage error (bad file, profile or target).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from services import exit_codes
from services.cli_output import echo_json

_PROFILES = ("dev", "test", "prod")


def generate(  # noqa: PLR0917 - typer options
    file: Annotated[Path, typer.Argument(help="The request-v3 markdown document.")],
    out: Annotated[
        Path, typer.Option("--out", help="Output directory (job/<domain>/... is written under it).")
    ],
    profile: Annotated[
        str, typer.Option("--profile", help="Environment profile: dev, test or prod.")
    ] = "dev",
    target: Annotated[
        str, typer.Option("--target", help="Target Flink version: 2.3 (default), 1.18-2.2, vvr-8, vvr-11.")
    ] = "2.3",
    revision: Annotated[
        int, typer.Option("--revision", min=1, help="Request revision recorded in the header.")
    ] = 1,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the written files and the warnings as JSON.")
    ] = False,
) -> None:
    """Check FILE, compile it to Flink SQL + manifests + test data + README + OpenLineage lineage,
    and write them."""
    from services.generator.adapters.artifacts_fs import write_job
    from services.generator.adapters.profiles_fs import ProfileError, load_profile
    from services.generator.domain import CompileError, UnknownTargetError, compile_job, resolve_target
    from services.generator.version import GENERATOR_VERSION
    from services.ingest.domain.checks import check_document_bytes
    from services.mesh.files import UnsafePathError

    if profile not in _PROFILES:
        typer.echo(f"error: --profile must be one of {', '.join(_PROFILES)}", err=True)
        raise typer.Exit(exit_codes.USAGE)
    try:
        resolve_target(target)
        prof = load_profile(profile)
    except (UnknownTargetError, ProfileError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exit_codes.USAGE) from exc
    try:
        data = file.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror or exc}", err=True)
        raise typer.Exit(exit_codes.USAGE) from exc
    result = check_document_bytes(data)
    if not result.valid or result.spec is None:
        typer.echo(f"{file}: rejected ({len(result.errors)} error(s))", err=True)
        for issue in result.errors:
            typer.echo(f"  {issue.render()}", err=True)
        raise typer.Exit(exit_codes.FAILED)
    if not as_json:  # with --json the warnings are in the document
        for issue in result.warnings:
            typer.echo(f"warning: {issue.render()}", err=True)
    try:
        job = compile_job(
            result.spec,
            target=target,
            profile=prof,
            revision=revision,
            generator_version=GENERATOR_VERSION,
            # The OpenLineage artifact's eventTime: when this job definition was generated.
            lineage_time=datetime.now(UTC).replace(microsecond=0),
        )
        written = write_job(job, out)
    except (CompileError, UnsafePathError) as exc:
        typer.echo(f"{file}: not compiled: {exc}", err=True)
        raise typer.Exit(exit_codes.FAILED) from exc
    if as_json:
        echo_json(
            {
                "file": str(file),
                "domain": result.spec.job.domain,
                "target": job.target,
                "profile": job.profile,
                "revision": revision,
                "generator_version": GENERATOR_VERSION,
                "out": str(out),
                "files": [str(path) for path in written],
                "warnings": [issue.model_dump(mode="json") for issue in result.warnings],
            }
        )
        return
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
