"""Result-table sinks Flink 2.3 refuses at planning time are rejected by the check (check_sink.py)."""

from __future__ import annotations

import pytest

from services.ingest.domain.checks import check_document
from tests.unit.ingest.hostile_base import line_of, replaced

JDBC_SINK = (
    "    'connector' = 'jdbc',\n    'url' = 'jdbc:mysql://db:3306/dw',\n    'table-name' = 'dwd_order'"
)
PK = "    PRIMARY KEY (order_id) NOT ENFORCED\n"


def _sink(options: str, *, primary_key: bool = True) -> str:
    text = replaced(JDBC_SINK, options)
    if not primary_key:
        text = replaced("    note STRING,\n" + PK, "    note STRING\n", text)
    return text


def _kafka(fmt: str = "'format' = 'json'") -> str:
    return f"    'connector' = 'kafka',\n    'topic' = 'out',\n    'properties.bootstrap.servers' = 'k:9092',\n    {fmt}"


def _codes(text: str) -> list[str]:
    return [e.code for e in check_document(text).errors]


def test_kafka_sink_with_primary_key_is_rejected_at_the_key_line_with_the_fix() -> None:
    text = _sink(_kafka())
    result = check_document(text)
    assert not result.valid
    [error] = result.errors
    assert error.code == "ddl.sink_primary_key"
    assert error.line == line_of(text, "PRIMARY KEY (order_id)")
    assert "'kafka'" in error.message and "'json'" in error.message
    assert "upsert-kafka" in error.hint and "drop the PRIMARY KEY" in error.hint


@pytest.mark.parametrize("fmt", ["'value.format' = 'csv'", "'format' = 'avro'", "'format' = 'raw'"])
def test_kafka_sink_with_any_insert_only_format_and_a_key_is_rejected(fmt: str) -> None:
    assert _codes(_sink(_kafka(fmt))) == ["ddl.sink_primary_key"]


@pytest.mark.parametrize("fmt", ["'format' = 'debezium-json'", "'value.format' = 'canal-json'"])
def test_kafka_sink_with_a_changelog_format_may_hold_a_key(fmt: str) -> None:
    assert check_document(_sink(_kafka(fmt))).valid


def test_kafka_sink_without_a_key_is_accepted() -> None:
    assert check_document(_sink(_kafka(), primary_key=False)).valid


@pytest.mark.parametrize(
    "options",
    [
        "    'connector' = 'print'",
        "    'connector' = 'blackhole'",
        "    'connector' = 'filesystem',\n    'path' = '/tmp/o',\n    'format' = 'json'",
    ],
)
def test_print_blackhole_and_filesystem_sinks_take_a_primary_key(options: str) -> None:
    assert check_document(_sink(options)).valid


def test_upsert_kafka_without_a_key_is_rejected_and_with_one_accepted() -> None:
    upsert = "    'connector' = 'upsert-kafka',\n    'topic' = 'out',\n    'properties.bootstrap.servers' = 'k:9092',\n    'key.format' = 'json',\n    'value.format' = 'json'"
    text = _sink(upsert, primary_key=False)
    [error] = check_document(text).errors
    assert error.code == "ddl.sink_primary_key"
    assert error.line == line_of(text, "'upsert-kafka'")
    assert check_document(_sink(upsert)).valid


AGGREGATE = '  amount: "CAST(SUM(payload.amount) AS DECIMAL(12, 2))"'


@pytest.mark.parametrize(
    "options",
    [_kafka(), "    'connector' = 'filesystem',\n    'path' = '/tmp/o',\n    'format' = 'csv'"],
)
def test_an_aggregating_job_into_an_append_only_sink_is_rejected(options: str) -> None:
    text = replaced(
        '  amount: "CAST(payload.amount AS DECIMAL(12, 2))"', AGGREGATE, _sink(options, primary_key=False)
    )
    [error] = check_document(text).errors
    assert error.code == "ddl.sink_append_only"
    connector = options.split("\n", maxsplit=1)[0].strip().rstrip(",")
    assert error.line == line_of(text, connector)
    assert "updates" in error.message


def test_an_aggregating_job_into_a_jdbc_sink_keyed_by_the_groups_is_accepted() -> None:
    text = replaced('  amount: "CAST(payload.amount AS DECIMAL(12, 2))"', AGGREGATE)
    assert "ddl.sink_append_only" not in _codes(text)


def test_an_aggregating_job_into_a_jdbc_sink_without_a_key_is_rejected() -> None:
    text = replaced(
        '  amount: "CAST(payload.amount AS DECIMAL(12, 2))"', AGGREGATE, _sink(JDBC_SINK, primary_key=False)
    )
    [error] = check_document(text).errors
    assert error.code == "ddl.sink_needs_key"
    assert error.line == line_of(text, "'connector' = 'jdbc'", after="CREATE TABLE dwd_order")


def test_a_datagen_result_table_is_rejected() -> None:
    text = _sink("    'connector' = 'datagen'")
    [error] = check_document(text).errors
    assert error.code == "ddl.sink_source_only"
