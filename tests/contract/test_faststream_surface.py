"""The FastStream surface the mesh runtime uses, public and private, checked on the installed
(locked) version: a FastStream upgrade that moves any of it fails here, naming the piece, instead
of in a running consumer. docs/runtime.md ("FastStream") says why the runtime reaches past the
public API and what replaces it; pyproject's floor (0.7.6) is the first version that has all of it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _parameters(function: object) -> set[str]:
    return set(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_the_locked_faststream_is_within_pyprojects_range() -> None:
    """The lock's FastStream satisfies pyproject's `faststream[confluent]` range, whose floor is
    0.7.6 (consumer topics as Topic objects) and whose cap is the next minor version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    [spec] = [Requirement(d) for d in project["dependencies"] if d.startswith("faststream")]
    lock = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
    locked = re.search(r"^faststream==(\S+)", lock, flags=re.MULTILINE)
    assert locked and spec.specifier.contains(locked.group(1))
    assert version("faststream") == locked.group(1)
    assert str(spec.specifier) == "<0.8,>=0.7.6"
    assert "confluent" in spec.extras


def test_public_surface_broker_subscriber_and_acknowledgement() -> None:
    """kafka.create_broker's and consumer.subscribe's keywords, and AckPolicy.MANUAL."""
    from faststream import AckPolicy
    from faststream.confluent import KafkaBroker
    from faststream.middlewares import AckPolicy as MiddlewareAckPolicy

    assert AckPolicy.MANUAL is MiddlewareAckPolicy.MANUAL
    broker_kwargs = {"client_id", "enable_idempotence", "acks", "linger_ms", "allow_auto_create_topics"}
    broker_kwargs |= {"config", "graceful_timeout", "log_level", "apply_types"}
    assert broker_kwargs <= _parameters(KafkaBroker.__init__)
    subscriber_kwargs = {"group_id", "ack_policy", "decoder", "fetch_max_wait_ms", "session_timeout_ms"}
    subscriber_kwargs |= {"heartbeat_interval_ms", "auto_offset_reset", "polling_interval"}
    assert subscriber_kwargs <= _parameters(KafkaBroker.subscriber)
    assert {"key", "headers"} <= _parameters(KafkaBroker.publish)


def test_private_surface_the_consumer_client() -> None:
    """What consumer.MeshSubscription and parking.ParkingConsumer reach into: the client class,
    its confluent Consumer (`consumer`), its one-thread executor (`_thread_pool`), `topics` (Topic
    objects with a name since 0.7.6), getone's signature, check_msg_error and run_in_executor."""
    from faststream._internal.utils.functions import run_in_executor
    from faststream.confluent.helpers.client import AsyncConfluentConsumer, check_msg_error
    from faststream.confluent.message import KafkaMessage
    from faststream.confluent.schemas.topic import Topic

    assert {"topics", "config", "logger", "admin_service"} <= _parameters(AsyncConfluentConsumer.__init__)
    init = inspect.getsource(AsyncConfluentConsumer.__init__)
    for attribute in ("self.consumer = ", "self._thread_pool = ", "self.topics = "):
        assert attribute in init, attribute
    assert "ThreadPoolExecutor(max_workers=1)" in init  # one thread: poll and commits in order
    assert list(inspect.signature(AsyncConfluentConsumer.getone).parameters) == ["self", "timeout"]
    assert {"stop"} <= set(dir(AsyncConfluentConsumer))
    assert Topic(name="t").name == "t"
    assert callable(check_msg_error) and inspect.iscoroutinefunction(run_in_executor)
    assert "consumer" in _parameters(KafkaMessage.__init__)
    assert "self.consumer = consumer" in inspect.getsource(KafkaMessage.__init__)


def test_private_surface_the_consumer_factory() -> None:
    """parking.install swaps the broker's consumer factory: broker.config.broker_config.builder, a
    ConsumerBuilder dataclass of config, admin and logger."""
    from faststream.confluent import KafkaBroker
    from faststream.confluent.configs.broker import ConsumerBuilder

    assert [f.name for f in dataclasses.fields(ConsumerBuilder)] == ["config", "admin", "logger"]
    broker = KafkaBroker("localhost:1")
    assert isinstance(broker.config.broker_config.builder, ConsumerBuilder)
    subscriber = broker.subscriber("t", group_id="g")
    assert hasattr(subscriber, "consumer")  # MeshSubscription.kafka_consumer reads it
