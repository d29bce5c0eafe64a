"""Chain of custody: only the statement list the validator verified is started."""

from __future__ import annotations

from pathlib import Path

import pytest
from router_events import SQL, RunEvents, make_handlers, write_artifacts

from services.flinksql.statements import script_digest
from services.mesh.events import RunStarted, RunStartFailed
from services.router.domain.custody import CustodyError, verified_digest
from tests.fakes import FakeDeployer, RecordingPublisher


def test_the_verified_sql_passes_and_layout_edits_do_not_count() -> None:
    """It returns the digest when the SQL is what was verified, comments and spacing aside."""
    validated = script_digest(SQL)
    assert verified_digest(SQL, validated) == validated
    assert verified_digest("-- reviewed\n" + SQL.replace(" ", "  "), validated) == validated


@pytest.mark.parametrize(
    ("sql", "validated", "message"),
    [
        (SQL.replace("datagen", "filesystem"), script_digest(SQL), "changed after validation"),
        (SQL + ";\nDROP TABLE src", script_digest(SQL), "changed after validation"),
        (SQL, None, "no validated statement digest"),
        (None, script_digest(SQL), "no SQL is recorded"),
        (SQL + " 'open", script_digest(SQL), "does not lex"),
    ],
)
def test_anything_else_is_refused_naming_why(sql: str | None, validated: str | None, message: str) -> None:
    """It refuses an edit after validation (naming both digests), a run never verified, no SQL."""
    with pytest.raises(CustodyError, match=message) as refused:
        verified_digest(sql, validated)
    if "changed" in message:
        assert script_digest(sql or "") in str(refused.value) and str(validated) in str(refused.value)


async def _run_to_start(tmp_path: Path, *, verified_sql: str) -> tuple[FakeDeployer, RecordingPublisher, str]:
    deployer, publisher = FakeDeployer(), RecordingPublisher()
    handlers = make_handlers(tmp_path, deployer, publisher=publisher)
    run = RunEvents("orders")
    artifacts = write_artifacts(tmp_path / "art", "orders")
    for event in (
        run.submitted(),
        run.accepted(1, "h1"),
        run.generated(1, str(artifacts), 1),
        run.scored(1, score=95, sql_digest=script_digest(verified_sql)),
        run.er_updated(),
    ):
        await handlers.on_event(event)
    return deployer, publisher, run.run_id


async def test_a_validated_run_starts_and_carries_its_digest(tmp_path: Path) -> None:
    """It hands the deployer the validated digest and records it in RunStarted and the run view."""
    deployer, publisher, _ = await _run_to_start(tmp_path, verified_sql=SQL)
    assert [r.sql_digest for r in deployer.started] == [script_digest(SQL)]
    [started] = publisher.of(RunStarted)
    assert started.sql_digest == script_digest(SQL)


async def test_sql_other_than_the_verified_one_never_reaches_the_deployer(tmp_path: Path) -> None:
    """It fails the start, naming both digests, when the recorded SQL is not what was verified."""
    other = SQL.replace("datagen", "filesystem")
    deployer, publisher, _ = await _run_to_start(tmp_path, verified_sql=other)
    assert deployer.started == []
    [failed] = publisher.of(RunStartFailed)
    assert script_digest(SQL) in failed.reason and script_digest(other) in failed.reason
    assert publisher.of(RunStarted) == []
