"""The state fingerprint from a compiled plan (COMPILE PLAN's JSON) and the hashed stream graph: which
operators hold state, under which id, keyed by what; and its wire form. The plans here have the
shape Flink 2.3 writes (tests/integration/validator/test_state_fingerprint_engine.py derives them
from the real planner)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.flinksql.state_fingerprint import (
    FingerprintError,
    StreamOperator,
    derive,
    from_json,
    row_fields,
    to_json,
    type_text,
)

AGG_UID, SRC_UID, SINK_UID = "90bea66d" * 4, "cbc357cc" * 4, "b57f372b" * 4


def _edges(*pairs: tuple[int, int]) -> list[dict[str, Any]]:
    return [{"source": a, "target": b, "shuffle": {"type": "FORWARD"}} for a, b in pairs]


def aggregate_plan(*, key: int = 0, ttl: str = "0 ms", first_id: int = 1) -> dict[str, Any]:
    """src(k STRING, v INT, i INT) -> Calc -> Exchange hash[key] -> GroupAggregate -> Calc -> Sink."""
    n = first_id - 1
    row = "ROW<`k` VARCHAR(2147483647), `v` INT, `i` INT>"
    return {
        "flinkVersion": "2.3",
        "nodes": [
            {
                "id": n + 1,
                "type": "stream-exec-table-source-scan_2",
                "scanTableSource": {"table": {"identifier": "`default_catalog`.`default_database`.`src`"}},
                "outputType": row,
                "description": "TableSourceScan(table=[[default_catalog, default_database, src]])",
            },
            {
                "id": n + 2,
                "type": "stream-exec-calc_1",
                "outputType": row,
                "description": "Calc(select=[k, v, i])",
            },
            {
                "id": n + 3,
                "type": "stream-exec-exchange_1",
                "inputProperties": [{"requiredDistribution": {"type": "HASH", "keys": [key]}}],
                "outputType": row,
            },
            {
                "id": n + 4,
                "type": "stream-exec-group-aggregate_1",
                "grouping": [key],
                "aggCalls": [{"name": "EXPR$1", "internalName": "$COUNT$1", "argList": []}],
                "state": [{"index": 0, "ttl": ttl, "name": "groupAggregateState"}],
                "outputType": {
                    "type": "ROW",
                    "fields": [
                        {"name": "k", "fieldType": "VARCHAR(2147483647)"},
                        {"name": "EXPR$1", "fieldType": "BIGINT NOT NULL"},
                    ],
                },
                "description": "GroupAggregate(groupBy=[k], select=[k, COUNT(*) AS EXPR$1])",
            },
            {
                "id": n + 5,
                "type": "stream-exec-calc_1",
                "outputType": "ROW<`k` VARCHAR(2147483647), `n` BIGINT>",
            },
            {
                "id": n + 6,
                "type": "stream-exec-sink_2",
                "dynamicTableSink": {"table": {"identifier": "`default_catalog`.`default_database`.`snk`"}},
                "outputType": "ROW<`k` VARCHAR(2147483647), `n` BIGINT>",
            },
        ],
        "edges": _edges((n + 1, n + 2), (n + 2, n + 3), (n + 3, n + 4), (n + 4, n + 5), (n + 5, n + 6)),
    }


def aggregate_operators(first_id: int = 1) -> list[StreamOperator]:
    n = first_id - 1
    names = [
        (f"Source: src[{n + 1}]", SRC_UID),
        (f"Calc[{n + 2}]", "7df19f87" * 4),
        (f"GroupAggregate[{n + 4}]", AGG_UID),
        (f"Calc[{n + 5}]", "e5ebb093" * 4),
        (f"ConstraintEnforcer[{n + 6}]", "2e32dc82" * 4),
        (f"Sink: snk[{n + 6}]", SINK_UID),
    ]
    return [
        StreamOperator(name, uid, 2, id=i + 1, inputs=(i,) if i else ())
        for i, (name, uid) in enumerate(names)
    ]


WRITTEN = {"src": {"connector": "kafka", "topic": "events", "scan.startup.mode": "group-offsets"}}


def test_it_lists_the_operators_that_hold_state_with_their_ids_keys_and_state() -> None:
    """It keeps the source and the aggregate (ids from the stream graph), not the calcs, the
    constraint enforcer or a print sink's writer, which hold no state."""
    fp = derive(
        aggregate_plan(ttl="1 h"),
        aggregate_operators(),
        parallelism=2,
        sql_digest="sha256:x",
        written_options={**WRITTEN, "snk": {"connector": "print"}},
    )
    assert [(h.uid, h.operator, h.kind) for h in fp.holders] == [
        (SRC_UID, "Source: src[1]", "source"),
        (AGG_UID, "GroupAggregate[4]", "operator"),
    ]
    source, aggregate = fp.holders
    assert source.table == "src" and source.origin == ("connector=kafka", "topic=events")
    assert aggregate.key == ("k VARCHAR(2147483647)",)
    assert [(s.name, s.ttl_ms) for s in aggregate.state] == [("groupAggregateState", 3_600_000)]
    assert aggregate.inputs == (("k VARCHAR(2147483647)", "v INT", "i INT"),)
    assert aggregate.output == ("k VARCHAR(2147483647)", "EXPR$1 BIGINT NOT NULL")
    assert (fp.flink_version, fp.parallelism, fp.sql_digest) == ("2.3", 2, "sha256:x")


def test_a_sink_that_keeps_state_is_a_holder_unless_its_connector_keeps_none() -> None:
    """It counts a Kafka sink's writer (transactions) and an unknown connector's, never print's."""
    for connector, expected in (("kafka", True), ("some-new-connector", True), ("blackhole", False)):
        fp = derive(
            aggregate_plan(),
            aggregate_operators(),
            parallelism=2,
            written_options={**WRITTEN, "snk": {"connector": connector, "topic": "out"}},
        )
        assert (SINK_UID in fp.by_uid()) is expected, connector


def test_the_same_job_planned_later_in_the_same_jvm_gets_the_same_fingerprint() -> None:
    """It numbers nodes from 1 whatever the planner's counter stood at, so only the job counts."""
    first = derive(aggregate_plan(), aggregate_operators(), parallelism=2, written_options=WRITTEN)
    later = derive(
        aggregate_plan(first_id=41), aggregate_operators(41), parallelism=2, written_options=WRITTEN
    )
    assert later == first and later.holders[1].operator == "GroupAggregate[4]"


def test_a_changed_key_shows_in_the_key_and_the_definition_not_in_the_id() -> None:
    """It records what Flink does: the id stays (the graph's shape did not change); key and logic differ."""
    by_k = derive(aggregate_plan(key=0), aggregate_operators(), parallelism=2).by_uid()[AGG_UID]
    by_i = derive(aggregate_plan(key=2), aggregate_operators(), parallelism=2).by_uid()[AGG_UID]
    assert by_k.key == ("k VARCHAR(2147483647)",) and by_i.key == ("i INT",)
    assert by_k.logic != by_i.logic and by_k.upstream != by_i.upstream


def test_aliases_do_not_change_the_definition() -> None:
    """It leaves aggregate call names and output names out of the digest: state does not depend on them."""
    plain = aggregate_plan()
    renamed = json.loads(json.dumps(plain).replace("EXPR$1", "order_count"))
    a = derive(plain, aggregate_operators(), parallelism=2).by_uid()[AGG_UID]
    b = derive(renamed, aggregate_operators(), parallelism=2).by_uid()[AGG_UID]
    assert a.logic == b.logic and a.output != b.output


def test_a_connector_named_source_and_a_committer_map_to_their_nodes() -> None:
    """It maps `Source: KafkaSource-<table>` by its table and a sink's committer by what feeds it."""
    plan = aggregate_plan()
    ops = aggregate_operators()
    ops[0] = StreamOperator("Source: KafkaSource-default_catalog.default_database.src", SRC_UID, 2, id=1)
    ops.append(StreamOperator("snk: Committer", "c0mm1773" * 4, 2, id=7, inputs=(6,)))
    fp = derive(plan, ops, parallelism=2, written_options={**WRITTEN, "snk": {"connector": "kafka"}})
    kinds = {h.operator: (h.kind, h.node) for h in fp.holders}
    assert kinds["Source: KafkaSource-default_catalog.default_database.src"] == ("source", 1)
    assert kinds["snk: Committer"] == ("sink", 6)


def test_an_operator_it_cannot_place_is_an_error() -> None:
    """It refuses to guess: an operator that names no plan node and has no input fails the fingerprint."""
    ops = [*aggregate_operators(), StreamOperator("Source: mystery", "f" * 32, 2, id=9)]
    with pytest.raises(FingerprintError, match="mystery"):
        derive(aggregate_plan(), ops, parallelism=2)


def test_an_unknown_node_type_is_taken_to_hold_state() -> None:
    """It treats a node type it does not know as stateful (conservative), and a sync lookup join as not."""
    plan = aggregate_plan()
    plan["nodes"][1]["type"] = "stream-exec-some-future-operator_1"
    fp = derive(plan, aggregate_operators(), parallelism=2)
    assert "Calc[2]" in [h.operator for h in fp.holders]
    plan["nodes"][1]["type"] = "stream-exec-lookup-join_1"
    assert "Calc[2]" not in [h.operator for h in derive(plan, aggregate_operators(), parallelism=2).holders]
    plan["nodes"][1]["asyncOptions"] = {"capacity": 100}
    assert "Calc[2]" in [h.operator for h in derive(plan, aggregate_operators(), parallelism=2).holders]


def test_the_wire_form_round_trips_and_refuses_other_shapes() -> None:
    """It reads back exactly what it wrote, and names what is wrong with anything else."""
    fp = derive(aggregate_plan(ttl="2 d"), aggregate_operators(), parallelism=2, written_options=WRITTEN)
    assert from_json(to_json(fp)) == fp
    assert from_json(json.loads(to_json(fp))) == fp
    for bad in ("[]", "{", '{"holders": [{"uid": 1}]}'):
        with pytest.raises(FingerprintError):
            from_json(bad)


def test_types_read_from_both_forms_the_plan_writes() -> None:
    """It reads ROW types written as text (quoted names, nested types) and as objects."""
    text = "ROW<`a` DECIMAL(10, 2), `b``c` ROW<`x` INT, `y` MAP<STRING, INT>>, `d` TIMESTAMP(3)> NOT NULL"
    assert row_fields(text) == [
        ("a", "DECIMAL(10, 2)"),
        ("b`c", "ROW<`x` INT, `y` MAP<STRING, INT>>"),
        ("d", "TIMESTAMP(3)"),
    ]
    rowtime = {"type": "TIMESTAMP_WITHOUT_TIME_ZONE", "precision": 3, "kind": "ROWTIME"}
    assert type_text(rowtime) == "TIMESTAMP(3) *ROWTIME*"
    assert row_fields({"type": "ROW", "fields": [{"name": "t", "fieldType": rowtime}]}) == [
        ("t", "TIMESTAMP(3) *ROWTIME*")
    ]
