"""The validator's score metrics: a histogram per dimension and total, the last score of a bounded
number of domains, and one observation per validation (a redelivery republishes, uncounted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from services.flinksql.spec import RequestSpec
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.mesh.events import Envelope, SqlGenerated, ValidationScored
from services.mesh.ids import new_ulid
from services.mesh.store import SQLiteDocumentStore
from services.validator.adapters.report_store import StoreReportRepository
from services.validator.adapters.score_metrics import TOTAL, ScoreMetrics
from services.validator.domain.assess import assess
from services.validator.domain.context import Inputs
from services.validator.domain.model import DIMENSIONS, Report, RunArtifacts
from services.validator.handlers import ValidatorHandlers
from services.validator.ports import RunSpec
from tests.fakes import RecordingPublisher
from tests.unit.router.router_events import RunEvents

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "orders" / "orders-request-v3.md"


def _scored(domain: str, total: float, **dimensions: float) -> ValidationScored:
    event = RunEvents(domain).scored(1, score=total)
    if dimensions:
        event = event.model_copy(
            update={
                "dimensions": tuple(
                    d.model_copy(update={"score": dimensions.get(d.name, d.score)}) for d in event.dimensions
                )
            }
        )
    return event


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {"service": "validator", **labels})


def test_every_score_is_observed_per_dimension_and_total() -> None:
    registry = CollectorRegistry()
    metrics = ScoreMetrics(registry)
    for dimension in (*DIMENSIONS, TOTAL):  # every series exists before the first score
        assert _sample(registry, "streamwright_validation_score_count", dimension=dimension) == 0.0
    metrics.observe(_scored("orders", 92.0, sql_standards=80.0))
    metrics.observe(_scored("payments", 40.0))
    assert _sample(registry, "streamwright_validation_score_count", dimension=TOTAL) == 2.0
    assert _sample(registry, "streamwright_validation_score_sum", dimension=TOTAL) == 132.0
    assert _sample(registry, "streamwright_validation_score_bucket", dimension=TOTAL, le="50.0") == 1.0
    assert _sample(registry, "streamwright_validation_score_bucket", dimension=TOTAL, le="95.0") == 2.0
    assert _sample(registry, "streamwright_validation_score_sum", dimension="sql_standards") == 120.0
    assert _sample(registry, "streamwright_validation_score_count", dimension="performance") == 0.0


def test_the_last_score_per_domain_is_kept_for_a_bounded_number_of_domains() -> None:
    registry = CollectorRegistry()
    metrics = ScoreMetrics(registry, max_domains=2)
    metrics.observe(_scored("orders", 70.0))
    metrics.observe(_scored("payments", 88.0))
    metrics.observe(_scored("orders", 91.0, data_accuracy=99.0))  # orders: scored most recently now
    assert _sample(registry, "streamwright_validation_last_score", domain="orders", dimension=TOTAL) == 91.0
    assert (
        _sample(registry, "streamwright_validation_last_score", domain="orders", dimension="data_accuracy")
        == 99.0
    )
    metrics.observe(_scored("users", 60.0))  # a third domain drops the least recently scored one
    assert metrics.domains() == ["orders", "users"]
    assert _sample(registry, "streamwright_validation_last_score", domain="payments", dimension=TOTAL) is None
    assert (
        _sample(registry, "streamwright_validation_last_score", domain="payments", dimension="sql_standards")
        is None
    )
    assert _sample(registry, "streamwright_validation_last_score", domain="users", dimension=TOTAL) == 60.0


def test_no_domain_gauge_when_the_bound_is_zero() -> None:
    registry = CollectorRegistry()
    metrics = ScoreMetrics(registry, max_domains=0)
    metrics.observe(_scored("orders", 70.0))
    assert _sample(registry, "streamwright_validation_last_score", domain="orders", dimension=TOTAL) is None
    assert _sample(registry, "streamwright_validation_score_count", dimension=TOTAL) == 1.0


class FixedReport:
    """The use case: the same assessed report for every run (no Flink)."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.calls = 0

    async def validate(self, spec: Any, sql: str, **kwargs: Any) -> Report:
        self.calls += 1
        return self.report.model_copy(update={"run_id": kwargs["run_id"], "attempt": kwargs["attempt"]})


class NoArtifacts:
    async def read(self, artifact_ref: str, domain: str) -> RunArtifacts:
        return RunArtifacts()


async def test_the_handler_observes_each_validation_once(tmp_path: Path) -> None:
    """A redelivered SqlGenerated republishes the stored score without counting it again."""
    spec = check_document(EXAMPLE.read_text(encoding="utf-8")).spec
    assert isinstance(spec, RequestSpec)
    sql = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="t").sql
    use_case = FixedReport(assess(Inputs(spec=spec, sql=sql), created_at="2026-01-01T00:00:00Z"))
    registry = CollectorRegistry()
    publisher = RecordingPublisher()
    reports = StoreReportRepository(SQLiteDocumentStore(tmp_path / "store.sqlite3"), tmp_path / "reports")
    handlers = ValidatorHandlers(
        reports=reports,
        publisher=publisher,
        use_case=use_case,  # type: ignore[arg-type]
        artifacts=NoArtifacts(),
        spec_wait_s=0,
        scores=ScoreMetrics(registry),
    )
    run_id = new_ulid()
    await reports.save_spec(RunSpec(run_id=run_id, revision=1, domain="orders", spec_json=spec.to_json()))
    generated = SqlGenerated(
        envelope=Envelope.new(
            event_type=SqlGenerated.EVENT_TYPE,
            producer="generator",
            run_id=run_id,
            request_id="q",
            domain="orders",
        ),
        attempt=1,
        revision=1,
        sql=sql,
        artifact_ref="ref",
        generator_version="t",
        target_flink="2.3",
    )
    await handlers.on_sql_generated(generated)
    await handlers.on_sql_generated(generated)  # redelivered
    assert use_case.calls == 1
    first, again = publisher.events  # the same event (same id) published twice
    assert first.envelope.event_id == again.envelope.event_id
    assert _sample(registry, "streamwright_validation_score_count", dimension=TOTAL) == 1.0
    score = publisher.events[0].score  # type: ignore[attr-defined]
    assert _sample(registry, "streamwright_validation_last_score", domain="orders", dimension=TOTAL) == score
