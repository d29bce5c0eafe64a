"""A run's missing artifact is an error the report names, never silently skipped."""

from __future__ import annotations

from pathlib import Path

from services.flinksql.artifacts import ArtifactLayout
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.adapters.artifacts_fs import read_artifacts
from services.validator.domain.assess import assess
from services.validator.domain.context import Inputs

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "orders" / "orders-request-v3.md"


def _job(tmp_path: Path) -> tuple[object, str, Path]:
    result = check_document(EXAMPLE.read_text(encoding="utf-8"))
    assert result.spec is not None
    job = compile_job(result.spec, profile=load_profile("dev"), revision=1, generator_version="test")
    for rel, text in job.files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return result.spec, job.sql, tmp_path


def test_present_artifacts_are_read_and_none_is_missing(tmp_path: Path) -> None:
    """It reads the edge-case data and the job config at the layout's paths."""
    spec, _, root = _job(tmp_path)
    found = read_artifacts(root, spec.job.domain)  # type: ignore[attr-defined]
    assert found.missing == ()
    assert found.test_data is not None and "events" in found.test_data
    assert found.job_config is not None and found.job_config.parallelism is not None


def test_a_missing_or_unreadable_artifact_is_named(tmp_path: Path) -> None:
    """It lists a deleted test-data file and a broken job config by their layout paths."""
    spec, _, root = _job(tmp_path)
    layout = ArtifactLayout(spec.job.domain)  # type: ignore[attr-defined]
    (root / layout.test_data).unlink()
    (root / layout.job_config).write_text("deployment: [unclosed", encoding="utf-8")
    found = read_artifacts(root, layout.domain)
    assert found.missing == (layout.test_data, layout.job_config)
    assert found.test_data is None and found.job_config is None
    assert read_artifacts(root, "../etc").missing == ("job/'../etc' (not a valid domain)",)


def test_the_report_carries_a_critical_finding_per_missing_artifact(tmp_path: Path) -> None:
    """It fails the strict gate of a job whose artifacts are missing, naming each path."""
    spec, sql, _ = _job(tmp_path)
    layout = ArtifactLayout(spec.job.domain)  # type: ignore[attr-defined]
    report = assess(
        Inputs(spec=spec, sql=sql, missing_artifacts=(layout.test_data,)),  # type: ignore[arg-type]
        created_at="2026-12-01T00:00:00Z",
    )
    found = [f for f in report.findings if f.code == "accuracy.artifact_missing"]
    assert len(found) == 1 and layout.test_data in found[0].message
    assert found[0].severity == "critical" and not report.gate_passed
    clean = assess(Inputs(spec=spec, sql=sql), created_at="2026-12-01T00:00:00Z")  # type: ignore[arg-type]
    assert not [f for f in clean.findings if f.code == "accuracy.artifact_missing"]
