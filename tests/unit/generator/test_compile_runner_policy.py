"""The generator writes only what the SQL runner will run, even from spec JSON that skipped check."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.flinksql.job_policy import check_script
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import CompileError, compile_job
from services.ingest.domain.checks import check_document

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _spec(name: str = "orders"):  # type: ignore[no-untyped-def]
    doc = next((EXAMPLES / name).glob("*-request-v3.md"))
    spec = check_document(doc.read_text(encoding="utf-8")).spec
    assert spec is not None
    return spec


@pytest.mark.parametrize("example", ["orders", "payments", "user-activity"])
def test_every_compiled_example_passes_the_runners_checks(example: str) -> None:
    """It compiles jobs the runner accepts as they are (kinds, no hints, declared secrets only)."""
    job = compile_job(_spec(example), profile=load_profile("prod"), revision=1, generator_version="t")
    assert check_script(job.sql, expected_digest=None, declared_secrets=job.ir.secrets).statements


@pytest.mark.parametrize(
    "value", ["${secret:kafka-jaas}", "${secret:other-team-db}", "prefix ${secret:x} suffix"]
)
def test_a_secret_reference_smuggled_in_spec_json_is_not_compiled(value: str) -> None:
    """It refuses a spec (gRPC Compile takes JSON that never passed check) whose option value
    would have made the deployer substitute another team's secret."""
    spec = _spec()
    result = spec.result.model_copy(update={"options": {**spec.result.options, "sink.note": value}})
    hostile = spec.model_copy(update={"result": result})
    with pytest.raises(CompileError, match="would be refused by the SQL runner"):
        compile_job(hostile, profile=load_profile("dev"), revision=1, generator_version="t")
