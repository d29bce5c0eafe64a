"""Knowledge handlers and versions over fakes: commit, race, re-check, compensation, backup."""

from __future__ import annotations

import asyncio

import pytest
from knowledge_fakes import document, make_kb, spec_of

from services.flinksql.spec import RequestSpec
from services.knowledge.domain.conflicts import Mode
from services.knowledge.domain.model import build_model
from services.knowledge.domain.versions import RollbackError, SnapshotError, parse_snapshot
from services.knowledge.handlers import KnowledgeHandlers, UnknownRun
from services.knowledge.knowledge_base import CommitMeta
from services.mesh.events import (
    DecidedBy,
    Decision,
    Envelope,
    ErCommitFailed,
    ErUpdated,
    GateDecided,
    GateMode,
    RequestAccepted,
    RunStarted,
    RunStartFailed,
)
from services.mesh.ids import new_ulid
from tests.fakes import MemoryStore, RecordingPublisher

ORDERS = document("orders")
# Compatible: a new nullable result column (mapped from the payload).
ADDED = ORDERS.replace(
    "    `order_time` TIMESTAMP(3) COMMENT '下单时间',",
    "    `order_time` TIMESTAMP(3) COMMENT '下单时间',\n    `item_total` INT COMMENT '件数合计',",
).replace(
    '  order_time: "TO_TIMESTAMP_LTZ(payload.createdAt, 3)"',
    '  order_time: "TO_TIMESTAMP_LTZ(payload.createdAt, 3)"\n  item_total: "payload.itemCount"',
)
# Breaking under BACKWARD: the result's amount is narrowed.
NARROWED = ORDERS.replace("`order_amount` DECIMAL(12, 2)", "`order_amount` DECIMAL(10, 2)")


def _accepted(spec: RequestSpec, run_id: str) -> RequestAccepted:
    env = Envelope.new(
        event_type=RequestAccepted.EVENT_TYPE,
        producer="ingest",
        run_id=run_id,
        request_id=new_ulid(),
        domain=spec.job.domain,
    )
    return RequestAccepted(
        envelope=env, revision=1, content_hash=spec.content_hash, spec_version="1", spec_json=spec.to_json()
    )


def _caused(cause: RequestAccepted, cls: type, **fields: object):  # type: ignore[no-untyped-def]
    env = Envelope.caused_by(cause, event_type=cls.EVENT_TYPE, producer="router")
    return cls(envelope=env, **fields)


def _approved(cause: RequestAccepted) -> GateDecided:
    return _caused(
        cause,
        GateDecided,
        attempt=1,
        decision=Decision.APPROVED,
        reason="score 95",
        mode=GateMode.STRICT,
        decided_by=DecidedBy.GATE,
    )


async def _run(handlers: KnowledgeHandlers, text: str) -> RequestAccepted:
    accepted = _accepted(spec_of(text), new_ulid())
    await handlers.on_request_accepted(accepted)
    return accepted


@pytest.fixture
def setup():  # type: ignore[no-untyped-def]
    kb, files = make_kb(MemoryStore(), mode=Mode.BACKWARD)
    publisher = RecordingPublisher()
    return kb, files, publisher, KnowledgeHandlers(kb=kb, publisher=publisher)


async def test_approved_runs_commit_versions_with_change_lists(setup) -> None:  # type: ignore[no-untyped-def]
    """It commits v1, then v2 with the change list, and ignores decisions other than approved."""
    _kb, files, publisher, handlers = setup
    first = await _run(handlers, ORDERS)
    rejected = _caused(
        first,
        GateDecided,
        attempt=1,
        decision=Decision.REJECTED,
        reason="low",
        mode=GateMode.STRICT,
        decided_by=DecidedBy.GATE,
    )
    await handlers.on_gate_decided(rejected)
    assert publisher.events == []
    await handlers.on_gate_decided(_approved(first))
    second = await _run(handlers, ADDED)
    await handlers.on_gate_decided(_approved(second))
    v1, v2 = publisher.of(ErUpdated)
    assert (v1.version, v1.previous_version, v2.version, v2.previous_version) == (1, None, 2, 1)
    assert [(c.kind, c.column, c.severity) for c in v2.changes if c.table == "dwd_order_wide"] == [
        ("column_added", "item_total", "info")
    ]
    assert v2.envelope.causation_id is not None and v2.envelope.run_id == second.envelope.run_id
    assert "er-schemas/domains/orders/generated-er-diagram-v3.md" in files.files
    assert (
        "item_total"
        in files.files["er-schemas/domains/orders/dimension-tables.md"]
        + files.files["er-schemas/domains/orders/generated-er-diagram-v3.md"]
    )
    assert "er-schemas/global/global-er-diagram.md" in files.files


async def test_redelivered_approval_republishes_the_same_event(setup) -> None:  # type: ignore[no-untyped-def]
    """It commits once and re-publishes the identical ErUpdated for a repeated approval."""
    kb, _, publisher, handlers = setup
    run = await _run(handlers, ORDERS)
    await handlers.on_request_accepted(run)
    await handlers.on_gate_decided(_approved(run))
    await handlers.on_gate_decided(_approved(run))
    first, again = publisher.of(ErUpdated)
    assert first.envelope.event_id == again.envelope.event_id and first.version == again.version == 1
    assert len(await kb.repo.versions("orders")) == 1


async def test_unknown_run_is_retried_not_swallowed(setup) -> None:  # type: ignore[no-untyped-def]
    """It raises for an approval of a run it never saw, so the consumer retries it."""
    _, _, _, handlers = setup
    with pytest.raises(UnknownRun):
        await handlers.on_gate_decided(_approved(_accepted(spec_of(ORDERS), new_ulid())))


async def test_race_loser_is_rechecked_and_fails_on_a_critical_conflict(setup) -> None:  # type: ignore[no-untyped-def]
    """It fails the second approval on the same base when the re-check finds a Critical conflict."""
    _kb, files, publisher, handlers = setup
    base = await _run(handlers, ORDERS)
    await handlers.on_gate_decided(_approved(base))
    widened, narrowed = await _run(handlers, ADDED), await _run(handlers, NARROWED)
    await handlers.on_gate_decided(_approved(widened))
    await handlers.on_gate_decided(_approved(narrowed))
    (failed,) = publisher.of(ErCommitFailed)
    assert failed.envelope.run_id == narrowed.envelope.run_id
    assert "moved from version 1 to 2" in failed.reason
    assert {(c.kind, c.column) for c in failed.conflicts} >= {("type_narrowed", "order_amount")}
    assert [e.version for e in publisher.of(ErUpdated)] == [1, 2]
    assert any(k.startswith("conflict-reports/orders-") and k.endswith("-rejected.md") for k in files.files)


async def test_race_loser_without_conflict_commits_on_the_new_base(setup) -> None:  # type: ignore[no-untyped-def]
    """It re-checks the loser and commits it on top of the winner when nothing is Critical."""
    _kb, _, publisher, handlers = setup
    base = await _run(handlers, ORDERS)
    await handlers.on_gate_decided(_approved(base))
    a = await _run(handlers, ADDED)
    b = await _run(
        handlers, ORDERS.replace("COMMENT '店铺名称',\n    `city_id`", "COMMENT '店铺名',\n    `city_id`")
    )
    await handlers.on_gate_decided(_approved(a))
    await handlers.on_gate_decided(_approved(b))
    updates = publisher.of(ErUpdated)
    assert [(u.version, u.previous_version) for u in updates] == [(1, None), (2, 1), (3, 2)]
    assert publisher.of(ErCommitFailed) == []


async def test_concurrent_commits_on_one_base_never_both_win() -> None:
    """It lets exactly one of two concurrent commits take the base; the other is re-checked."""
    kb, _ = make_kb(MemoryStore(), mode=Mode.BACKWARD)
    base = build_model(spec_of(ORDERS))
    await kb.commit(base, CommitMeta(run_id="R0"), base_version=None)
    real_head = kb.repo.head
    both_read = asyncio.Event()
    readers = 0

    async def slow_head(domain: str):  # type: ignore[no-untyped-def]
        nonlocal readers
        found = await real_head(domain)
        readers += 1
        if readers == 2:
            both_read.set()
        await asyncio.wait_for(both_read.wait(), 1)
        return found

    kb.repo.head = slow_head  # type: ignore[method-assign]
    narrowed = build_model(spec_of(NARROWED))
    added = build_model(spec_of(ADDED))
    outcomes = await asyncio.gather(
        kb.commit(added, CommitMeta(run_id="RA"), base_version=1),
        kb.commit(narrowed, CommitMeta(run_id="RB"), base_version=1),
    )
    assert sorted(o.committed for o in outcomes) == [False, True]
    loser = next(o for o in outcomes if not o.committed)
    assert loser.rechecked and loser.result.critical
    head, _ = await real_head("orders")
    assert (head.current, head.latest) == (2, 2)


async def test_failed_start_rolls_back_and_started_runs_are_recorded(setup) -> None:  # type: ignore[no-untyped-def]
    """It marks a started version running, and rolls the domain back when a start fails."""
    kb, _, _, handlers = setup
    first = await _run(handlers, ORDERS)
    await handlers.on_gate_decided(_approved(first))
    await handlers.on_run_started(
        _caused(first, RunStarted, target="manifest", deployment_ref="d", revision=1)
    )
    second = await _run(handlers, ADDED)
    await handlers.on_gate_decided(_approved(second))
    await handlers.on_run_start_failed(_caused(second, RunStartFailed, target="manifest", reason="boom"))
    head, _ = await kb.repo.head("orders")
    v1, v2 = await kb.repo.versions("orders")
    assert (head.current, head.latest) == (1, 2)
    assert (v1.state, v2.state) == ("running", "start_failed")
    record = await kb.record("orders")
    assert record is not None and record.model.table("dwd_order_wide").column("item_total") is None  # type: ignore[union-attr]


async def test_rollback_diff_export_and_import(setup) -> None:  # type: ignore[no-untyped-def]
    """It rolls back to a live version, diffs versions, and restores an export exactly."""
    kb, _, _, handlers = setup
    for text in (ORDERS, ADDED):
        run = await _run(handlers, text)
        await handlers.on_gate_decided(_approved(run))
    changes = await kb.diff("orders", 1, 2)
    assert [(c.kind, c.column) for c in changes if c.table == "dwd_order_wide"] == [
        ("column_added", "item_total")
    ]
    snapshot = await kb.export()
    assert await kb.rollback("orders") == (2, 1)
    with pytest.raises(RollbackError, match="rolled_back"):
        await kb.rollback("orders", to=2)
    with pytest.raises(LookupError):
        await kb.diff("orders", 1, 9)
    restored, _ = make_kb(MemoryStore())
    assert await restored.restore(parse_snapshot(snapshot.model_dump_json())) == ["orders"]
    head, _ = await restored.repo.head("orders")
    assert head.current == 2 and len(await restored.repo.versions("orders")) == 2
    assert [h.table for h in await restored.search("item total", limit=1)] == ["dwd_order_wide"]
    with pytest.raises(SnapshotError, match="format"):
        parse_snapshot('{"format": "other", "exported_at": "2025-01-01T00:00:00Z"}')


async def test_per_domain_mode_applies(setup) -> None:  # type: ignore[no-untyped-def]
    """It grades a domain's check with its own mode, else the default."""
    kb, _ = make_kb(MemoryStore(), mode=Mode.NONE, modes={"orders": Mode.FULL})
    await kb.commit(build_model(spec_of(ORDERS)), CommitMeta(), base_version=None)
    result = await kb.check(build_model(spec_of(NARROWED)))
    assert result.mode == Mode.FULL and not result.compatible
    assert (await kb.check(build_model(spec_of(NARROWED)), Mode.NONE)).compatible
