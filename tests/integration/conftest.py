"""The real Tansu broker for the integration tests: one per session, on a free port.

Tests isolate themselves with a unique topic prefix and unique consumer groups
(`unique`), so they never see each other's records on the shared broker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from services.mesh.embedded_broker import EmbeddedBroker
from services.mesh.kafka import client_config
from services.mesh.settings import MeshSettings


def unique(prefix: str) -> str:
    """A name no other test uses (topic prefixes, groups, domains, run ids)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(tmp_path_factory.mktemp("broker")) as broker:
        yield broker


MeshSettingsFor = Callable[[str], MeshSettings]


@pytest.fixture
def mesh_settings_for(tmp_path: Path) -> MeshSettingsFor:
    """`for(bootstrap_servers)`: settings for one test on that broker (see `mesh_settings`)."""

    def settings_for(bootstrap_servers: str) -> MeshSettings:
        return MeshSettings(
            home=tmp_path,
            bootstrap_servers=bootstrap_servers,
            topic_prefix=unique("t") + ".",
            topic_partitions=2,
            session_timeout_ms=6000,
            fetch_wait_max_ms=5,
            handler_retries=2,
            retry_backoff_ms=20,
            grpc_port=0,
            metrics_port=0,
            log_format="console",
        )

    return settings_for


@pytest.fixture
def mesh_settings(kafka_broker: EmbeddedBroker, mesh_settings_for: MeshSettingsFor) -> MeshSettings:
    """Settings for one test: its own home, topic prefix, fast group joins and retries.

    tests/integration/containers overrides it to point at a real Apache Kafka instead of Tansu.
    """
    return mesh_settings_for(kafka_broker.bootstrap_servers)


def read_topic(settings: MeshSettings, topic: str, *, count: int, timeout: float = 20.0) -> list[Message]:
    """Read `count` records of `topic` from the beginning with a plain consumer (no group join)."""
    consumer = Consumer(
        {**client_config(settings), "group.id": unique("reader"), "enable.auto.commit": False}
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        found: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                found.append(message)
        return found
    finally:
        consumer.close()


TopicReader = Callable[..., list[Message]]


@pytest.fixture
def topic_reader() -> TopicReader:
    """`read_topic(settings, topic, count=n)`: the first n records of a topic."""
    return read_topic
