"""The validator skips a SqlGenerated whose run has already ended (e.g. superseded in a burst).

Real SQLite store; the use case records the run and stops the handler (no Flink): it must not be
called for an ended run, and must be for a live one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.ingest.domain.checks import check_document
from services.mesh.events import Envelope, RunCompleted, SqlGenerated
from services.mesh.store import SQLiteDocumentStore
from services.validator.adapters.report_store import StoreReportRepository
from services.validator.domain.model import RunArtifacts
from services.validator.handlers import ValidatorHandlers
from services.validator.ports import RunSpec
from tests.fakes import RecordingPublisher


class StopAtValidation:
    """The use case: records which run reached validation, then stops the handler there."""

    def __init__(self) -> None:
        self.validated: list[str] = []

    async def validate(self, spec: Any, sql: str, **kwargs: Any) -> Any:
        self.validated.append(kwargs["run_id"])
        raise RuntimeError("stop here: the test only checks whether validation was reached")


class NoArtifacts:
    async def read(self, artifact_ref: str, domain: str) -> RunArtifacts:
        return RunArtifacts()


def _generated(run_id: str) -> SqlGenerated:
    env = Envelope.new(
        event_type=SqlGenerated.EVENT_TYPE, producer="test", run_id=run_id, request_id="req", domain="orders"
    )
    return SqlGenerated(
        envelope=env,
        attempt=1,
        revision=1,
        sql="INSERT INTO t SELECT 1",
        artifact_ref="ref",
        generator_version="g",
        target_flink="2.3",
    )


async def test_an_ended_run_is_not_validated_and_a_live_one_is(tmp_path: Path) -> None:
    store = SQLiteDocumentStore(tmp_path / "store.sqlite3")
    reports = StoreReportRepository(store, tmp_path / "reports")
    publisher, use_case = RecordingPublisher(), StopAtValidation()
    handlers = ValidatorHandlers(
        reports=reports,
        publisher=publisher,
        use_case=use_case,  # type: ignore[arg-type]
        artifacts=NoArtifacts(),
        spec_wait_s=0,
    )
    text = (Path(__file__).resolve().parents[2] / "fixtures" / "requests" / "orders-request-v3.md").read_text(
        encoding="utf-8"
    )
    spec = check_document(text).spec
    assert spec is not None
    for run_id in ("ended", "live"):
        await reports.save_spec(RunSpec(run_id=run_id, revision=1, domain="orders", spec_json=spec.to_json()))
    completed = RunCompleted(
        envelope=Envelope.new(
            event_type=RunCompleted.EVENT_TYPE,
            producer="router",
            run_id="ended",
            request_id="req",
            domain="orders",
        ),
        final_state="SUPERSEDED",
        reason="superseded by revision 2",
    )
    await handlers.on_run_completed(completed)
    assert await reports.ended("ended") == "SUPERSEDED"
    assert await reports.ended("live") is None

    await handlers.on_sql_generated(_generated("ended"))
    assert use_case.validated == [] and publisher.events == []

    with pytest.raises(RuntimeError, match="stop here"):
        await handlers.on_sql_generated(_generated("live"))
    assert use_case.validated == ["live"]
