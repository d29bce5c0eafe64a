"""The generic service process: store, topics, Kafka subscribers, gRPC (with health), metrics.

A service supplies a builder that subscribes its handlers and returns its gRPC servicers:

    def build(ctx: ServiceContext) -> ServiceParts:
        handlers = IngestHandlers(store=ctx.store, publisher=ctx.publisher)
        ctx.subscribe(RequestSubmitted, handlers.on_request_submitted)
        return ServiceParts(
            registrations=[(ingest_pb2_grpc.add_IngestServiceServicer_to_server, IngestApi(handlers))],
            service_names=["streamwright.v1.IngestService"],
        )

    def main() -> None:  # services/ingest/entrypoints/main.py
        run_service("ingest", build)

Start-up order: logging, tracing, store, topics, Kafka clients + subscribers, gRPC (NOT_SERVING),
metrics, then health SERVING once the consumers are subscribed. SIGTERM/SIGINT: health NOT_SERVING,
stop taking records, finish those in flight, commit, stop Kafka, stop gRPC, close the store.

Ports: gRPC and metrics come from STREAMWRIGHT_GRPC_PORT / STREAMWRIGHT_METRICS_PORT (0 =
any free port), else DEFAULT_PORTS. The supervisor sets both per child.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

import grpc

from services.mesh.avro import EventCodec, codec_from_settings
from services.mesh.consumer import Handler, MeshSubscription, subscribe
from services.mesh.events import Event
from services.mesh.grpc_server import Registration, create_server, set_serving, stop_server
from services.mesh.kafka import KafkaClients, Publisher, aprovision_topics
from services.mesh.logging import configure_logging, get_logger
from services.mesh.metrics import MeshMetrics, MetricsServer, default_metrics
from services.mesh.settings import MeshSettings, SettingsError, exit_invalid, settings_or_exit
from services.mesh.store import DocumentStore, open_store
from services.mesh.tracing import ServiceTracing
from services.mesh.wakeup import WakeupBus
from services.mesh.wakeup import available as wakeup_available

# service -> (gRPC port, metrics port)
DEFAULT_PORTS: dict[str, tuple[int, int]] = {
    "ingest": (50051, 9461),
    "generator": (50052, 9462),
    "validator": (50053, 9463),
    "knowledge": (50054, 9464),
    "router": (50055, 9465),
}
PARENT_PID_ENV = "STREAMWRIGHT_PARENT_PID"
E = TypeVar("E", bound=Event)

log = get_logger(__name__)


@dataclass
class ServiceContext:
    """What a service's builder gets: the runtime's adapters, and `subscribe`."""

    service: str
    settings: MeshSettings
    store: DocumentStore
    codec: EventCodec
    kafka: KafkaClients
    publisher: Publisher
    metrics: MeshMetrics
    subscriptions: list[MeshSubscription] = field(default_factory=list)
    tracing: ServiceTracing = field(default_factory=ServiceTracing.disabled)

    def subscribe(
        self,
        source: type[E] | str,
        handler: Callable[[E], Awaitable[None]],
        *,
        group_id: str | None = None,
    ) -> MeshSubscription:
        """Route `source` through `handler`.

        The consumer group defaults to `<service>.<topic>`: one group per subscription, so a
        member joining for one topic never rebalances the service's other subscriptions (on
        Tansu such rebalances stalled start-up). Replicas of a service share each group.
        With an event class, the runtime dead-letters records of any other type, so the
        handler only ever sees `E`.
        """
        topic = source if isinstance(source, str) else source.TOPIC
        subscription = subscribe(
            self.kafka,
            source,
            cast(Handler, handler),
            group_id=group_id or f"{self.service}.{topic}",
            service=self.service,
            store=self.store,
            codec=self.codec,
            publisher=self.publisher,
            settings=self.settings,
            metrics=self.metrics,
            tracing=self.tracing,
        )
        # Its counters exist at zero from now on (MeshMetrics.prime says why alerts need that).
        self.metrics.prime(
            self.service, subscription.topic, () if isinstance(source, str) else (source.EVENT_TYPE,)
        )
        self.subscriptions.append(subscription)
        return subscription


@dataclass
class ServiceParts:
    """What a service contributes besides its subscriptions."""

    registrations: Sequence[Registration] = ()
    service_names: Sequence[str] = ()
    on_close: Callable[[], Awaitable[None]] | None = None


Builder = Callable[[ServiceContext], ServiceParts | Awaitable[ServiceParts]]


def peer_target(service: str, settings: MeshSettings) -> str:
    """host:port of another service's gRPC server (settings.peers, else its default port)."""
    if service in settings.peers:
        return settings.peers[service]
    return f"{settings.grpc_host}:{DEFAULT_PORTS[service][0]}"


def service_ports(service: str, settings: MeshSettings) -> tuple[int, int]:
    grpc_default, metrics_default = DEFAULT_PORTS.get(service, (0, 0))
    grpc_port = grpc_default if settings.grpc_port is None else settings.grpc_port
    metrics_port = metrics_default if settings.metrics_port is None else settings.metrics_port
    return grpc_port, metrics_port


class ServiceRunner:
    """One service's runtime; `start()`/`stop()` for tests, `serve()` for a process.

    `tracing`: the service's tracer (tests pass one with an in-memory exporter); by default the
    runner makes one from the OTEL_* variables on start and shuts it down on stop.
    """

    def __init__(
        self,
        service: str,
        build: Builder,
        *,
        settings: MeshSettings,
        store: DocumentStore | None = None,
        codec: EventCodec | None = None,
        metrics: MeshMetrics | None = None,
        tracing: ServiceTracing | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self._build = build
        self._store = store
        self._codec = codec
        self._metrics = metrics or default_metrics()
        self._tracing = tracing
        self.tracing = tracing or ServiceTracing.disabled(service)
        self._grpc: grpc.aio.Server | None = None
        self._metrics_server: MetricsServer | None = None
        self._kafka: KafkaClients | None = None
        self._parts = ServiceParts()
        self._health_names: list[str] = [""]
        self.context: ServiceContext | None = None
        self.wakeup: WakeupBus | None = None
        self.grpc_port = 0
        self.metrics_port = 0

    async def start(self) -> None:
        settings = self.settings
        if self._tracing is None:
            self.tracing = ServiceTracing.from_environment(self.service)
        tracing = self.tracing
        store = self._store or open_store(settings, self.service)
        codec = self._codec or codec_from_settings(settings)
        await aprovision_topics(settings)
        self.wakeup = self._start_wakeup()
        self._kafka = kafka = KafkaClients(settings, client_id=self.service, wakeup=self.wakeup)
        publisher = Publisher(
            kafka,
            codec,
            service=self.service,
            topic_prefix=settings.topic_prefix,
            metrics=self._metrics,
            tracing=tracing,
            wakeup=self.wakeup,
        )
        self.context = ctx = ServiceContext(
            self.service, settings, store, codec, kafka, publisher, self._metrics, tracing=tracing
        )
        built = self._build(ctx)
        self._parts = await built if inspect.isawaitable(built) else built

        grpc_port, metrics_port = service_ports(self.service, settings)
        self._grpc, self.grpc_port = create_server(
            self._parts.registrations,
            settings=settings,
            port=grpc_port,
            service_names=self._parts.service_names,
            tracing=tracing,
        )
        self._health_names = ["", *self._parts.service_names]
        await self._set_health(serving=False)
        await self._grpc.start()
        self._metrics_server = MetricsServer(self._metrics, host=settings.metrics_host, port=metrics_port)
        self.metrics_port = self._metrics_server.port

        await kafka.start()  # connects the producer and subscribes every consumer
        await self._set_health(serving=True)
        log.info(
            "service started",
            grpc_port=self.grpc_port,
            metrics_port=self.metrics_port,
            subscriptions=[s.topic for s in ctx.subscriptions],
            grpc_auth=settings.grpc_auth,
            fetch_wakeup="on" if self.wakeup is not None else "off",
            tracing="on" if tracing.enabled else "off",
        )
        if settings.grpc_auth == "off":
            log.warning("gRPC auth is off (STREAMWRIGHT_GRPC_AUTH=off): every call is accepted unchecked")

    def _start_wakeup(self) -> WakeupBus | None:
        """The process's wake-up bus when settings.fetch_wakeup is on (and the platform has one)."""
        if self.settings.fetch_wakeup != "on":
            return None
        if not wakeup_available():
            log.warning("fetch wake-ups need Linux; consumers fetch every fetch_wait_max_ms instead")
            return None
        bus = WakeupBus(self.settings.home)
        bus.start()
        return bus

    async def _set_health(self, *, serving: bool) -> None:
        if self._grpc is not None:
            for name in self._health_names:
                await set_serving(self._grpc, name, serving)

    async def stop(self, grace: float = 10.0) -> None:
        await self._set_health(serving=False)
        if self.context is not None:
            await asyncio.gather(*(s.drain(grace=grace) for s in self.context.subscriptions))
        if self._kafka is not None:
            await self._kafka.stop()
            self._kafka = None
        if self.wakeup is not None:
            self.wakeup.close()
            self.wakeup = None
        if self._grpc is not None:
            await stop_server(self._grpc, grace=min(grace, 5.0))
            self._grpc = None
        if self._metrics_server is not None:
            self._metrics_server.close()
            self._metrics_server = None
        if self._parts.on_close is not None:
            await self._parts.on_close()
        if self.context is not None:
            await self.context.store.close()
            self.context = None
        # Spans still queued go out now (a bounded wait); a tracer the runner made is shut down.
        await asyncio.to_thread(self.tracing.flush if self._tracing is not None else self.tracing.shutdown)
        log.info("service stopped")

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        """Run until SIGTERM/SIGINT (or `stop`), or until the supervising parent is gone."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        watchdog = asyncio.create_task(_watch_parent(stop))
        try:
            await self.start()
            await stop.wait()
        finally:
            watchdog.cancel()
            await self.stop()


async def _watch_parent(stop: asyncio.Event) -> None:
    """Stop when the supervisor that started us is gone (no orphans after a kill -9)."""
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent or not parent.isdigit():
        return
    while not stop.is_set():
        if os.getppid() != int(parent):
            log.warning("supervisor is gone; stopping")
            stop.set()
            return
        await asyncio.sleep(1.0)


def run_service(service: str, build: Builder, settings: MeshSettings | None = None) -> None:
    """The `main()` of a service process.

    Mains load their settings class with `settings_or_exit` before anything starts: an invalid
    environment variable ends the process at once with exit code 2 and a line naming it (not a
    traceback, and not after connecting to Kafka).
    """
    settings = settings or settings_or_exit(MeshSettings, service)
    configure_logging(settings, service=service)
    try:
        tracing = ServiceTracing.from_environment(service)  # an OTEL_* setting it cannot honour exits 2
    except SettingsError as error:
        exit_invalid(service, error)
    tracing.install_global()
    runner = ServiceRunner(service, build, settings=settings, tracing=tracing)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(runner.serve())
    finally:
        tracing.shutdown()
