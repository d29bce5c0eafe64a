"""The upgrade classifier: the running job's state fingerprint against the new job's, operator by
operator (by the id Flink restores state by): compatible, drop (what is lost), incompatible (why),
unknown (why not comparable), none."""

from __future__ import annotations

import copy
from dataclasses import replace

from services.flinksql.state_fingerprint import StateFingerprint, derive, from_json, to_json
from services.router.domain.upgrade import UpgradeCheck, Verdict, classify, read_fingerprint
from tests.unit.flinksql.test_state_fingerprint import (
    AGG_UID,
    WRITTEN,
    aggregate_operators,
    aggregate_plan,
)


def fingerprint(plan: dict | None = None, **options: object) -> StateFingerprint:
    written = options.pop("written", WRITTEN)
    return derive(
        plan or aggregate_plan(),
        aggregate_operators(),
        parallelism=2,
        sql_digest=str(options.pop("digest", "sha256:new")),
        written_options=written,  # type: ignore[arg-type]
    )


def test_a_change_downstream_of_the_state_is_compatible() -> None:
    """It keeps every operator holding state when only the projection after the aggregate changed."""
    plan = aggregate_plan()
    plan["nodes"][4]["outputType"] = "ROW<`k` VARCHAR(2147483647), `doubled` BIGINT>"
    check = classify(fingerprint(), fingerprint(plan), old_revision=1)
    assert check.verdict is Verdict.COMPATIBLE and check.lost == () and check.incompatible == ()
    assert "revision 1" in check.summary and "maps completely" in check.summary


def test_a_changed_group_by_key_at_the_same_position_is_incompatible() -> None:
    """It refuses the restore Flink would fail (the key serializer differs), naming both keys."""
    check = classify(fingerprint(), fingerprint(aggregate_plan(key=2)), old_revision=3)
    assert check.verdict is Verdict.INCOMPATIBLE
    [why] = check.incompatible
    assert why.startswith("GroupAggregate[4] (GroupAggregate(groupBy=[k]")
    assert "its key changed (k VARCHAR(2147483647) -> i INT)" in why
    assert "cannot be restored" in check.summary and "revision 3" in check.summary


def test_other_aggregates_over_the_same_key_are_incompatible() -> None:
    """It refuses state another definition wrote even where the types would let Flink restore it."""
    plan = aggregate_plan()
    plan["nodes"][3]["aggCalls"] = [{"name": "EXPR$1", "internalName": "$SUM$1", "argList": [1]}]
    check = classify(fingerprint(), fingerprint(plan))
    assert check.verdict is Verdict.INCOMPATIBLE and "its definition changed" in check.incompatible[0]


def test_an_operator_gone_from_the_new_job_drops_its_state_and_says_what_is_lost() -> None:
    """It lists the aggregate whose id no longer exists: its counts start again from zero."""
    new = fingerprint()
    new = replace(new, holders=tuple(h for h in new.holders if h.uid != AGG_UID))
    check = classify(fingerprint(), new, old_revision=1)
    assert check.verdict is Verdict.DROP and check.incompatible == ()
    [lost] = check.lost
    assert lost.startswith("GroupAggregate[4]") and "groupAggregateState is lost" in lost
    assert "count from zero" in lost and "must be dropped" in check.summary


def test_a_source_that_moved_loses_its_positions() -> None:
    """It names a source whose id changed: it restarts from its startup position."""
    old = fingerprint()
    moved = tuple(replace(h, uid="0" * 32) if h.kind == "source" else h for h in fingerprint().holders)
    check = classify(old, replace(fingerprint(), holders=moved))
    assert check.verdict is Verdict.DROP
    assert any("read positions" in line and "startup position" in line for line in check.lost)
    assert any("is new: it starts with empty state" in note for note in check.notes)


def test_a_source_pointed_at_another_topic_is_incompatible() -> None:
    """It refuses restoring offsets of one topic into a source reading another."""
    new = fingerprint(written={"src": {"connector": "kafka", "topic": "other-events"}})
    check = classify(fingerprint(), new)
    assert check.verdict is Verdict.INCOMPATIBLE and "topic=events" in check.incompatible[0]


def test_ttl_duration_is_a_note_but_turning_ttl_on_is_incompatible() -> None:
    """It lets a TTL change its length, and refuses enabling TTL on state written without it."""
    longer = classify(fingerprint(aggregate_plan(ttl="1 h")), fingerprint(aggregate_plan(ttl="2 h")))
    assert longer.verdict is Verdict.COMPATIBLE
    assert any("3600000 ms to 7200000 ms" in n for n in longer.notes)
    turned_on = classify(fingerprint(aggregate_plan(ttl="0 ms")), fingerprint(aggregate_plan(ttl="1 h")))
    assert turned_on.verdict is Verdict.INCOMPATIBLE and "TTL" in turned_on.incompatible[0]


def test_a_change_upstream_that_keeps_the_shape_is_compatible_and_noted() -> None:
    """It keeps the aggregate's state when only the filter before it changed, and says so."""
    plan = copy.deepcopy(aggregate_plan())
    plan["nodes"][1]["condition"] = {"kind": "CALL", "internalName": "$>$1"}
    check = classify(fingerprint(), fingerprint(plan))
    assert check.verdict is Verdict.COMPATIBLE
    assert any(n.startswith("GroupAggregate[4]: what feeds it changed") for n in check.notes)


def test_fingerprints_that_cannot_be_compared_give_unknown() -> None:
    """It says why it cannot tell: missing, another Flink, another parallelism, other SQL."""
    fp = fingerprint()
    assert (
        classify(None, fp, old_revision=2, missing_why="deployed before fingerprints").verdict
        is Verdict.UNKNOWN
    )
    assert (
        "revision 2 has no state fingerprint (deployed before"
        in classify(None, fp, old_revision=2, missing_why="deployed before fingerprints").summary
    )
    assert "Flink 2.2 and 2.3" in classify(replace(fp, flink_version="2.2"), fp).summary
    assert "parallelism 4 and 2" in classify(replace(fp, parallelism=4), fp).summary
    other = classify(fp, fp, new_digest="sha256:started")
    assert other.verdict is Verdict.UNKNOWN and "other SQL" in other.summary
    assert classify(fp, fp, running=False).verdict is Verdict.NONE


def test_the_check_and_the_fingerprint_survive_storage() -> None:
    """It reads back a check as stored, and a stored fingerprint, and says why a bad one is unusable."""
    check = classify(fingerprint(), fingerprint(aggregate_plan(key=2)), old_revision=1)
    assert UpgradeCheck.from_dict(check.to_dict()) == check
    assert read_fingerprint(to_json(fingerprint()))[0] == from_json(to_json(fingerprint()))
    assert read_fingerprint(None) == (None, "no state fingerprint recorded")
    assert read_fingerprint("{}")[0] is not None and read_fingerprint("nope")[0] is None
