"""The compiler on the example requests and hostile ones: SQL text, determinism, choices."""

from __future__ import annotations

import os
import re

import pytest
from gen_support import EXAMPLES, GOLDEN

from services.flinksql.spec import RequestSpec
from services.generator.domain import CompileError, Profile, compile_job, resolve_target
from services.generator.domain.lower import json_path, secret_name
from services.generator.domain.profiles import TableProfile


def _compile(spec: RequestSpec, profile: Profile, target: str = "2.3") -> str:
    return compile_job(spec, target=target, profile=profile, revision=3, generator_version="0.1.0").sql


@pytest.mark.parametrize("name", EXAMPLES)
def test_sql_matches_golden_file(name: str, specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It produces exactly the reviewed SQL for each example (SW_UPDATE_GOLDEN=1 rewrites it)."""
    sql = _compile(specs[name], profile)
    golden = GOLDEN / f"{name}.sql"
    if os.environ.get("SW_UPDATE_GOLDEN") == "1":
        golden.write_text(sql, encoding="utf-8")
    assert sql == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", (*EXAMPLES, "hostile"))
def test_output_is_byte_identical_on_repeat(
    name: str, specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """It gives the same bytes for every file when the same spec is compiled twice."""
    a = compile_job(specs[name], profile=profile, revision=3, generator_version="0.1.0")
    b = compile_job(
        RequestSpec.model_validate_json(specs[name].to_json()),
        profile=profile,
        revision=3,
        generator_version="0.1.0",
    )
    assert a.files == b.files
    assert a.sql == a.files[a.paths.sql]


def test_header_records_provenance_without_timestamps(
    specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """It writes domain, revision, content hash, generator version and target, and no date."""
    spec = specs["orders"]
    header = "\n".join(line for line in _compile(spec, profile).splitlines()[:8])
    assert "request domain: orders" in header
    assert "request revision: 3" in header
    assert f"sha256:{spec.content_hash}" in header
    assert "streamwright-generator 0.1.0" in header and "target: Flink 2.3" in header
    assert not re.search(r"\d{4}-\d{2}-\d{2}", header)


def test_payload_fields_are_extracted_once_with_exact_meaning(
    specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """It reads each referenced payload field by one TRY_CAST(JSON_VALUE(...)) (plain for String)."""
    sql = _compile(specs["orders"], profile)
    assert sql.count("JSON_VALUE(`payload`, '$.orderAmount')") == 1  # referenced 3 times in the spec
    assert "TRY_CAST(JSON_VALUE(`payload`, '$.orderAmount') AS DECIMAL(38, 18)) AS `orderAmount`" in sql
    assert "JSON_VALUE(`payload`, '$.orderId') AS `orderId`" in sql
    assert "TRY_CAST(JSON_VALUE(`payload`, '$.orderId')" not in sql
    assert "TRY_PARSE_JSON" not in sql and "VARIANT" not in sql


def test_joins_filters_and_casts_follow_the_spec(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It emits lookups in block order with the ON-clause condition, WHERE predicates and CASTs."""
    sql = _compile(specs["orders"], profile)
    shop = sql.index("LEFT JOIN `dim_shop` FOR SYSTEM_TIME AS OF `ev`.`proc_time` AS `dim1`")
    city = sql.index("LEFT JOIN `dim_city` FOR SYSTEM_TIME AS OF `ev`.`proc_time` AS `dim2`")
    assert shop < city < sql.index("WHERE (`ev`.`orderId` IS NOT NULL)")
    assert "ON `dim1`.`shop_id` = `ev`.`shopId` AND (`dim1`.`shop_status` = 1)" in sql
    assert "ON `dim2`.`city_id` = `dim1`.`city_id`" in sql
    assert "CAST(TO_TIMESTAMP_LTZ(`ev`.`createdAt`, 3) AS TIMESTAMP(3)) AS `order_time`" in sql
    pay = _compile(specs["payments"], profile)
    assert "INNER JOIN `dim_merchant`" in pay
    assert "CAST(TO_TIMESTAMP_LTZ(`ev`.`paidAt`, 0) AS DATE) AS `pay_date`" in pay
    assert "AND (`dim1`.`is_blacklisted` = FALSE)" in pay


def test_settings_and_state_ttl(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It sets the time zone and NOT NULL drop, takes the TTL from the hints, defaults otherwise."""
    ua = _compile(specs["user-activity"], profile)
    assert "SET 'table.local-time-zone' = 'Asia/Shanghai';" in ua
    assert "SET 'table.exec.sink.not-null-enforcer' = 'DROP';" in ua
    assert "SET 'table.exec.state.ttl' = '2 d';" in ua  # "状态 TTL 设为 2 天"
    assert "GROUP BY DATE_FORMAT(TO_TIMESTAMP_LTZ(`ev`.`actionTime`, 3), 'yyyy-MM-dd')" in ua
    orders = _compile(specs["orders"], profile)
    assert "SET 'table.exec.state.ttl' = '1 d';" in orders  # upsert materialiser default


def test_on_conflict_per_job(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It deduplicates insert-only upserts, omits the clause when GROUP BY equals the key."""
    assert _compile(specs["orders"], profile).rstrip().endswith("ON CONFLICT DO DEDUPLICATE;")
    ua = specs["user-activity"]
    keyed = ua.model_copy(
        update={
            "result": ua.result.model_copy(update={"primary_key": ("stat_date", "user_id", "member_level")})
        }
    )
    job = compile_job(keyed, profile=profile, revision=1, generator_version="0.1.0")
    assert "ON CONFLICT" not in job.sql
    assert "upsert key equals" in job.ir.on_conflict_reason
    no_pk = specs["orders"].model_copy(
        update={"result": specs["orders"].result.model_copy(update={"primary_key": ()})}
    )
    job = compile_job(no_pk, profile=profile, revision=1, generator_version="0.1.0")
    assert "ON CONFLICT" not in job.sql and "table.exec.state.ttl" not in job.sql


@pytest.mark.parametrize("target", ["1.18", "1.20", "2.2", "vvr-8", "vvr-11"])
def test_older_targets_have_no_on_conflict(
    target: str, specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """It never emits ON CONFLICT or VARIANT functions for targets before 2.3, and uses 1.x keys."""
    for name in EXAMPLES:
        job = compile_job(specs[name], target=target, profile=profile, revision=1, generator_version="0.1.0")
        assert "ON CONFLICT" not in job.sql
        assert "TRY_PARSE_JSON" not in job.sql
        assert "SinkUpsertMaterializer" in job.ir.on_conflict_reason
    deploy = compile_job(
        specs["orders"], target=target, profile=profile, revision=1, generator_version="0.1.0"
    )
    text = deploy.files[deploy.paths.deployment]
    if resolve_target(target).flink < (2, 0):
        assert "state.checkpoints.dir:" in text and "execution.checkpointing.dir" not in text


def test_hostile_names_and_literals_are_quoted(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It backquotes reserved words, doubles quotes in literals, and keeps comments on one line."""
    sql = _compile(specs["hostile"], profile)
    assert "INSERT INTO `where` (`select`, `from`, `group`, `value`, `when`, `n`, `amt`)" in sql
    assert "LEFT JOIN `from` FOR SYSTEM_TIME AS OF `ev`.`proc_time_1` AS `dim1`" in sql
    assert "COALESCE(`dim1`.`order`, 'it''s \\ a \"miss\"') AS `from`" in sql
    assert "ELSE 'plain\\' END AS `value`" in sql
    assert "`proc_time_1` AS PROCTIME()" in sql  # a payload field named proc_time keeps its name
    assert "WHERE `domain` = 'hostile_x-1' AND `type` = 'evt.v1'" in sql
    for line in sql.splitlines():
        if line.startswith("--"):
            assert ";" not in line  # the job name's "; DROP TABLE x" stays harmless
    assert "DROP TABLE x" in sql.splitlines()[1]


def test_credentials_never_enter_artifacts(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It emits a secret reference for every JDBC password and drops a document's password."""
    spec = specs["payments"]
    dim = spec.dimensions[0]
    leaky_table = dim.table.model_copy(update={"options": {**dim.table.options, "password": "hunter2"}})
    leaky = spec.model_copy(
        update={"dimensions": (dim.model_copy(update={"table": leaky_table}), *spec.dimensions[1:])}
    )
    job = compile_job(leaky, profile=profile, revision=1, generator_version="0.1.0")
    for text in job.files.values():
        assert "hunter2" not in text
    passwords = re.findall(r"'password' = '([^']*)'", job.sql)
    assert len(passwords) == 3 and all(p.startswith("${secret:") for p in passwords)
    assert "'properties.sasl.jaas.config' = '${secret:sw-golden-kafka-jaas}'" in job.sql
    assert set(job.ir.secrets) >= {"sw-golden-kafka-jaas", "streamwright-jdbc-dim-user-account"}


def test_profile_overrides_jdbc_urls(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It replaces document JDBC URLs with the profile's default or per-table URL."""
    dev = profile.model_copy(
        update={
            "jdbc": profile.jdbc.model_copy(update={"default_url": "jdbc:postgresql://localhost:5432/sw"}),
            "tables": {"dim_city": TableProfile(options={"url": "jdbc:postgresql://city:5432/c"})},
        }
    )
    sql = _compile(specs["orders"], dev)
    assert "'url' = 'jdbc:postgresql://localhost:5432/sw'" in sql
    assert "'url' = 'jdbc:postgresql://city:5432/c'" in sql
    assert "mysql-trade.internal" not in sql


def test_helpers_escape_paths_and_names() -> None:
    """It builds JSON paths and secret names safely even for names the checker would refuse."""
    assert json_path("orderId") == "$.orderId"
    assert json_path("it's\\x") == "$['it\\'s\\\\x']"
    assert secret_name("sw", "dim_shop") == "sw-dim-shop"
    assert re.fullmatch(r"sw-dim-shop-[0-9a-f]{8}", secret_name("sw", "Dim_Shop"))


def test_invalid_domain_and_unknown_target_are_refused(
    specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """It refuses a domain outside its pattern (it becomes paths) and an unknown target."""
    spec = specs["orders"]
    bad = spec.model_copy(update={"job": spec.job.model_copy(update={"domain": "../../etc"})})
    with pytest.raises(CompileError):
        compile_job(bad, profile=profile, revision=1, generator_version="0.1.0")
    with pytest.raises(ValueError, match="unknown target"):
        compile_job(spec, target="3.0", profile=profile, revision=1, generator_version="0.1.0")
