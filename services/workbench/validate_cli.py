"""`streamwright test` and `streamwright validate`: a request's job on the real Flink engine.

- `streamwright test FILE [--cases CASES.yaml] [--sql JOB.sql]` checks the document, compiles
  it (or takes the hand-written `--sql`), and runs every data-accuracy case (request-format.md
  §8): one line per case with its fidelity (`exact` / `rewritten`), the missing and unexpected
  rows of a failing case, and `N passed, M failed` (`--json`: one document with every case).
  Exit 0 all passed, 1 a case failed, the document was rejected or there is no case to run,
  2 usage error, 3 the Flink engine is unavailable (services/exit_codes.py).
- Both take their cases from `--cases`, else from the sidecar `streamwright check` finds
  beside FILE (`<name>.cases.yaml` or `cases.yaml`, request-format.md §8; one lookup,
  services.ingest.entrypoints.cli.sidecar_cases), plus an embedded `cases:` block.
- `streamwright validate FILE [--sql JOB.sql] [--json] [--out DIR] [--no-cases]` generates and
  validates (or scores a hand-written job against the request) and prints the four-dimension
  score and the findings. Exit 0 when the strict gate would pass (≥ 85, no Critical), else 1.

The workbench is the CLI's composition root, so it may chain ingest's checker, the generator's
compiler and the validator in-process. Slow steps (the JVM start) show progress on stderr.

Both commands build the validator with `services.validator.bootstrap.build_validation`, the
builder the validator service uses, from `ValidatorSettings` read from the environment as the
service reads them (STREAMWRIGHT_VALIDATOR_RULES_PATH, _LANGUAGE, _KNOWLEDGE_TARGET,
_KNOWLEDGE_TIMEOUT_S, _JAR_DIR, _RUN_CASES, _RUN_EDGE_CASES, _USE_POSTGRES, ...), so a job
scores the same here as in the mesh. A flag overrides only the setting it names (`--rules`,
`--lang`, `--knowledge`, `--jar-dir`; `--no-cases` turns the case runs off). The one deliberate
difference: knowledge is asked once, not waited for (bootstrap.KnowledgeUse "once"), as no
mesh may be running. An invalid setting or rules file exits 2.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services import exit_codes
from services.cli_output import echo_json

if TYPE_CHECKING:
    from rich.console import Console

    from services.flinksql.spec import RequestSpec
    from services.validator.bootstrap import Validation
    from services.validator.domain.model import CaseFacts, JobConfig, Report


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"error: cannot read {what} {path}: {exc}", err=True)
        raise typer.Exit(exit_codes.USAGE) from exc


def validation(**flags: Any) -> Validation:
    """The validator as the service wires it, for one command: see the module docstring.

    `flags` are ValidatorSettings fields; a None flag was not given and leaves the setting as
    the environment has it. Exits 2 for an invalid setting or rules file.
    """
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from services.mesh.settings import describe_invalid
    from services.validator.bootstrap import build_validation
    from services.validator.domain.rules import RuleConfigError
    from services.validator.settings import ValidatorSettings

    unknown = sorted(set(flags) - set(ValidatorSettings.model_fields))
    if unknown:  # the settings ignore extra names: a misspelt flag would silently do nothing
        raise TypeError(f"not ValidatorSettings fields: {', '.join(unknown)}")
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        settings = ValidatorSettings(**given)
    except (ValidationError, SettingsError) as exc:
        typer.echo(f"error: invalid settings: {describe_invalid(ValidatorSettings, exc)}", err=True)
        raise typer.Exit(exit_codes.USAGE) from exc
    try:
        return build_validation(settings, knowledge="once")
    except (OSError, RuleConfigError, ValueError) as exc:
        typer.echo(f"error: rules configuration: {exc}", err=True)
        raise typer.Exit(exit_codes.USAGE) from exc


_SIDECAR_HELP = "default: <name>.cases.yaml or cases.yaml beside FILE, as `check` finds it"


def _checked_spec(file: Path, cases: Path | None) -> RequestSpec:
    """The checked request with its cases: `--cases`, else the sidecar `check` finds (§8)."""
    from services.ingest.domain.checks import check_document_bytes
    from services.ingest.entrypoints.cli import sidecar_cases

    try:
        data = file.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror or exc}", err=True)
        raise typer.Exit(exit_codes.USAGE) from exc
    if cases is None and (cases := sidecar_cases(file)) is not None:
        typer.echo(f"cases: {cases}", err=True)
    cases_text = _read_text(cases, "cases file") if cases is not None else None
    result = check_document_bytes(data, cases_text=cases_text)
    if not result.valid or result.spec is None:
        typer.echo(f"{file}: rejected ({len(result.errors)} error(s))", err=True)
        for issue in result.errors:
            typer.echo(f"  {issue.render()}", err=True)
        raise typer.Exit(exit_codes.FAILED)
    return result.spec


def _compile(spec: RequestSpec) -> tuple[str, dict[str, str]] | None:
    """The generated SQL and artifact files (dev profile), or None when it does not compile."""
    from services.generator.adapters.profiles_fs import load_profile
    from services.generator.domain import CompileError, compile_job
    from services.generator.version import GENERATOR_VERSION

    try:
        job = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version=GENERATOR_VERSION)
    except CompileError as exc:
        typer.echo(f"error: not compiled: {exc}", err=True)
        return None
    return job.sql, job.files


def _artifacts(files: dict[str, str], domain: str) -> tuple[dict[str, Any] | None, JobConfig | None]:
    import yaml

    from services.flinksql.artifacts import ArtifactLayout
    from services.validator.adapters.artifacts_fs import job_config_from

    layout = ArtifactLayout(domain)

    test_data = None
    raw = files.get(layout.test_data)
    if raw is not None:
        loaded = yaml.safe_load(raw)
        test_data = loaded.get("test_data") if isinstance(loaded, dict) else None
    config_text = files.get(layout.job_config)
    config = job_config_from(yaml.safe_load(config_text), layout.job_config) if config_text else None
    return test_data, config


def _refuse_statements(script: str, path: Path) -> None:
    """Exit 1, running nothing, when the hand-written script holds a statement the validator
    never runs (the same policy as `validate --sql` and gRPC ValidateSql)."""
    from services.validator.domain.statement_policy import refused_statements

    refused = refused_statements(script)
    for refusal in refused:
        typer.echo(
            f"{path}: statement {refusal.number} ({refusal.kind}, line {refusal.line}) is refused: "
            f"{refusal.text}",
            err=True,
        )
    if refused:
        raise typer.Exit(exit_codes.FAILED)


def _console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def _rows(rows: tuple[dict[str, Any], ...]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False, default=str) for r in rows]


def _case_lines(case: CaseFacts) -> list[str]:
    status = "PASS" if case.passed else "FAIL"
    lines = [f"{status} {case.name} ({case.fidelity}, {case.seconds:.1f} s)"]
    if case.fallback_reason:
        lines.append(f"    rewritten because: {case.fallback_reason}")
    if case.error:
        lines.append(f"    error: {case.error}")
    lines += [f"    missing:    {r}" for r in _rows(case.missing)]
    lines += [f"    unexpected: {r}" for r in _rows(case.unexpected)]
    return lines


_TEST_HELP = (
    "Run the request's data-accuracy cases on the real Flink engine (exact or rewritten).\n\n"
    "The cases are --cases, else the sidecar beside FILE (as `check` finds it), plus any embedded "
    "`cases:` block. With no case at all nothing is tested: it says so and exits 1 (never "
    "`0 passed, 0 failed` as a success); `streamwright validate` runs the spec-derived oracle "
    "cases instead."
)


def run_tests(
    file: Annotated[Path, typer.Argument(help="The request-v3 markdown document.")],
    cases: Annotated[
        Path | None,
        typer.Option("--cases", help=f"A cases YAML file (request-format.md §8; {_SIDECAR_HELP})."),
    ] = None,
    sql: Annotated[
        Path | None, typer.Option("--sql", help="Test this SQL job instead of the generated one.")
    ] = None,
    jar_dir: Annotated[Path | None, typer.Option("--jar-dir", help="Flink connector jars directory.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every case and the counts as one JSON document.")
    ] = False,
) -> None:
    """Run the request's data-accuracy cases on the real Flink engine: see _TEST_HELP."""
    spec = _checked_spec(file, cases)
    if not spec.cases:
        typer.echo(
            f"{file}: no cases to run: give --cases CASES.yaml, put a sidecar beside it "
            "(<name>.cases.yaml or cases.yaml) or embed a `cases:` block",
            err=True,
        )
        raise typer.Exit(exit_codes.FAILED)
    # The engine the service would use (jar dir, PostgreSQL); running the cases is this command's
    # whole point, so the run_cases switches do not apply to it.
    runner = validation(validator_jar_dir=jar_dir).engine
    if sql is not None:
        script = _read_text(sql, "SQL file")
        _refuse_statements(script, sql)
    else:
        compiled = _compile(spec)
        if compiled is None:
            raise typer.Exit(exit_codes.FAILED)
        script = compiled[0]
    console = _console()
    results: list[CaseFacts] = []
    try:
        with console.status("Starting the Flink JVM and PostgreSQL…"):
            warm = runner.warm()
        console.print(f"[dim]engine ready in {warm['engine_ready']:.1f} s[/dim]")
        if runner.unavailable_reason:
            typer.echo(f"error: the Flink engine is unavailable: {runner.unavailable_reason}", err=True)
            raise typer.Exit(exit_codes.UNAVAILABLE)
        # all cases as one Flink job: per-job overhead is paid once, not per case
        with console.status(f"Running {len(spec.cases)} case(s) as one Flink job…"):
            results = runner.run_all_cases(script, [c.model_dump(mode="json") for c in spec.cases])
    finally:
        runner.close()
    _print_results(file, results, as_json)


def _print_results(file: Path, results: list[CaseFacts], as_json: bool) -> None:
    """Every case and `N passed, M failed` (or `--json`: one document); exit 1 when one failed."""
    passed = sum(r.passed for r in results)
    if as_json:
        echo_json(
            {
                "file": str(file),
                "passed": passed,
                "failed": len(results) - passed,
                "cases": [r.model_dump() for r in results],
            }
        )
    else:
        for result in results:
            for line in _case_lines(result):
                typer.echo(line)
        typer.echo(f"{passed} passed, {len(results) - passed} failed")
    if passed != len(results):
        raise typer.Exit(exit_codes.FAILED)


def _json_payload(report: Report) -> dict[str, Any]:
    return {
        "score": report.score,
        "grade": report.grade,
        "gate_passed": report.gate_passed,
        "provisional": report.provisional,
        "provisional_reasons": list(report.provisional_reasons),
        "rule_set_version": report.rule_set_version,
        "dimensions": [
            {"name": d.name, "score": d.score, "weight": d.weight, "grade": d.grade}
            for d in report.dimensions
        ],
        "findings": [
            {
                "code": f.code,
                "severity": f.severity,
                "dimension": f.dimension,
                "message": f.message,
                "location": f.location,
                "line": f.line,
                "suggestion": f.suggestion,
                "points_lost": f.points_lost,
            }
            for f in report.findings
        ],
        "cases": [c.model_dump(mode="json") for c in report.cases],
        # the spec-derived data, the oracle that judged it and the differences (None: not run)
        "oracle": report.oracle.model_dump(mode="json") if report.oracle is not None else None,
    }


def _print_human(report: Report) -> None:
    gate = "passed" if report.gate_passed else "FAILED"
    typer.echo(
        f"score {report.score:g}/100 {report.grade}  (strict gate {gate}; rules {report.rule_set_version})"
    )
    for d in report.dimensions:
        typer.echo(f"  {d.name:<20} {d.score:>5g}  x{d.weight:.2f}  {d.grade:<9}  {d.summary}")
    for f in report.findings:
        where = f" [{f.location}{', line ' + str(f.line) if f.line else ''}]" if f.location else ""
        typer.echo(f"{f.severity.upper():<8} {f.code} (-{f.points_lost:g}){where}: {f.message}")
    for c in report.cases:
        typer.echo(
            f"case {c.name}: {'PASS' if c.passed else 'FAIL'} ({c.fidelity}){' ' + c.detail if c.detail else ''}"
        )
    o = report.oracle
    if o is not None:
        events = sum(1 for i in o.inputs if i.table == "events")
        verdict = (
            "the job failed on it"
            if o.job_error
            else "not judged"
            if o.oracle == "none" or o.actual_rows is None
            else f"{len(o.differences)} difference(s)"
        )
        typer.echo(
            f"oracle ({o.oracle}): {events} events + {len(o.inputs) - events} dimension rows "
            f"derived from the spec, {o.expected_rows if o.expected_rows is not None else '-'} expected rows: {verdict}"
            + (f" ({o.note})" if o.note else "")
        )
    if report.provisional:
        typer.echo("provisional: " + "; ".join(report.provisional_reasons))


def validate(  # noqa: PLR0917 - typer options
    file: Annotated[Path, typer.Argument(help="The request-v3 markdown document.")],
    sql: Annotated[
        Path | None, typer.Option("--sql", help="Score this (hand-written) SQL job against the request.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the score and findings as JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the report files under this directory.")
    ] = None,
    no_cases: Annotated[bool, typer.Option("--no-cases", help="Skip the data-accuracy runs.")] = False,
    cases: Annotated[
        Path | None, typer.Option("--cases", help=f"A cases YAML file to run as well ({_SIDECAR_HELP}).")
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Report language: en or zh (default: the request's).")
    ] = None,
    rules: Annotated[Path | None, typer.Option("--rules", help="A rules configuration YAML file.")] = None,
    knowledge: Annotated[
        str | None,
        typer.Option("--knowledge", help="host:port of the knowledge service (default: the mesh's)."),
    ] = None,
    jar_dir: Annotated[Path | None, typer.Option("--jar-dir", help="Flink connector jars directory.")] = None,
) -> None:
    """Validate a request's job on Flink and score it (exit 0 when the strict gate passes)."""
    from services.mesh.files import UnsafePathError
    from services.validator.adapters.report_store import write_report_files
    from services.validator.domain.report import render_markdown

    if lang not in (None, "en", "zh"):
        typer.echo("error: --lang must be en or zh", err=True)
        raise typer.Exit(exit_codes.USAGE)
    built = validation(
        validator_rules_path=rules,
        validator_language=lang,
        validator_knowledge_target=knowledge,
        validator_jar_dir=jar_dir,
        validator_run_cases=False if no_cases else None,
    )
    runner, use_case = built.engine, built.use_case
    spec = _checked_spec(file, cases)
    compiled = _compile(spec)
    if sql is not None:
        script = _read_text(sql, "SQL file")
    elif compiled is None:
        raise typer.Exit(exit_codes.FAILED)
    else:
        script = compiled[0]
    test_data, job_config = _artifacts(compiled[1], spec.job.domain) if compiled else (None, None)
    if sql is not None:
        job_config = None  # a hand-written job brings its own configuration (its SETs)
    console = _console()
    try:
        with console.status("Starting the Flink JVM…"):
            runner.warm() if use_case.run_cases else runner.engine()
        with console.status("Planning and running the cases…" if use_case.run_cases else "Planning…"):
            reference = compiled[0] if compiled is not None and sql is not None else None
            report = asyncio.run(
                use_case.validate(
                    spec, script, test_data=test_data, job_config=job_config, reference_sql=reference
                )
            )
    finally:
        runner.close()
    if out is not None:
        try:
            md = write_report_files(report, render_markdown(report), out)
        except UnsafePathError as exc:
            typer.echo(f"{file}: report not written: {exc}", err=True)
            raise typer.Exit(exit_codes.FAILED) from exc
        console.print(f"[dim]report written to {md}[/dim]")
    if as_json:
        echo_json(_json_payload(report))
    else:
        _print_human(report)
    if not report.gate_passed:
        raise typer.Exit(exit_codes.FAILED)


def register(app: typer.Typer) -> None:
    app.command("test", help=_TEST_HELP)(run_tests)
    app.command("validate")(validate)
