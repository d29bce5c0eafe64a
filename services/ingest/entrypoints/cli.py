"""Ingest commands: `streamwright check FILE`, `init DOMAIN` and `submit FILE`.

Cheap to import: the parser and checker are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services import exit_codes
from services.cli_output import echo_json

if TYPE_CHECKING:
    from services.ingest.domain.checks import CheckResult
    from services.ingest.domain.errors import Issue

_USAGE = exit_codes.USAGE
_REJECTED = exit_codes.FAILED


def check(
    file: Annotated[Path, typer.Argument(help="The request-v3 markdown document.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    cases: Annotated[
        Path | None,
        typer.Option(
            "--cases", help="A sidecar cases YAML (default: <name>.cases.yaml or cases.yaml beside FILE)."
        ),
    ] = None,
) -> None:
    """Check a request document: exit 0 if valid, 1 if rejected (every error listed), 2 on usage errors."""
    from services.ingest.domain.checks import check_document_bytes

    data = _read_bytes(file, "request document")
    cases_path = cases if cases is not None else sidecar_cases(file)
    cases_text = None
    if cases_path is not None:
        cases_text = _read_bytes(cases_path, "cases file").decode("utf-8", errors="replace")
    result = check_document_bytes(data, cases_text=cases_text)
    if as_json:
        echo_json(_as_json(result))
    else:
        _print_text(file, cases_path, result)
    if not result.valid:
        raise typer.Exit(_REJECTED)


def init(
    domain: Annotated[str, typer.Argument(help="The domain, e.g. orders (^[a-z][a-z0-9_-]{0,63}$).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Target file, or a directory for <domain>-request-v3.md.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the written file as JSON (domain, path).")
    ] = False,
) -> None:
    """Write a request template `<domain>-request-v3.md` to fill in (never overwrites)."""
    from services.ingest.domain.scaffold import render_template

    try:
        text = render_template(domain)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(_USAGE) from None
    target = out if out is not None else Path.cwd()
    if target.is_dir():
        target = target / f"{domain}-request-v3.md"
    if target.is_symlink():  # dangling or not: writing would create or change its target
        typer.echo(f"error: {target} is a symbolic link; not writing through it", err=True)
        raise typer.Exit(_USAGE)
    if target.exists():
        typer.echo(f"error: {target} already exists; not overwriting it", err=True)
        raise typer.Exit(_USAGE)
    try:
        # "x" (O_CREAT | O_EXCL) never follows a symlink: one planted since the checks above
        # fails here as "already exists" instead of creating a file wherever it points
        with target.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        typer.echo(f"error: {target} already exists; not overwriting it", err=True)
        raise typer.Exit(_USAGE) from None
    except OSError as error:
        typer.echo(f"error: cannot write {target}: {error.strerror or error}", err=True)
        raise typer.Exit(_USAGE) from None
    if as_json:
        echo_json({"domain": domain, "path": str(target)})
    else:
        typer.echo(str(target))


def submit(
    file: Annotated[Path, typer.Argument(help="The request-v3 markdown document.")],
    cases: Annotated[Path | None, typer.Option("--cases", help="A cases YAML to send with it.")] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: resubmitting with it returns the same run.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print run_id, request_id and duplicate as JSON.")
    ] = False,
) -> None:
    """Submit a document to the running mesh (`streamwright up`); prints the run id."""
    from services.ingest.entrypoints.submit import SubmitError, run_submit
    from services.mesh.cli_tracing import command_trace
    from services.mesh.settings import MeshSettings, settings_or_exit

    if key is not None and not 0 < len(key) <= 256:
        typer.echo("error: --key must be 1-256 characters", err=True)
        raise typer.Exit(_USAGE)
    for path in (file, cases):
        if path is not None and not path.is_file():
            typer.echo(f"error: {path} is not a readable file", err=True)
            raise typer.Exit(_USAGE)
    cases_path = cases if cases is not None else sidecar_cases(file)
    settings = settings_or_exit(MeshSettings, "streamwright submit")  # invalid: exit 2, naming it
    # With tracing configured, the submit's span is the root of the run's trace (cli_tracing.py).
    with command_trace("submit", {"streamwright.request_file": str(file)}) as trace:
        try:
            response = run_submit(file, cases=cases_path, idempotency_key=key, settings=settings)
        except SubmitError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(submit_exit_code(error)) from None
        trace.set("streamwright.run_id", response.run_id)
        trace.set("streamwright.request_id", response.request_id)
    if as_json:
        echo_json(
            {"run_id": response.run_id, "request_id": response.request_id, "duplicate": response.duplicate}
        )
        return
    if response.duplicate:
        typer.echo(f"already submitted under this key; request {response.request_id}", err=True)
    typer.echo(response.run_id)


def submit_exit_code(error: BaseException) -> int:
    """3 when the ingest service did not answer (UNAVAILABLE, DEADLINE_EXCEEDED), else 1."""
    import grpc

    cause = error.__cause__
    if isinstance(cause, grpc.aio.AioRpcError) and cause.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    ):
        return exit_codes.UNAVAILABLE
    return _REJECTED


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("init")(init)
    app.command("submit")(submit)


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        message = f"{what} {path} does not exist"
    except IsADirectoryError:
        message = f"{what} {path} is a directory"
    except OSError as error:
        message = f"cannot read {what} {path}: {error.strerror or error}"
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(_USAGE)


def sidecar_cases(file: Path) -> Path | None:
    """The sidecar cases file of a request document (request-format.md §8), or None: the one
    lookup of `check`, `submit`, `run`, `validate` and `test`. `<name>-request-v3.md` takes
    `<name>-request-v3.cases.yaml`, `<name>.cases.yaml`, then `cases.yaml` beside it."""
    stem = file.name.removesuffix(".md")
    for name in (f"{stem}.cases.yaml", f"{stem.removesuffix('-request-v3')}.cases.yaml", "cases.yaml"):
        candidate = file.parent / name
        if candidate.is_file():
            return candidate
    return None


def _as_json(result: CheckResult) -> dict[str, Any]:
    warnings = [w.model_dump(mode="json") for w in result.warnings]
    if result.spec is not None and result.valid:
        return {"valid": True, "spec": result.spec.model_dump(mode="json"), "warnings": warnings}
    return {
        "valid": False,
        "errors": [e.model_dump(mode="json") for e in result.errors],
        "warnings": warnings,
    }


def _print_text(file: Path, cases_path: Path | None, result: CheckResult) -> None:
    spec = result.spec
    if spec is not None and result.valid:
        aggregate = (
            "grouped by " + ", ".join(spec.aggregation.group_by) if spec.aggregation.is_aggregate else "no"
        )
        typer.echo(f"valid: {file}")
        typer.echo(f"  job {spec.job.name!r}: domain {spec.job.domain}, event type {spec.job.event_type}")
        typer.echo(
            f"  {len(spec.dimensions)} dimension(s), {len(spec.joins)} join(s),"
            f" {len(spec.mappings)} mapping(s)"
            f" into {spec.result.name}, aggregate: {aggregate}"
        )
        if cases_path is not None or spec.cases:
            typer.echo(f"  {len(spec.cases)} case(s)" + (f" (with {cases_path})" if cases_path else ""))
        _print_issues("warning", result.warnings)
        return
    for error in result.errors:
        typer.echo(_line(error))
    _print_issues("warning", result.warnings)
    typer.echo(f"rejected: {file}: {len(result.errors)} error(s), {len(result.warnings)} warning(s)")


def _print_issues(label: str, issues: list[Issue]) -> None:
    for issue in issues:
        typer.echo(f"{label}: {_line(issue)}")


def _line(issue: Issue) -> str:
    text = issue.render()
    return f"[cases file] {text}" if issue.source == "cases" else text
