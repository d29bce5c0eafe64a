"""OpenLineage dataset names from connector options, run ids as UUIDs, and the run START event.

The expected names are built with openlineage-python's own naming helpers
(`openlineage.client.naming.dataset`, the spec's dataset naming in code) where it has one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from openlineage.client.naming import dataset as naming

from services.flinksql.openlineage import (
    NAME_ONLY_NAMESPACE,
    DatasetName,
    dataset_names,
    event_time,
    run_start_event,
    run_uuid,
    ulid_time,
)


def official(helper: naming.DatasetNaming) -> DatasetName:
    return DatasetName(helper.get_namespace(), helper.get_name())


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"connector": "kafka", "topic": "orders", "properties.bootstrap.servers": "B2:9092,b1:9092"},
            [official(naming.Kafka(bootstrap_server_host="b1", port="9092", topic="orders"))],
        ),
        (
            {"connector": "upsert-kafka", "topic": "orders", "properties.bootstrap.servers": "SASL_SSL://b1"},
            [official(naming.Kafka(bootstrap_server_host="b1", port="9092", topic="orders"))],
        ),
        (
            {
                "connector": "jdbc",
                "url": "jdbc:mysql://Db-1:3306/trade?useSSL=true",
                "table-name": "Dim_Shop",
            },
            [official(naming.MySQL(host="db-1", port="3306", database="trade", table="dim_shop"))],
        ),
        (
            {
                "connector": "jdbc",
                "url": "jdbc:postgresql://pg:5432/dw?currentSchema=ods",
                "table-name": "orders",
            },
            [official(naming.Postgres(host="pg", port="5432", database="dw", schema="ods", table="orders"))],
        ),
        (
            {"connector": "jdbc", "url": "jdbc:oracle:thin:@//ora:1521/SVC", "table-name": "HR.EMP"},
            [official(naming.Oracle(host="ora", port="1521", service_name="SVC", schema="HR", table="EMP"))],
        ),
        (
            {"connector": "filesystem", "path": "s3a://lake/ods/orders/"},
            [official(naming.S3(bucket_name="lake", object_key="ods/orders"))],
        ),
        (
            {"connector": "filesystem", "path": "hdfs://nn:8020/warehouse/orders"},
            [official(naming.HDFS(namenode_host="nn", namenode_port="8020", path="/warehouse/orders"))],
        ),
        (
            {"connector": "filesystem", "path": "/data/orders"},
            [official(naming.LocalFileSystem(path="/data/orders"))],
        ),
    ],
    ids=["kafka", "upsert-kafka-listener", "mysql", "postgres-schema", "oracle", "s3a", "hdfs", "local"],
)
def test_dataset_names_follow_the_openlineage_naming_spec(
    options: dict[str, str], expected: list[DatasetName]
) -> None:
    """It names each system's dataset as openlineage-python's naming helpers do."""
    assert dataset_names(options, "t") == expected


def test_other_systems_and_topic_lists() -> None:
    """SQL Server is mssql, a Kafka topic list is one dataset per topic, an unnamed endpoint is the
    scheme alone."""
    sqlserver = {"connector": "jdbc", "url": "jdbc:sqlserver://ms:1433;databaseName=Sales", "table-name": "t"}
    assert dataset_names(sqlserver, "t") == [DatasetName("mssql://ms:1433", "sales.dbo.t")]
    kafka = {"connector": "kafka", "topic": "b;a", "properties.bootstrap.servers": "k:9092"}
    assert dataset_names(kafka, "t") == [
        DatasetName("kafka://k:9092", "a"),
        DatasetName("kafka://k:9092", "b"),
    ]
    odps = {"connector": "odps", "project": "trade_dw", "tableName": "dwd_order_wide"}
    assert dataset_names(odps, "t") == [DatasetName("odps", "trade_dw.dwd_order_wide")]


@pytest.mark.parametrize(
    "options",
    [
        {"connector": "datagen"},
        {"connector": "jdbc", "url": "${secret:trade-url}", "table-name": "dim_shop"},
        {"connector": "kafka", "properties.bootstrap.servers": "k:9092"},  # no topic
    ],
    ids=["datagen", "url-behind-a-secret", "no-topic"],
)
def test_a_table_without_physical_identity_is_known_by_name(options: dict[str, str]) -> None:
    """It falls back to `streamwright` / the table name (the knowledge base's name-only rule)."""
    assert dataset_names(options, "dim_shop") == [DatasetName(NAME_ONLY_NAMESPACE, "dim_shop")]


def test_credentials_never_reach_a_dataset_name() -> None:
    """User info and password parameters in a URL are not part of the namespace or the name."""
    options = {
        "connector": "jdbc",
        "url": "jdbc:mysql://admin:hunter2@db-1:3306/trade?user=admin&password=hunter2",
        "table-name": "dim_shop",
        "username": "admin",
        "password": "hunter2",
    }
    [name] = dataset_names(options, "dim_shop")
    assert name == DatasetName("mysql://db-1:3306", "trade.dim_shop")
    assert "hunter2" not in f"{name.namespace}{name.name}" and "admin" not in name.namespace


def test_a_ulid_run_id_is_the_same_128_bits_as_a_uuid() -> None:
    """It maps a ULID to the UUID of the same value (time first, so ids keep their order), and any
    other id to a stable name-based UUID."""
    assert run_uuid("00000000000000000000000001") == "00000000-0000-0000-0000-000000000001"
    assert run_uuid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ") == "ffffffff-ffff-ffff-ffff-ffffffffffff"
    earlier, later = run_uuid("01J0000000000000000000000Z"), run_uuid("01J1000000000000000000000A")
    assert earlier < later
    other = run_uuid("run-42")
    assert uuid.UUID(other).version == 5 and other == run_uuid("run-42") != run_uuid("run-43")
    assert ulid_time("01ARZ3NDEKTSV4RRFFQ69G5FAV") == datetime(2016, 7, 30, 23, 54, 10, 259000, tzinfo=UTC)
    assert ulid_time("run-42") is None


def test_run_start_event_reuses_the_static_lineage() -> None:
    """START carries the JobEvent's job, inputs and outputs, the run's UUID and the start time; a
    document that is not a JobEvent is refused."""
    static = {
        "eventTime": "1970-01-01T00:00:00.000Z",
        "job": {"namespace": "streamwright", "name": "orders"},
        "inputs": [{"namespace": "kafka://k:9092", "name": "events"}],
        "outputs": [{"namespace": "odps", "name": "dw.t"}],
    }
    at = datetime(2026, 5, 1, 8, 30, 0, 123456, tzinfo=UTC)
    start = run_start_event(static, run_id="01ARZ3NDEKTSV4RRFFQ69G5FAV", at=at, producer="urn:x")
    assert start["eventType"] == "START" and start["eventTime"] == "2026-05-01T08:30:00.123Z"
    assert start["run"]["runId"] == str(uuid.UUID(run_uuid("01ARZ3NDEKTSV4RRFFQ69G5FAV")))
    assert (start["job"], start["inputs"], start["outputs"]) == (
        static["job"],
        static["inputs"],
        static["outputs"],
    )
    assert start["schemaURL"].endswith("OpenLineage.json#/$defs/RunEvent")
    with pytest.raises(ValueError, match="no OpenLineage job"):
        run_start_event({"inputs": []}, run_id="r", at=at, producer="urn:x")
    assert event_time(datetime(2026, 5, 1, 10, 0)) == "2026-05-01T10:00:00.000Z"  # naive: UTC
