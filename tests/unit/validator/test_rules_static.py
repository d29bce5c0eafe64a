"""The pure checks without an engine: tracing hand-written SQL, knowledge, SLA, invariants, reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.flinksql.spec import RequestSpec
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.domain import Inputs, RuleConfig, assess
from services.validator.domain.checks_accuracy import check_invariants
from services.validator.domain.checks_compliance import is_sensitive
from services.validator.domain.checks_performance import duration_seconds
from services.validator.domain.model import CaseFacts, Conflict, JobConfig, KnowledgeFacts, PlanFacts, Report
from services.validator.domain.report import render_json, render_markdown

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
CONFIG = JobConfig(parallelism=2, checkpoint_interval="30 s")
OK_PLAN = PlanFacts(ran=True)
KNOWN = KnowledgeFacts(available=True)

# The orders job written by hand: other aliases, inline JSON_VALUE, no backquotes, other layout.
HAND_WRITTEN = """
SET 'table.exec.state.ttl' = '1 d';
CREATE TEMPORARY TABLE BusinessEvent (domain STRING, type STRING, payload STRING, create_time BIGINT,
  proc_time AS PROCTIME()) WITH ('connector' = 'kafka', 'topic' = 'be',
  'properties.bootstrap.servers' = 'k:9092', 'format' = 'json');
CREATE TEMPORARY TABLE dim_shop (shop_id STRING NOT NULL COMMENT '店铺ID', shop_name STRING, city_id STRING,
  shop_status INT, PRIMARY KEY (shop_id) NOT ENFORCED) WITH ('connector' = 'jdbc',
  'url' = 'jdbc:postgresql://db/x', 'table-name' = 'dim_shop', 'lookup.cache' = 'PARTIAL',
  'lookup.partial-cache.max-rows' = '1000', 'password' = '${secret:shop}');
CREATE TEMPORARY TABLE dim_city (city_id STRING NOT NULL, city_name STRING, province_name STRING,
  city_tier INT, PRIMARY KEY (city_id) NOT ENFORCED) WITH ('connector' = 'jdbc',
  'url' = 'jdbc:postgresql://db/x', 'table-name' = 'dim_city', 'lookup.cache.max-rows' = '10');
CREATE TEMPORARY TABLE dwd_order_wide (order_id STRING NOT NULL, user_id STRING, shop_id STRING,
  shop_name STRING, city_name STRING, province_name STRING, order_amount DECIMAL(12, 2),
  discount_amount DECIMAL(12, 2), pay_amount DECIMAL(12, 2), item_count INT, order_status INT,
  channel STRING, order_time TIMESTAMP(3), PRIMARY KEY (order_id) NOT ENFORCED)
  WITH ('connector' = 'print');
INSERT INTO dwd_order_wide
WITH ev AS (
  SELECT JSON_VALUE(payload, '$.orderId') AS oid, JSON_VALUE(payload, '$.userId') AS uid,
         JSON_VALUE(payload, '$.shopId') AS sid,
         TRY_CAST(JSON_VALUE(payload, '$.orderAmount') AS DECIMAL(38, 18)) AS amt,
         TRY_CAST(JSON_VALUE(payload, '$.discountAmount') AS DECIMAL(38, 18)) AS disc,
         TRY_CAST(JSON_VALUE(payload, '$.itemCount') AS INT) AS cnt,
         TRY_CAST(JSON_VALUE(payload, '$.orderStatus') AS INT) AS st,
         JSON_VALUE(payload, '$.channel') AS ch,
         TRY_CAST(JSON_VALUE(payload, '$.createdAt') AS BIGINT) AS created, proc_time
  FROM BusinessEvent WHERE type = 'order_created' AND domain = 'orders')
SELECT e.oid, e.uid, e.sid, COALESCE(s.shop_name, '未知店铺'), COALESCE(c.city_name, '未知城市'),
  c.province_name, CAST(e.amt AS DECIMAL(12, 2)), CAST(COALESCE(e.disc, 0) AS DECIMAL(12, 2)),
  CAST(e.amt - COALESCE(e.disc, 0) AS DECIMAL(12, 2)), e.cnt, e.st, e.ch,
  CAST(TO_TIMESTAMP_LTZ(e.created, 3) AS TIMESTAMP(3))
FROM ev e
LEFT JOIN dim_shop FOR SYSTEM_TIME AS OF e.proc_time AS s ON e.sid = s.shop_id AND s.shop_status = 1
LEFT JOIN dim_city FOR SYSTEM_TIME AS OF e.proc_time c ON c.city_id = s.city_id
WHERE e.amt >= 0 AND e.oid IS NOT NULL AND e.st IN (1, 2, 3)
"""


@pytest.fixture(scope="module")
def orders() -> RequestSpec:
    spec = check_document((FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")).spec
    assert spec is not None
    return spec


def _run(spec: RequestSpec, sql: str, **kw: object) -> Report:
    inputs = Inputs(spec=spec, sql=sql, plan=OK_PLAN, knowledge=KNOWN, job_config=CONFIG, cases_ran=True)
    for key, value in kw.items():
        setattr(inputs, key, value)
    return assess(inputs, created_at="2025-01-01T00:00:00+00:00")


def test_hand_written_job_with_other_aliases_is_traced(orders: RequestSpec) -> None:
    """It traces filters, joins and mappings through CTE aliases and renamed dimension aliases."""
    report = _run(orders, HAND_WRITTEN)
    codes = sorted({f.code for f in report.findings})
    assert [c for c in codes if c.startswith(("compliance.", "accuracy."))] == []
    assert "sql.identifier_unquoted" in codes  # style only: unquoted names
    assert all(c.traced for c in report.coverage)


def test_moving_a_left_join_condition_to_where_is_not_the_request(orders: RequestSpec) -> None:
    """It reports a LEFT JOIN's additional condition moved from ON into WHERE (different rows)."""
    moved = HAND_WRITTEN.replace(" AND s.shop_status = 1", "").replace(
        "WHERE e.amt >= 0", "WHERE s.shop_status = 1 AND e.amt >= 0"
    )
    report = _run(orders, moved)
    [hit] = [f for f in report.findings if f.code == "compliance.join_condition_mismatch"]
    assert hit.name == "order_to_shop" and hit.severity == "critical"


def test_a_filter_with_a_changed_literal_is_missing_not_traced(orders: RequestSpec) -> None:
    """It compares whole predicates, so `>= 0` is not traced by `>= 10` (no substring match)."""
    report = _run(orders, HAND_WRITTEN.replace("e.amt >= 0", "e.amt >= 10"))
    [hit] = [f for f in report.findings if f.code == "compliance.filter_missing"]
    assert "orderAmount >= 0" in hit.message


def test_knowledge_conflicts_become_findings_and_unreachable_is_provisional(orders: RequestSpec) -> None:
    """It grades knowledge conflicts by their severity, and marks the score provisional without knowledge."""
    conflicts = KnowledgeFacts(
        available=True,
        compatible=False,
        conflicts=(
            Conflict(
                kind="type_changed", severity="critical", table="dim_shop", column="shop_id", detail="x"
            ),
        ),
    )
    sql = HAND_WRITTEN
    report = _run(orders, sql, knowledge=conflicts)
    [hit] = [f for f in report.findings if f.code == "compliance.er_conflict"]
    assert hit.severity == "critical" and not report.gate_passed and not report.provisional
    down = _run(orders, sql, knowledge=KnowledgeFacts(available=False, note="refused"))
    assert down.provisional and any("refused" in r for r in down.provisional_reasons)
    assert "provisional" in render_markdown(down.model_copy(update={"language": "en"})).lower()


def test_checkpoint_longer_than_sla_on_a_transactional_sink(orders: RequestSpec) -> None:
    """It warns when a sink that commits on checkpoints commits less often than the SLA allows."""
    sql = HAND_WRITTEN.replace(
        "WITH ('connector' = 'print')", "WITH ('connector' = 'filesystem', 'path' = '/x', 'format' = 'json')"
    )
    slow = _run(orders, sql, job_config=JobConfig(parallelism=2, checkpoint_interval="10 min"))
    assert [f.code for f in slow.findings if f.code.startswith("perf.checkpoint")] == [
        "perf.checkpoint_vs_sla"
    ]
    fast = _run(orders, sql, job_config=JobConfig(parallelism=2, checkpoint_interval="2 s"))
    assert not [f for f in fast.findings if f.code.startswith("perf.checkpoint")]
    none = _run(orders, sql, job_config=None)
    assert {"perf.checkpoint_missing", "perf.parallelism_unset"} <= {f.code for f in none.findings}


def test_failed_case_names_its_rows_and_costs_accuracy(orders: RequestSpec) -> None:
    """It reports a failed case as Critical data accuracy, naming the missing and unexpected rows."""
    case = CaseFacts(
        name="enriched_orders",
        passed=False,
        missing=({"order_id": "O1", "pay_amount": "237.50"},),
        unexpected=({"order_id": "O1", "pay_amount": "237.49"},),
    )
    report = _run(orders, HAND_WRITTEN, cases=(case,))
    [hit] = [f for f in report.findings if f.code == "accuracy.case_failed"]
    assert hit.dimension == "data_accuracy" and "237.50" in hit.message and "237.49" in hit.message
    assert report.cases[0].passed is False and not report.gate_passed


def test_rules_can_be_turned_off_per_domain(orders: RequestSpec) -> None:
    """It drops a rule turned off for the domain, and records the configured rule-set version."""
    config = RuleConfig.from_mapping({"domains": {"orders": {"sql.identifier_unquoted": "off"}}})
    inputs = Inputs(
        spec=orders, sql=HAND_WRITTEN, plan=OK_PLAN, knowledge=KNOWN, job_config=CONFIG, cases_ran=True
    )
    report = assess(inputs, rule_config=config, created_at="t")
    assert "sql.identifier_unquoted" not in {f.code for f in report.findings}
    assert report.rule_set_version == config.version() != "sw-rules-1.5"


def test_invariants_of_edge_cases() -> None:
    """It finds NULLs in NOT NULL columns, duplicate keys and too many rows in an edge-case result."""
    data = {
        "events": [{"expect": "kept_unless_filtered"}, {"expect": "dropped"}],
        "invariants": [
            {"name": "not_null_columns", "columns": ["id"]},
            {"name": "primary_key_unique", "columns": ["id"]},
            {"name": "row_count"},
        ],
    }
    rows = [{"id": None}, {"id": "a"}, {"id": "a"}]
    found = check_invariants(data, rows, is_aggregate=False)
    assert [v.split(":")[0] for v in found] == ["not_null_columns", "primary_key_unique", "row_count"]
    assert check_invariants(data, [{"id": "a"}], is_aggregate=False) == []


def test_sensitive_patterns_and_durations() -> None:
    """It recognises phone, ID-number and email columns in English and Chinese, and reads durations."""
    assert is_sensitive("mobile_no", None) and is_sensitive("contact", "联系人手机号")
    assert (
        is_sensitive("id_card_no", None)
        and is_sensitive("x", "身份证号")
        and is_sensitive("user_email", None)
    )
    assert not is_sensitive("user_id", "用户ID") and not is_sensitive("shop_name", "店铺名称")
    assert duration_seconds("< 5秒") == 5 and duration_seconds("1 d") == 86400
    assert duration_seconds("30 min") == 1800 and duration_seconds("1000 ms") == 1


def test_report_shapes_in_both_languages(orders: RequestSpec) -> None:
    """It writes seed 000's sections in the request's language (Chinese here), overridable to English."""
    job = compile_job(orders, profile=load_profile("dev"), revision=1, generator_version="t")
    report = _run(orders, job.sql.replace("SET 'table.exec.state.ttl' = '1 d';", ""))
    md = render_markdown(report)
    assert report.language == "zh"
    for section in (
        "## 📋 验证概览",
        "### 📊 四维度评分详情",
        "### 🏆 综合评分",
        "## ✅ 通过验证的项目",
        "## ⚠️ 发现的问题",
        "## 🧪 测试覆盖",
        "## 🚀 部署建议",
    ):
        assert section in md
    assert "| 数据准确性 | 100/100 | 35% | 35.0 | ✅ EXCELLENT |" in md
    assert "perf.state_ttl_missing" in md and "修复建议" in md
    en = assess(
        Inputs(spec=orders, sql=job.sql, plan=OK_PLAN, knowledge=KNOWN, job_config=CONFIG, cases_ran=True),
        created_at="t",
        language="en",
    )
    assert "## ⚠️ Issues" in render_markdown(en) and en.score == 100.0
    assert '"score": 100.0' in render_json(en)
