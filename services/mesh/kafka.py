"""Kafka edge of every service: the FastStream broker, topic provisioning and the Publisher.

Producers are idempotent with acks=all; consumers (see consumer.py) commit by hand after
the outcome is stored, and a new group starts at `earliest` (Tansu's high watermark is
wrong when one batch holds several records, so `latest` could skip records).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from faststream.confluent import KafkaBroker

from services.mesh.events import ALL_TOPICS, dlq_topic
from services.mesh.metrics import MeshMetrics, default_metrics
from services.mesh.parking import install as install_parking
from services.mesh.settings import MeshSettings
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


def _security_passthrough(settings: MeshSettings) -> dict[str, str]:
    return {k: v for k, v in client_config(settings).items() if k != "bootstrap.servers"}


def create_broker(settings: MeshSettings, *, client_id: str, wakeup: WakeupBus | None = None) -> KafkaBroker:
    """A FastStream confluent broker (not connected) configured from settings.

    With `wakeup`, its consumers park while idle and wake on its hints (services/mesh/parking.py).
    """
    broker = KafkaBroker(
        settings.bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.linger_ms,
        # Topics are provisioned explicitly (provision_topics); a typo must not create one.
        allow_auto_create_topics=False,
        config=_security_passthrough(settings),
        graceful_timeout=30.0,
        # FastStream's per-message access log ("Received"/"Processed") only at DEBUG: we log outcomes.
        log_level=logging.DEBUG,
        # Handlers get the raw message (consumer.py decodes Avro itself): no per-message
        # dependency injection or pydantic validation on the hot path.
        apply_types=False,
    )
    if wakeup is not None:
        install_parking(broker, wakeup=wakeup, probe_s=settings.fetch_wakeup_probe_ms / 1000)
    return broker


def subscriber_options(settings: MeshSettings, *, parking: bool = False) -> dict[str, Any]:
    """Consumer options of every mesh subscriber (FastStream `broker.subscriber` kwargs).

    `parking`: the broker's consumers park while idle (create_broker with a wake-up bus), so an
    awake one can fetch with the short `fetch_wakeup_wait_ms`.
    """
    wait = settings.fetch_wakeup_wait_ms if parking else settings.fetch_wait_max_ms
    return {
        "fetch_max_wait_ms": wait,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": max(100, settings.session_timeout_ms // 3),
        "auto_offset_reset": "earliest",
        "polling_interval": 0.05,
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
        broker: KafkaBroker,
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
        self._broker = broker
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
        await self._broker.publish(value, topic, key=key, headers=dict(headers))
        self._metrics.produced.labels(self._service, topic, event_type).inc()
        if self._wakeup is not None:
            self._wakeup.notify(topic)
