"""The validator names the statement list it verified: report (md, JSON) and ValidationScored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.flinksql.statements import script_digest
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.mesh.events import Envelope, SqlGenerated
from services.mesh.ids import new_ulid
from services.validator.adapters import engine_runner
from services.validator.domain.assess import assess
from services.validator.domain.context import Inputs
from services.validator.domain.model import PlanFacts
from services.validator.domain.report import render_json, render_markdown
from services.validator.handlers import scored_event
from services.validator.ports import StoredReport

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "orders" / "orders-request-v3.md"


def test_the_report_and_the_event_carry_the_verified_digest() -> None:
    """It puts the digest of the exact statement list it read in the report and the event."""
    spec = check_document(EXAMPLE.read_text(encoding="utf-8")).spec
    assert spec is not None
    sql = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="t").sql
    report = assess(Inputs(spec=spec, sql=sql), created_at="2026-12-01T00:00:00Z")
    assert report.sql_digest == script_digest(sql)
    assert f"`{script_digest(sql)}`" in render_markdown(report)
    assert json.loads(render_json(report))["sql_digest"] == script_digest(sql)
    edited = assess(Inputs(spec=spec, sql=sql.replace("INSERT INTO", "INSERT  INTO\n")), created_at="x")
    assert edited.sql_digest == report.sql_digest  # layout is not a change
    cause = SqlGenerated(
        envelope=Envelope.new(
            event_type=SqlGenerated.EVENT_TYPE,
            producer="generator",
            run_id=new_ulid(),
            request_id=new_ulid(),
            domain="orders",
        ),
        attempt=1,
        revision=1,
        sql=sql,
        artifacts=(),
        artifact_ref="/tmp/x",
        generator_version="t",
        target_flink="2.3",
    )
    event = scored_event(cause, StoredReport(report=report, markdown="", report_ref="r"))
    assert event.sql_digest == script_digest(sql)


def test_the_report_and_the_event_carry_the_state_fingerprint() -> None:
    """It passes the engine's state fingerprint through the report to ValidationScored, unchanged."""
    spec = check_document(EXAMPLE.read_text(encoding="utf-8")).spec
    assert spec is not None
    sql = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="t").sql
    fingerprint = '{"format":1,"holders":[]}'
    plan = PlanFacts(ran=True, state_fingerprint=fingerprint)
    report = assess(Inputs(spec=spec, sql=sql, plan=plan), created_at="2026-12-01T00:00:00Z")
    assert report.state_fingerprint == fingerprint
    assert json.loads(render_json(report))["state_fingerprint"] == fingerprint
    cause = SqlGenerated(
        envelope=Envelope.new(
            event_type=SqlGenerated.EVENT_TYPE,
            producer="generator",
            run_id=new_ulid(),
            request_id=new_ulid(),
            domain="orders",
        ),
        attempt=1,
        revision=1,
        sql=sql,
        artifacts=(),
        artifact_ref="/tmp/x",
        generator_version="t",
        target_flink="2.3",
    )
    event = scored_event(cause, StoredReport(report=report, markdown="", report_ref="r"))
    assert event.state_fingerprint == fingerprint
    without = assess(Inputs(spec=spec, sql=sql), created_at="x")
    assert (
        scored_event(cause, StoredReport(report=without, markdown="", report_ref="r")).state_fingerprint
        is None
    )


class _Engine:
    def __init__(self, outcome: object) -> None:
        self.outcome = outcome

    def state_fingerprint(self, sql: str) -> object:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_a_fingerprint_that_cannot_be_had_is_a_note_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """It validates on without a fingerprint when the job does not compile or the fingerprint is too big."""
    from services.flinksql.state_fingerprint import StateFingerprint

    fp = StateFingerprint(flink_version="2.3", parallelism=2, holders=())
    text, note = engine_runner.state_fingerprint(_Engine(fp), "sql")  # type: ignore[arg-type]
    assert note is None and text is not None and json.loads(text)["flink_version"] == "2.3"
    text, note = engine_runner.state_fingerprint(_Engine(RuntimeError("TableException: boom")), "sql")  # type: ignore[arg-type]
    assert text is None and note is not None and "boom" in note and "not checked" in note
    monkeypatch.setattr(engine_runner, "MAX_FINGERPRINT_CHARS", 10)
    text, note = engine_runner.state_fingerprint(_Engine(fp), "sql")  # type: ignore[arg-type]
    assert text is None and note is not None and "more than 10" in note
