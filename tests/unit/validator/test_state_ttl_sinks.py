"""`perf.state_ttl_missing` agrees with what Flink keeps for the sink: a print sink with a primary
key fed by lookup joins only keeps no state (no SinkUpsertMaterializer; the generator treats print
as append-only and sets no TTL), a JDBC upsert sink does."""

from __future__ import annotations

import pytest

from services.flinksql.spec import RequestSpec
from services.ingest.domain.checks import check_document
from tests.unit.validator.test_rules_static import HAND_WRITTEN
from tests.unit.validator.test_spurious_findings import FIXTURES, _run


@pytest.fixture(scope="module")
def orders() -> RequestSpec:
    spec = check_document((FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")).spec
    assert spec is not None
    return spec


def test_a_print_sink_with_a_key_needs_no_state_ttl(orders: RequestSpec) -> None:
    """Lookup joins only, into a print sink with a primary key: no keyed state, no TTL needed (the
    generator sets none); the same job into a JDBC upsert sink still needs one."""
    no_ttl = HAND_WRITTEN.replace("SET 'table.exec.state.ttl' = '1 d';", "")
    assert "WITH ('connector' = 'print')" in no_ttl and "PRIMARY KEY (order_id)" in no_ttl
    printed = _run(orders, no_ttl)
    assert "perf.state_ttl_missing" not in {f.code for f in printed.findings}
    jdbc = no_ttl.replace(
        "WITH ('connector' = 'print')",
        "WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/x', 'table-name' = 'dwd_order_wide')",
    )
    [hit] = [f for f in _run(orders, jdbc).findings if f.code == "perf.state_ttl_missing"]
    assert "物化算子" in hit.message  # the language of the fixture (zh): the materialiser
