"""Deliberately broken jobs, each planned on one warm Flink engine: the specific finding, in its dimension.

Every row mutates the generated SQL text (or the request) of an example and names the rule
that must fire and the dimension it must land in. Plan-only: no data-accuracy runs here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from services.flinksql.artifacts import ArtifactLayout
from services.flinksql.spec import RequestSpec
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.adapters.artifacts_fs import job_config_from
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars
from services.validator.adapters.engine_runner import EngineRunner
from services.validator.domain import Inputs, assess
from services.validator.domain.model import JobConfig, KnowledgeFacts, Report

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"


def _spec(name: str, edit: Callable[[str], str] = lambda t: t) -> RequestSpec:
    text = edit((FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8"))
    result = check_document(text)
    assert result.spec is not None, result.errors
    return result.spec


def _compiled(spec: RequestSpec) -> tuple[str, JobConfig | None]:
    job = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="test")
    path = ArtifactLayout(spec.job.domain).job_config
    return job.sql, job_config_from(yaml.safe_load(job.files[path]), path)


def _sql(spec: RequestSpec) -> str:
    return _compiled(spec)[0]


CONFIG = JobConfig(parallelism=2, checkpoint_interval="30 s")


@pytest.fixture(scope="module")
def runner() -> Iterator[EngineRunner]:
    directory = default_jar_dir()
    ensure_connector_jars(directory)
    engine = EngineRunner(directory, use_postgres=False)
    engine.warm()
    assert engine.unavailable_reason is None
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def examples() -> dict[str, tuple[RequestSpec, str]]:
    out = {}
    for name in ("orders", "payments", "user-activity"):
        spec = _spec(name)
        sql, config = _compiled(spec)
        assert config == CONFIG or config is not None
        out[name] = (spec, sql)
    return out


def _validate(runner: EngineRunner, spec: RequestSpec, sql: str) -> Report:
    return assess(
        Inputs(
            spec=spec,
            sql=sql,
            plan=runner.plan(sql),
            knowledge=KnowledgeFacts(available=True),
            job_config=CONFIG,
        ),
        created_at="2025-01-01T00:00:00+00:00",
    )


def _replace(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"mutation anchor not found: {old!r}"
        return text.replace(old, new, count)

    return edit


@dataclass(frozen=True)
class Broken:
    id: str
    example: str
    mutate: Callable[[str], str]
    code: str
    dimension: str


KAFKA_DIM_CITY = """    'connector' = 'kafka',
    'topic' = 'dim-city',
    'properties.bootstrap.servers' = 'localhost:9092',
    'format' = 'json'
);"""

BROKEN = [
    Broken(
        "wrong_column",
        "orders",
        _replace("COALESCE(`dim1`.`shop_name`", "COALESCE(`dim1`.`shop_nam`"),
        "sql.engine_rejected",
        "sql_standards",
    ),
    Broken(
        "syntax_error",
        "orders",
        _replace("SELECT\n    `ev`.`orderId`", "SELEC\n    `ev`.`orderId`"),
        "sql.engine_rejected",
        "sql_standards",
    ),
    Broken(
        "credentials_in_ddl",
        "orders",
        _replace("'${secret:sw-dev-jdbc-dim-shop}'", "'s3cret-Passw0rd'"),
        "sql.credentials_in_ddl",
        "sql_standards",
    ),
    Broken(
        "connector_option_missing",
        "orders",
        _replace("    'topic' = 'business-events',\n", ""),
        "sql.connector_options_incomplete",
        "sql_standards",
    ),
    Broken(
        "select_star",
        "orders",
        _replace("        `proc_time`\n    FROM `BusinessEvent`", "        *\n    FROM `BusinessEvent`"),
        "sql.select_star",
        "sql_standards",
    ),
    Broken(
        "mapping_wrong_column",
        "orders",
        _replace("COALESCE(`dim2`.`city_name`, '未知城市')", "COALESCE(`dim2`.`province_name`, '未知城市')"),
        "accuracy.mapping_mismatch",
        "data_accuracy",
    ),
    Broken(
        "result_type_changed",
        "orders",
        _replace(
            "`order_amount` DECIMAL(12, 2) COMMENT '订单原价金额'",
            "`order_amount` DECIMAL(10, 1) COMMENT '订单原价金额'",
        ),
        "accuracy.result_schema_mismatch",
        "data_accuracy",
    ),
    Broken(
        "cast_missing",
        "orders",
        _replace(
            "CAST(TO_TIMESTAMP_LTZ(`ev`.`createdAt`, 3) AS TIMESTAMP(3)) AS `order_time`",
            "TO_TIMESTAMP_LTZ(`ev`.`createdAt`, 3) AS `order_time`",
        ),
        "accuracy.cast_missing",
        "data_accuracy",
    ),
    Broken(
        "cast_wrong_type",
        "orders",
        _replace(
            "CAST(`ev`.`orderAmount` AS DECIMAL(12, 2)) AS `order_amount`",
            "CAST(`ev`.`orderAmount` AS DECIMAL(10, 1)) AS `order_amount`",
        ),
        "accuracy.cast_type_mismatch",
        "data_accuracy",
    ),
    Broken(
        "column_not_produced",
        "orders",
        lambda t: _replace(", `channel`, `order_time`)", ", `order_time`)")(
            _replace("    `ev`.`channel` AS `channel`,\n", "")(t)
        ),
        "accuracy.column_not_produced",
        "data_accuracy",
    ),
    Broken(
        "unguarded_division",
        "orders",
        _replace(
            "(`ev`.`orderAmount` - COALESCE(`ev`.`discountAmount`, 0))",
            "(`ev`.`orderAmount` / `ev`.`discountAmount`)",
        ),
        "accuracy.unguarded_division",
        "data_accuracy",
    ),
    Broken(
        "state_ttl_missing",
        "orders",
        _replace("SET 'table.exec.state.ttl' = '1 d';", ""),
        "perf.state_ttl_missing",
        "performance",
    ),
    Broken(
        "lookup_cache_missing",
        "orders",
        _replace("    'lookup.cache.max-rows' = '100000',\n    'lookup.cache.ttl' = '30 min',\n", ""),
        "perf.lookup_cache_missing",
        "performance",
    ),
    Broken(
        "proctime_join_on_kafka",
        "orders",
        _replace(
            """    'connector' = 'jdbc',
    'lookup.cache.max-rows' = '5000',
    'lookup.cache.ttl' = '1 h',
    'table-name' = 'dim_city',
    'url' = 'jdbc:postgresql://localhost:5432/streamwright',
    'username' = 'flink_reader',
    'password' = '${secret:sw-dev-jdbc-dim-city}'
);""",
            KAFKA_DIM_CITY,
        ),
        "perf.lookup_on_non_lookup_table",
        "performance",
    ),
    Broken(
        "proctime_join_on_datagen",
        "payments",
        lambda t: t.replace(
            "'connector' = 'jdbc',\n    'lookup.cache' = 'PARTIAL',\n    'lookup.partial-cache.max-rows' = '200000'",
            "'connector' = 'datagen',\n    'lookup.cache' = 'PARTIAL',\n    'lookup.partial-cache.max-rows' = '200000'",
            1,
        ),
        "perf.lookup_on_non_lookup_table",
        "performance",
    ),
    Broken(
        "regular_join_on_stream",
        "orders",
        _replace(
            "LEFT JOIN `dim_city` FOR SYSTEM_TIME AS OF `ev`.`proc_time` AS `dim2`",
            "LEFT JOIN `dim_city` AS `dim2`",
        ),
        "perf.unbounded_regular_join",
        "performance",
    ),
    Broken(
        "repeated_json_parse",
        "orders",
        _replace(
            "JSON_VALUE(`payload`, '$.userId') AS `userId`",
            "COALESCE(JSON_VALUE(`payload`, '$.userId'), JSON_VALUE(`payload`, '$.orderId')) AS `userId`",
        ),
        "perf.repeated_json_parse",
        "performance",
    ),
    Broken(
        "missing_filter",
        "orders",
        _replace("    AND (`ev`.`orderStatus` IN (1, 2, 3))\n", ""),
        "compliance.filter_missing",
        "business_compliance",
    ),
    Broken(
        "missing_business_rule",
        "payments",
        _replace("    AND (`dim1`.`is_blacklisted` = FALSE)\n", ""),
        "compliance.rule_missing",
        "business_compliance",
    ),
    Broken(
        "dropped_join_condition",
        "orders",
        _replace(" AND (`dim1`.`shop_status` = 1)", ""),
        "compliance.join_condition_mismatch",
        "business_compliance",
    ),
    Broken(
        "join_type_changed",
        "payments",
        _replace("INNER JOIN `dim_merchant`", "LEFT JOIN `dim_merchant`"),
        "compliance.join_type_mismatch",
        "business_compliance",
    ),
    Broken(
        "event_filter_missing",
        "orders",
        _replace("    WHERE `domain` = 'orders' AND `type` = 'order_created'\n", ""),
        "compliance.event_filter_missing",
        "business_compliance",
    ),
    Broken(
        "join_missing",
        "user-activity",
        _replace(
            "LEFT JOIN `dim_user_profile` FOR SYSTEM_TIME AS OF `ev`.`proc_time` AS `dim1`\n    ON `dim1`.`user_id` = `ev`.`userId`\n",
            "",
        ),
        "compliance.join_missing",
        "business_compliance",
    ),
]


def test_every_example_plans_clean(
    runner: EngineRunner, examples: dict[str, tuple[RequestSpec, str]]
) -> None:
    """It accepts each generated example on the engine with no finding above Info."""
    for name, (spec, sql) in examples.items():
        report = _validate(runner, spec, sql)
        serious = [(f.code, f.message) for f in report.findings if f.severity != "info"]
        assert serious == [], name
        assert report.gate_passed and report.score >= 95, (name, report.score)


@pytest.mark.parametrize("case", BROKEN, ids=[b.id for b in BROKEN])
def test_broken_job_gets_the_specific_finding(
    case: Broken, runner: EngineRunner, examples: dict[str, tuple[RequestSpec, str]]
) -> None:
    """It reports the rule the mutation breaks, in that rule's dimension, and the strict gate fails."""
    spec, sql = examples[case.example]
    broken = case.mutate(sql)
    assert broken != sql
    report = _validate(runner, spec, broken)
    hits = [f for f in report.findings if f.code == case.code]
    assert hits, [(f.code, f.message) for f in report.findings]
    assert {f.dimension for f in hits} == {case.dimension}
    assert all(f.points_lost > 0 and f.suggestion for f in hits)
    dim = next(d for d in report.dimensions if d.name == case.dimension)
    assert dim.score < 100


def test_unmasked_phone_column_is_a_compliance_finding(runner: EngineRunner) -> None:
    """It flags a result column holding a phone number (by its Chinese comment) written unmasked."""

    def add_phone(text: str) -> str:
        text = text.replace(
            "    private String channel;            // 下单渠道: APP / MINI_PROGRAM / WEB\n",
            "    private String channel;            // 下单渠道: APP / MINI_PROGRAM / WEB\n"
            "    private String contact;            // 收货人手机号\n",
        )
        text = text.replace(
            "    `channel` STRING COMMENT '下单渠道',\n",
            "    `channel` STRING COMMENT '下单渠道',\n    `contact` STRING COMMENT '收货人手机号',\n",
        )
        return text.replace(
            '  channel: "payload.channel"\n', '  channel: "payload.channel"\n  contact: "payload.contact"\n'
        )

    spec = _spec("orders", add_phone)
    assert spec.result.column("contact") is not None
    sql = _sql(spec)
    report = _validate(runner, spec, sql)
    [hit] = [f for f in report.findings if f.code == "compliance.sensitive_unmasked"]
    assert hit.dimension == "business_compliance" and hit.name == "contact"
    masked = sql.replace("`ev`.`contact` AS `contact`", "SHA2(`ev`.`contact`, 256) AS `contact`")
    assert masked != sql
    assert not [
        f for f in _validate(runner, spec, masked).findings if f.code == "compliance.sensitive_unmasked"
    ]


def test_engine_error_is_positioned_on_the_script_line(
    runner: EngineRunner, examples: dict[str, tuple[RequestSpec, str]]
) -> None:
    """It names the line of the generated file where the engine found the unknown column."""
    spec, sql = examples["orders"]
    broken = sql.replace("COALESCE(`dim1`.`shop_name`", "COALESCE(`dim1`.`shop_nam`")
    report = _validate(runner, spec, broken)
    [hit] = [f for f in report.findings if f.code == "sql.engine_rejected"]
    expected_line = next(n for n, line in enumerate(broken.splitlines(), 1) if "shop_nam`," in line)
    assert hit.line == expected_line
    assert "shop_nam" in hit.message
