"""The validator names the statement list it verified: report (md, JSON) and ValidationScored."""

from __future__ import annotations

import json
from pathlib import Path

from services.flinksql.statements import script_digest
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.mesh.events import Envelope, SqlGenerated
from services.mesh.ids import new_ulid
from services.validator.domain.assess import assess
from services.validator.domain.context import Inputs
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
