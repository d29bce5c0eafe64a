"""Join keys of different types on the real engine (PyFlink 2.3, lookups against PostgreSQL).

The keycast request (tests/unit/generator/fixtures) joins a BIGINT payload key to an INT key, a
STRING to a VARCHAR(5) and a DECIMAL(38, 18) to an INT. Its case holds the values a lossy
conversion would match: 4294967297 (wraps to the INT 1), 'ICU-NORTH' (cut to 'ICU-N') and 1.6
(cut to 1); each must miss. The generated edge-case data must load into the dimension tables as
their DDL types say and run without failing the job.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.flinksql.spec import RequestSpec
from services.generator.domain import Profile, compile_job
from services.ingest.domain.checks import check_document
from services.validator.adapters.engine_runner import edge_case_mapping
from services.validator.adapters.flink_engine import FlinkEngine
from services.validator.adapters.postgres import PrivatePostgres

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
KEYCAST = ROOT / "tests" / "unit" / "generator" / "fixtures" / "keycast-request-v3.md"
PROFILE = Profile.model_validate(
    {
        "name": "it",
        "namespace": "streamwright-it",
        "image": "flink-sql-runner:2.3.0",
        "kafka": {"bootstrap_servers": "kafka:9092"},
        "storage": {"checkpoint_dir": "file:///tmp/cp", "savepoint_dir": "file:///tmp/sp"},
    }
)


def _spec() -> RequestSpec:
    result = check_document(KEYCAST.read_text(encoding="utf-8"))
    assert result.spec is not None, [e.render() for e in result.errors]
    return result.spec


@pytest.mark.parametrize("fidelity", ["exact", "rewritten"])
def test_no_false_match_on_flink(engine: FlinkEngine, postgres: PrivatePostgres, fidelity: str) -> None:
    """It gives V1 no dimension row (4294967297 is not 1, 'ICU-NORTH' is not 'ICU-N', 1.6 is not
    1) and V2 every row, with real lookup joins (exact) and as regular joins (rewritten)."""
    spec = _spec()
    job = compile_job(spec, target="2.3", profile=PROFILE, revision=1, generator_version="0.1.0")
    case = spec.cases[0].model_dump()
    result = engine.run_case(job.sql, case, postgres=postgres, fidelity=fidelity)  # type: ignore[arg-type]
    assert result.error is None, result.error
    assert result.fidelity == fidelity
    assert result.passed, result
    v1 = next(r for r in result.rows if r["visit_id"] == "V1")
    assert (v1["patient_name"], v1["ward_name"], v1["bed_label"]) == (None, None, None)


def test_generated_edge_data_loads_and_runs(engine: FlinkEngine, postgres: PrivatePostgres) -> None:
    """It loads the generated dimension rows into PostgreSQL tables of the DDL types (an INT key
    refused 1736208000002 before) and runs the job on the edge-case events without failing."""
    spec = _spec()
    job = compile_job(spec, target="2.3", profile=PROFILE, revision=1, generator_version="0.1.0")
    data = yaml.safe_load(job.files[job.paths.test_data])["test_data"]
    result = engine.run_case(job.sql, edge_case_mapping(data), postgres=postgres, fidelity="exact")
    assert result.error is None, result.error
    assert result.fidelity == "exact"
    assert result.rows
