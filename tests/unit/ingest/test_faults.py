"""Table-driven faults: each one a small mutation of a valid document, with the exact error it gives."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.ingest.domain.checks import check_document

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
BASE = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")

JOB = "job_info"
MAP = "field_mapping"
JOINS = "join_relationships"
COND = "special_conditions"
PAYLOAD = "payload class"
RESULT = "result table"
DIM1 = "维表1: dim_shop"


@dataclass(frozen=True)
class Fault:
    id: str
    mutate: Callable[[str], str]
    block: str
    name: str | None
    fragment: str


def replace(old: str, new: str) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        assert old in text, f"mutation target not in base document: {old!r}"
        return text.replace(old, new, 1)

    return mutate


def append(block: str) -> Callable[[str], str]:
    return lambda text: text + "\n" + block + "\n"


def insert_after(anchor: str, extra: str) -> Callable[[str], str]:
    return replace(anchor, anchor + extra)


def swap_join_entries(text: str) -> str:
    match = re.search(r"(  order_to_shop:\n.*?\n\n)(  shop_to_city:\n.*?\n)```", text, re.S)
    assert match is not None
    return (
        text[: match.start()]
        + match.group(2)
        + "\n"
        + match.group(1).rstrip("\n")
        + "\n```"
        + text[match.end() :]
    )


SECOND_CITY_JOIN = """
  shop_to_city_again:
    source_table: "dim_shop"
    source_field: "city_id"
    target_table: "dim_city"
    target_field: "city_id"
    join_type: "LEFT JOIN"
    description: "joined twice without alias"
"""

FAULTS = [
    # parts
    Fault("missing_job_info", replace("job_info:\n", "job_data:\n"), JOB, JOB, "missing"),
    Fault(
        "duplicate_field_mapping",
        append('```yaml\nfield_mapping:\n  order_id: "payload.orderId"\n```'),
        MAP,
        MAP,
        "duplicated",
    ),
    Fault("missing_payload_class", replace("```java", "```text"), PAYLOAD, PAYLOAD, "missing"),
    Fault(
        "duplicate_payload_class",
        append("```java\npublic class X { private String a; }\n```"),
        PAYLOAD,
        PAYLOAD,
        "duplicated",
    ),
    Fault("missing_result_table", replace("## 🎯 结果表配置", "## 🎯 输出"), RESULT, RESULT, "missing"),
    Fault(
        "missing_joins_with_dimensions", replace("join_relationships:\n", "joins:\n"), JOINS, JOINS, "missing"
    ),
    Fault(
        "several_top_level_keys",
        replace('  time_zone: "Asia/Shanghai"\n', '  time_zone: "Asia/Shanghai"\nowner: "me"\n'),
        JOB,
        "job_info, owner",
        "exactly one",
    ),
    Fault("job_name_missing", replace('  name: "订单实时宽表"\n', ""), JOB, "name", "missing"),
    Fault("event_type_missing", replace('  event_type: "order_created"\n', ""), JOB, "event_type", "missing"),
    # names
    Fault(
        "domain_path_traversal",
        replace('domain: "orders"', 'domain: "../../etc"'),
        JOB,
        "../../etc",
        "does not match",
    ),
    Fault(
        "domain_upper_case", replace('domain: "orders"', 'domain: "Orders"'), JOB, "Orders", "does not match"
    ),
    Fault(
        "event_type_space",
        replace('event_type: "order_created"', 'event_type: "order created"'),
        JOB,
        "order created",
        "does not match",
    ),
    Fault(
        "event_type_quote",
        replace('event_type: "order_created"', 'event_type: "x\'y"'),
        JOB,
        "x'y",
        "does not match",
    ),
    Fault(
        "time_zone_invalid",
        replace('time_zone: "Asia/Shanghai"', 'time_zone: "Mars/Base"'),
        JOB,
        "Mars/Base",
        "IANA",
    ),
    Fault(
        "time_zone_path",
        replace('time_zone: "Asia/Shanghai"', 'time_zone: "../../etc/passwd"'),
        JOB,
        "../../etc/passwd",
        "IANA",
    ),
    Fault(
        "mapping_key_invalid_identifier",
        insert_after("field_mapping:\n", '  "order id": "payload.orderId"\n'),
        MAP,
        "order id",
        "identifier",
    ),
    Fault(
        "payload_field_invalid_identifier",
        replace("private String channel;", "private String chan$nel;"),
        PAYLOAD,
        "chan$nel",
        "identifier",
    ),
    Fault(
        "alias_invalid_identifier",
        insert_after('    target_table: "dim_shop"\n', '    alias: "shop-1"\n'),
        JOINS,
        "shop-1",
        "identifier",
    ),
    # DDL
    Fault(
        "ddl_unknown_type",
        replace("`shop_status` INT COMMENT", "`shop_status` INTEGRAL COMMENT"),
        DIM1,
        "shop_status",
        "CREATE TABLE",
    ),
    Fault(
        "ddl_duplicate_column",
        insert_after("    `channel` STRING COMMENT '下单渠道',\n", "    `channel` STRING,\n"),
        RESULT,
        "channel",
        "duplicate",
    ),
    Fault(
        "ddl_backquoted_bad_name",
        replace("`shop_name` STRING COMMENT '店铺名称'", "`shop name` STRING COMMENT '店铺名称'"),
        DIM1,
        "shop name",
        "CREATE TABLE",
    ),
    Fault(
        "dimension_heading_mismatch",
        replace("### 维表1: dim_shop", "### 维表1: dim_store"),
        "维表1: dim_store",
        "dim_store",
        "heading",
    ),
    Fault(
        "result_heading_mismatch",
        replace("### 表名: dwd_order_wide", "### 表名: dwd_order"),
        RESULT,
        "dwd_order",
        "heading",
    ),
    Fault(
        "dimension_number_twice",
        replace("### 维表2: dim_city", "### 维表1: dim_city"),
        "维表1: dim_city",
        "dim1",
        "used twice",
    ),
    # payload class
    Fault(
        "payload_duplicate_field",
        insert_after(
            "    private String userId;             // 下单用户ID\n", "    private String userId;\n"
        ),
        PAYLOAD,
        "userId",
        "twice",
    ),
    Fault(
        "payload_no_fields",
        lambda t: re.sub(
            r"public class OrderPayload \{.*?\n\}", "public class OrderPayload {\n}", t, flags=re.S
        ),
        PAYLOAD,
        "OrderPayload",
        "no fields",
    ),
    # field_mapping
    Fault(
        "mapping_unknown_column",
        insert_after("field_mapping:\n", '  bogus_col: "payload.userId"\n'),
        MAP,
        "bogus_col",
        "not a column",
    ),
    Fault(
        "mapping_missing_column", replace('  channel: "payload.channel"\n', ""), MAP, "channel", "no mapping"
    ),
    Fault(
        "mapping_column_twice",
        insert_after('  channel: "payload.channel"\n', '  channel: "payload.channel"\n'),
        MAP,
        "channel",
        "duplicate",
    ),
    # references
    Fault(
        "unknown_payload_field",
        replace('user_id: "payload.userId"', 'user_id: "payload.user_id"'),
        MAP,
        "payload.user_id",
        "no field",
    ),
    Fault(
        "unsupported_payload_type",
        replace("private String channel;", "private List<String> channel;"),
        MAP,
        "payload.channel",
        "cannot be read",
    ),
    Fault(
        "unknown_alias", replace('"dim2.province_name"', '"dim9.province_name"'), MAP, "dim9", "unknown alias"
    ),
    Fault(
        "unknown_alias_column",
        replace('"dim2.province_name"', '"dim2.province"'),
        MAP,
        "dim2.province",
        "no column",
    ),
    Fault(
        "bare_column",
        replace('channel: "payload.channel"', 'channel: "channel"'),
        MAP,
        "channel",
        "bare column",
    ),
    # expressions
    Fault(
        "statement_semicolon",
        replace('user_id: "payload.userId"', 'user_id: "payload.userId; DROP TABLE x"'),
        MAP,
        "user_id",
        "scalar",
    ),
    Fault(
        "sql_comment",
        replace('user_id: "payload.userId"', 'user_id: "payload.userId -- note"'),
        MAP,
        "user_id",
        "comment",
    ),
    Fault(
        "subquery", replace('user_id: "payload.userId"', 'user_id: "(SELECT 1)"'), MAP, "SELECT", "subquery"
    ),
    Fault("unterminated_literal", replace("'未知店铺')", "'未知店铺)"), MAP, "shop_name", "unterminated"),
    Fault(
        "filter_not_boolean",
        replace('"payload.orderAmount >= 0"', '"payload.orderAmount + 1"'),
        COND,
        "data_filters[2]",
        "boolean",
    ),
    # joins
    Fault(
        "join_unknown_target",
        replace('target_table: "dim_city"', 'target_table: "dim_country"'),
        JOINS,
        "dim_country",
        "not a declared",
    ),
    Fault(
        "join_unknown_source",
        replace('source_table: "OrderPayload"', 'source_table: "Orders"'),
        JOINS,
        "Orders",
        "neither",
    ),
    Fault("join_source_not_yet_joined", swap_join_entries, JOINS, "dim_shop", "not joined before"),
    Fault(
        "join_source_field_missing",
        replace('source_field: "city_id"', 'source_field: "city_code"'),
        JOINS,
        "city_code",
        "not a column",
    ),
    Fault(
        "join_event_source_field_bare",
        replace('source_field: "payload.shopId"', 'source_field: "shopId"'),
        JOINS,
        "shopId",
        "payload.<field>",
    ),
    Fault(
        "join_target_field_missing",
        replace('target_field: "shop_id"', 'target_field: "shop_code"'),
        JOINS,
        "shop_code",
        "not a column",
    ),
    Fault(
        "join_type_invalid",
        replace('join_type: "LEFT JOIN"', 'join_type: "FULL OUTER JOIN"'),
        JOINS,
        "FULL OUTER JOIN",
        "LEFT JOIN or INNER JOIN",
    ),
    Fault(
        "join_duplicate_alias",
        insert_after('    target_table: "dim_city"\n', '    alias: "dim1"\n'),
        JOINS,
        "dim1",
        "earlier join",
    ),
    Fault(
        "join_alias_payload",
        insert_after('    target_table: "dim_shop"\n', '    alias: "payload"\n'),
        JOINS,
        "payload",
        "reserved",
    ),
    Fault(
        "join_alias_other_table",
        insert_after('    target_table: "dim_shop"\n', '    alias: "dim_city"\n'),
        JOINS,
        "dim_city",
        "reserved",
    ),
    Fault(
        "join_incompatible_keys",
        replace('target_field: "shop_id"', 'target_field: "shop_status"'),
        JOINS,
        "order_to_shop",
        "incompatible",
    ),
    Fault(
        "join_table_twice_without_alias",
        insert_after('    description: "店铺级联城市维表, 获取城市与省份"\n', SECOND_CITY_JOIN),
        JOINS,
        "dim_city",
        "alias",
    ),
    # aggregation
    Fault(
        "aggregate_in_filter",
        replace('"payload.orderAmount >= 0"', '"COUNT(*) > 1"'),
        COND,
        "data_filters[2]",
        "aggregates are not allowed",
    ),
    Fault(
        "aggregate_in_join_condition",
        replace('"dim1.shop_status = 1"', '"COUNT(*) > 0"'),
        JOINS,
        "order_to_shop",
        "aggregates are not allowed",
    ),
    Fault(
        "aggregate_mixed",
        replace(
            'item_count: "payload.itemCount"', 'item_count: "SUM(payload.itemCount) + payload.itemCount"'
        ),
        MAP,
        "item_count",
        "mixes",
    ),
    Fault(
        "aggregate_nested",
        replace('item_count: "payload.itemCount"', 'item_count: "SUM(MAX(payload.itemCount))"'),
        MAP,
        "item_count",
        "another aggregate",
    ),
    Fault(
        "aggregate_primary_key",
        replace('order_id: "payload.orderId"', 'order_id: "MAX(payload.orderId)"'),
        MAP,
        "order_id",
        "primary key",
    ),
    # result types
    Fault(
        "type_without_cast",
        replace('item_count: "payload.itemCount"', 'item_count: "TO_TIMESTAMP_LTZ(payload.createdAt, 3)"'),
        MAP,
        "item_count",
        "cannot be CAST",
    ),
    # YAML safety
    Fault(
        "yaml_anchor",
        replace('  author: "trade-data-team"', '  author: &who "trade-data-team"\n  owner: *who'),
        JOB,
        "who",
        "alias",
    ),
    Fault(
        "yaml_merge_key", replace('  author: "trade-data-team"', '  <<: {author: "x"}'), JOB, "<<", "alias"
    ),
    Fault(
        "yaml_tag",
        replace('  author: "trade-data-team"', "  author: !!python/object:os.system x"),
        JOB,
        "tag:yaml.org,2002:python/object:os.system",
        "tag",
    ),
    Fault("yaml_syntax", replace('  version: "3.0.0"', '  version: "3.0.0\n   bad: ['), JOB, None, "YAML"),
    Fault(
        "yaml_duplicate_key",
        replace('  version: "3.0.0"', '  version: "3.0.0"\n  version: "3.0.1"'),
        JOB,
        "version",
        "duplicate",
    ),
    Fault(
        "unterminated_fence",
        lambda t: t.replace("```mermaid", "~~~~mermaid"),
        "mermaid",
        None,
        "never closed",
    ),
    Fault(
        "placeholder_left",
        replace('author: "trade-data-team"', 'author: "<your_team>"'),
        "document",
        "<your_team>",
        "placeholder",
    ),
    Fault(
        "business_rule_without_condition",
        insert_after("special_conditions:\n", "  business_rules:\n    no_condition:\n      description: x\n"),
        COND,
        "no_condition",
        "condition",
    ),
]


def _errors(text: str) -> list[tuple[str, str | None, str]]:
    result = check_document(text)
    assert result.spec is None
    return [(e.block, e.name, e.message) for e in result.errors]


def test_base_document_is_valid() -> None:
    """It accepts the unmutated base document (so each fault below is the mutation's doing)."""
    result = check_document(BASE)
    assert result.errors == []
    assert result.spec is not None


def test_there_are_at_least_forty_distinct_faults() -> None:
    """It covers at least forty distinct faults, each with its own id."""
    assert len({f.id for f in FAULTS}) == len(FAULTS) >= 40


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_fault_is_reported_with_block_name_and_message(fault: Fault) -> None:
    """It rejects the mutated document with an error naming the block, the offending name and the fault."""
    errors = _errors(fault.mutate(BASE))
    matching = [e for e in errors if e[0] == fault.block and e[1] == fault.name and fault.fragment in e[2]]
    assert matching, f"expected ({fault.block!r}, {fault.name!r}, ~{fault.fragment!r}) in {errors}"


def test_every_error_has_a_line_and_a_hint() -> None:
    """It gives every error of a faulty document a 1-based line (when it has one) and a one-line hint."""
    for fault in FAULTS:
        for error in check_document(fault.mutate(BASE)).errors:
            assert error.hint and "\n" not in error.hint
            assert error.line is None or error.line >= 1


def test_all_errors_are_reported_at_once() -> None:
    """It reports every fault of a document with several faults in one check."""
    chosen = [
        "domain_path_traversal",
        "unknown_alias",
        "join_type_invalid",
        "mapping_missing_column",
        "payload_duplicate_field",
    ]
    text = BASE
    for fault in FAULTS:
        if fault.id in chosen:
            text = fault.mutate(text)
    errors = _errors(text)
    for fault in (f for f in FAULTS if f.id in chosen):
        assert any(e[0] == fault.block and e[1] == fault.name for e in errors), fault.id


def test_error_lines_point_at_the_offending_line() -> None:
    """It reports the document line of the offending YAML key."""
    text = replace('user_id: "payload.userId"', 'user_id: "payload.user_id"')(BASE)
    error = next(e for e in check_document(text).errors if e.name == "payload.user_id")
    assert error.line is not None
    assert 'user_id: "payload.user_id"' in text.splitlines()[error.line - 1]
