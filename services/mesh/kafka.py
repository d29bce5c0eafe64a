"""Kafka edge of every service: its clients (producer, consumers), topic provisioning, the Publisher.

Producers are idempotent with acks=all; consumers (see consumer.py) commit by hand after
the outcome is stored, and a new group starts at `earliest` (Tansu's high watermark is
wrong when one batch holds several records, so `latest` could skip records).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from services.mesh.events import ALL_TOPICS, dlq_topic
from services.mesh.metrics import MeshMetrics, default_metrics
from services.mesh.parking import Parking
from services.mesh.settings import MeshSettings
from services.mesh.topic_consumer import KAFKA_LOG, TopicConsumer
from services.mesh.tracing import (
    TRACEPARENT,
    AttributeValue,
    ServiceTracing,
    SpanKind,
    envelope_attributes,
    inject,
    publish_parent,
)

if TYPE_CHECKING:
    from services.mesh.avro import EventCodec
    from services.mesh.events import Event
    from services.mesh.wakeup import WakeupBus

HEADER_EVENT_TYPE = "event_type"
HEADER_EVENT_ID = "event_id"


def client_config(settings: MeshSettings) -> dict[str, str]:
    """librdkafka settings every client shares: bootstrap servers and security."""
    config: dict[str, str] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.security_protocol.lower(),
    }
    if settings.sasl_mechanism is not None:
        config["sasl.mechanism"] = settings.sasl_mechanism
    if settings.sasl_username is not None:
        config["sasl.username"] = settings.sasl_username
    if settings.sasl_password is not None:
        config["sasl.password"] = settings.sasl_password.get_secret_value()
    for key, path in (
        ("ssl.ca.location", settings.ssl_ca_location),
        ("ssl.certificate.location", settings.ssl_certificate_location),
        ("ssl.key.location", settings.ssl_key_location),
    ):
        if path is not None:
            config[key] = str(path)
    return config


class KafkaClients:
    """A service's Kafka clients: one idempotent producer, and one TopicConsumer per subscription.

    Register consumers with `consumer()` before `start()`. With `wakeup`, consumers park while
    idle and wake on its hints (services/mesh/parking.py), so an awake one can fetch with the
    short `fetch_wakeup_wait_ms`.
    """

    def __init__(self, settings: MeshSettings, *, client_id: str, wakeup: WakeupBus | None = None) -> None:
        self.settings = settings
        self.client_id = client_id
        self.wakeup = wakeup
        self.consumers: list[TopicConsumer] = []
        self._producer: Producer | None = None
        self._poller: threading.Thread | None = None
        self._running = False

    def consumer(
        self, topic: str, *, group_id: str, on_record: Callable[[Message], Awaitable[None]]
    ) -> TopicConsumer:
        parking = Parking(probe_s=self.settings.fetch_wakeup_probe_ms / 1000) if self.wakeup else None
        consumer = TopicConsumer(
            topic,
            consumer_config(
                self.settings, client_id=self.client_id, group_id=group_id, parking=parking is not None
            ),
            on_record,
            parking=parking,
            wakeup=self.wakeup,
        )
        self.consumers.append(consumer)
        return consumer

    async def start(self) -> None:
        """Connect the producer and subscribe every registered consumer."""
        self._producer = Producer(producer_config(self.settings, client_id=self.client_id), logger=KAFKA_LOG)
        self._running = True
        # Delivery reports (and librdkafka's logs) are served by poll(); poll returns as soon as
        # one is there, so an acknowledgement reaches its publisher without waiting out the 0.1 s.
        self._poller = threading.Thread(target=self._serve_deliveries, name="kafka:producer", daemon=True)
        self._poller.start()
        await asyncio.gather(*(c.start() for c in self.consumers))

    def _serve_deliveries(self) -> None:
        producer = self._producer
        while self._running and producer is not None:
            producer.poll(0.1)

    async def produce(
        self, topic: str, value: bytes, *, key: bytes | None, headers: Mapping[str, str]
    ) -> None:
        """Send one record and wait until the broker acknowledged it (KafkaException if not)."""
        if self._producer is None or not self._running:
            raise RuntimeError("the Kafka producer is not started")
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[None] = loop.create_future()

        def delivered(error: KafkaError | None, _message: Message) -> None:
            # On the poller thread: hand the outcome to the event loop.
            loop.call_soon_threadsafe(_settle, acked, error)

        while True:
            try:
                self._producer.produce(
                    topic, value, key, headers=list(headers.items()), on_delivery=delivered
                )
                break
            except BufferError:  # the local queue is full: wait for deliveries to drain it
                await asyncio.sleep(0.01)
        await acked

    async def stop(self) -> None:
        """Close every consumer (leaving its group), then flush and stop the producer."""
        await asyncio.gather(*(c.close() for c in self.consumers))
        if self._producer is not None:
            producer = self._producer
            await asyncio.to_thread(producer.flush, 10.0)
            self._running = False
            if self._poller is not None:
                await asyncio.to_thread(self._poller.join, 1.0)
            self._producer = None


def _settle(acked: asyncio.Future[None], error: KafkaError | None) -> None:
    if acked.done():
        return
    if error is None:
        acked.set_result(None)
    else:
        acked.set_exception(KafkaException(error))


def producer_config(settings: MeshSettings, *, client_id: str) -> dict[str, Any]:
    """Idempotent, acks=all; topics are provisioned explicitly, so a typo must not create one."""
    return {
        **client_config(settings),
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": settings.linger_ms,
        "allow.auto.create.topics": False,
    }


def consumer_config(
    settings: MeshSettings, *, client_id: str, group_id: str, parking: bool = False
) -> dict[str, Any]:
    """Consumer settings of every mesh subscription.

    Offsets are committed by hand (consumer.MeshSubscription) after each record's outcome is
    stored; a new group starts at `earliest` (Tansu's high watermark can be wrong, so
    `latest` could skip records). `parking`: consumers park while idle, so an awake one can
    fetch with the short `fetch_wakeup_wait_ms`.
    """
    return {
        **client_config(settings),
        "client.id": client_id,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": settings.fetch_wakeup_wait_ms if parking else settings.fetch_wait_max_ms,
        "session.timeout.ms": settings.session_timeout_ms,
        "heartbeat.interval.ms": max(100, settings.session_timeout_ms // 3),
        "partition.assignment.strategy": "roundrobin",
        # New partitions and topics are seen within a second, as the mesh's topics are made at start.
        "topic.metadata.refresh.interval.ms": 1000,
        "allow.auto.create.topics": False,
    }


def topic_name(settings: MeshSettings, topic: str) -> str:
    """The name of a mesh topic on the cluster (settings.topic_prefix + topic)."""
    return settings.topic_prefix + topic


def mesh_topics(settings: MeshSettings, topics: Iterable[str] | None = None) -> list[str]:
    """The given topics (default: every event topic) and their dead-letter topics, prefixed."""
    base = [topic_name(settings, t) for t in (sorted(ALL_TOPICS) if topics is None else topics)]
    return sorted({*base, *(dlq_topic(t) for t in base if not t.endswith(".dlq"))})


def provision_topics(
    settings: MeshSettings, topics: Iterable[str] | None = None, *, timeout: float = 15.0
) -> list[str]:
    """Create the topics (and their .dlq topics) that do not exist yet; returns those created.

    `topics` are unprefixed names (default: every event topic). Idempotent: an existing topic
    is left as it is, whatever its partition count.
    """
    admin = AdminClient(client_config(settings))
    wanted = mesh_topics(settings, topics)
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [t for t in wanted if t not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(t, settings.topic_partitions, settings.topic_replication) for t in missing],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    created = []
    for topic, future in futures.items():
        try:
            future.result(timeout=timeout)
            created.append(topic)
        except KafkaException as error:
            if error.args[0].name() != "TOPIC_ALREADY_EXISTS":  # a concurrent provisioner won
                raise
    return sorted(created)


async def aprovision_topics(settings: MeshSettings, topics: Iterable[str] | None = None) -> list[str]:
    return await asyncio.to_thread(provision_topics, settings, topics)


class Publisher:
    """Publishes mesh events: Avro-encoded, key = envelope.domain, awaited until acknowledged.

    With tracing on, each publish is a `send <event type>` span whose W3C trace context goes in
    the record's headers (`traceparent`, `tracestate`) and in the envelope's `traceparent`, so
    the consumer's span is its child (tracing.py). With `wakeup`, every acknowledged record is
    followed by a wake-up hint for its topic to the installation's parked consumers
    (services/mesh/wakeup.py).
    """

    def __init__(
        self,
        kafka: KafkaClients,
        codec: EventCodec,
        *,
        service: str,
        topic_prefix: str = "",
        metrics: MeshMetrics | None = None,
        tracing: ServiceTracing | None = None,
        wakeup: WakeupBus | None = None,
    ) -> None:
        self._wakeup = wakeup
        self._tracing = tracing or ServiceTracing.disabled(service)
        self._kafka = kafka
        self._prefix = topic_prefix
        self._codec = codec
        self._service = service
        self._metrics = metrics or default_metrics()

    async def publish(self, event: Event) -> None:
        if not self._tracing.enabled:
            await self._publish(event, {})
            return
        envelope = event.envelope
        topic = self._prefix + event.TOPIC
        parent, links = publish_parent(envelope.traceparent)
        attributes: dict[str, AttributeValue] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.destination.name": topic,
            "messaging.kafka.message.key": envelope.domain,
            **envelope_attributes(envelope),
        }
        with self._tracing.span(
            f"send {envelope.event_type}",
            kind=SpanKind.PRODUCER,
            context=parent,
            links=links,
            attributes=attributes,
        ):
            trace_headers: dict[str, str] = {}
            inject(trace_headers)  # this send's context: the next hop's parent
            traceparent = trace_headers.get(TRACEPARENT)
            if traceparent is not None and traceparent != envelope.traceparent:
                traced = envelope.model_copy(update={"traceparent": traceparent})
                event = event.model_copy(update={"envelope": traced})
            await self._publish(event, trace_headers)

    async def _publish(self, event: Event, trace_headers: Mapping[str, str]) -> None:
        envelope = event.envelope
        await self.publish_raw(
            self._prefix + event.TOPIC,
            self._codec.encode(event),
            key=envelope.domain.encode(),
            headers={
                HEADER_EVENT_TYPE: envelope.event_type,
                HEADER_EVENT_ID: envelope.event_id,
                **trace_headers,
            },
            event_type=envelope.event_type,
        )

    async def publish_raw(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None,
        headers: Mapping[str, str],
        event_type: str = "unknown",
    ) -> None:
        """Publish bytes as they are (dead letters keep the original value and key)."""
        await self._kafka.produce(topic, value, key=key, headers=headers)
        self._metrics.produced.labels(self._service, topic, event_type).inc()
        if self._wakeup is not None:
            self._wakeup.notify(topic)
