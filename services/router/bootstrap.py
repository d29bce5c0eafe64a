"""The only place that wires the router: config, repository, deployer, classifier, handlers, gRPC."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import yaml

from services.flinksql.openlineage import producer_uri
from services.mesh.events import EVENTS
from services.mesh.rpc.streamwright.v1 import router_pb2_grpc
from services.mesh.service import ServiceContext, ServiceParts
from services.mesh.settings import MeshSettings
from services.router.adapters.audit_log import JsonlAuditLog
from services.router.adapters.flink_rest import FlinkRest
from services.router.adapters.manifest import ManifestDeployer
from services.router.adapters.openlineage import NoLineage, OpenLineageEmitter
from services.router.adapters.report_fs import FsReportWriter
from services.router.adapters.run_metrics import RunMetrics
from services.router.adapters.runs_store import StoreRunRepository
from services.router.adapters.sql_gateway import SqlGatewayDeployer
from services.router.adapters.webhook import NoNotifier, WebhookNotifier
from services.router.domain.config import RouterConfig, config_from
from services.router.domain.decide import Classifier
from services.router.entrypoints.grpc_api import SERVICE_NAME, RouterApi
from services.router.handlers import RouterHandlers
from services.router.ports import Deployer, LineageEmitter, Notifier
from services.router.settings import RouterSettings
from services.version import package_version

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "gate.yaml"


def load_config(path: Path | None) -> RouterConfig:
    """The router config from `path` (or config/gate.yaml when present), else the built-in defaults."""
    chosen = path if path is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    if chosen is None:
        return RouterConfig()
    return config_from(yaml.safe_load(chosen.read_text(encoding="utf-8")))


def make_deployer(settings: RouterSettings) -> Deployer:
    rest = (
        FlinkRest(settings.flink_rest_url, timeout=settings.http_timeout_seconds)
        if settings.flink_rest_url
        else None
    )
    if settings.deployer == "sql-gateway":
        if not settings.sql_gateway_url:
            raise ValueError("deployer sql-gateway needs STREAMWRIGHT_ROUTER_SQL_GATEWAY_URL")
        return SqlGatewayDeployer(
            settings.sql_gateway_url,
            flink_rest=rest,
            timeout=settings.http_timeout_seconds,
            stable_seconds=settings.start_check_seconds,
            require_checkpoint=settings.require_checkpoint,
            savepoint_dir=settings.savepoint_dir,
            # Only SQL whose statement digest is the validated one is submitted.
        )
    if settings.deployer == "flink-session":
        from services.router.adapters.flink_session import FlinkSessionDeployer

        if rest is None or not settings.flink_rest_url:
            raise ValueError("deployer flink-session needs STREAMWRIGHT_ROUTER_FLINK_REST_URL")
        return FlinkSessionDeployer(
            settings.flink_rest_url,
            rest=rest,
            stable_seconds=settings.start_check_seconds,
            require_checkpoint=settings.require_checkpoint,
            savepoint_dir=settings.savepoint_dir,
            jars=settings.flink_jar_paths(),
        )
    return ManifestDeployer(settings.resolved_output_dir())


def make_classifier(settings: RouterSettings) -> Classifier | None:
    if not settings.llm_model:
        return None
    from services.router.adapters.llm_classifier import LiteLlmClassifier

    return LiteLlmClassifier(settings.llm_model, timeout=settings.llm_timeout_seconds)


def make_notifier(settings: RouterSettings, ctx: ServiceContext) -> WebhookNotifier | NoNotifier:
    if not settings.webhook_url:
        return NoNotifier()
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    return WebhookNotifier(
        settings.webhook_url,
        deadline=settings.webhook_timeout_seconds,
        secret=secret or None,
        registry=ctx.metrics.registry,
        service=ctx.service,
    )


def make_lineage(settings: RouterSettings, ctx: ServiceContext) -> OpenLineageEmitter | NoLineage:
    """The OpenLineage START emitter (STREAMWRIGHT_ROUTER_OPENLINEAGE_URL), else none."""
    if not settings.openlineage_url:
        return NoLineage()
    key = settings.openlineage_api_key.get_secret_value() if settings.openlineage_api_key else None
    return OpenLineageEmitter(
        settings.openlineage_url,
        api_key=key or None,
        deadline=settings.openlineage_timeout_seconds,
        registry=ctx.metrics.registry,
        service=ctx.service,
        producer=producer_uri("router", package_version()),
    )


def make_handlers(
    settings: RouterSettings,
    ctx: ServiceContext,
    notifier: Notifier | None = None,
    run_metrics: RunMetrics | None = None,
    lineage: LineageEmitter | None = None,
) -> RouterHandlers:
    if notifier is None:
        notifier = make_notifier(settings, ctx)
    return RouterHandlers(
        runs=StoreRunRepository(ctx.store),
        observer=run_metrics.observe if run_metrics is not None else None,
        publisher=ctx.publisher,
        config=load_config(settings.gate_config),
        deployer=make_deployer(settings),
        audit=JsonlAuditLog(settings.resolved_audit_log()),
        notifier=notifier,
        reports=FsReportWriter(settings.resolved_output_dir()),
        classifier=make_classifier(settings),
        llm_repair=settings.llm_repair,
        approvers=settings.approvers,
        lineage=lineage,
    )


def _router_settings(settings: MeshSettings) -> RouterSettings:
    if isinstance(settings, RouterSettings):
        return settings
    return RouterSettings(**settings.model_dump())


def build(ctx: ServiceContext) -> ServiceParts:
    settings = _router_settings(ctx.settings)
    notifier = make_notifier(settings, ctx)
    run_metrics = RunMetrics(ctx.metrics.registry, service=ctx.service)
    lineage = make_lineage(settings, ctx)
    handlers = make_handlers(settings, ctx, notifier, run_metrics, lineage)
    # ServiceContext gives each subscription its own consumer group (router.<topic>).
    for event_cls in EVENTS.values():
        ctx.subscribe(event_cls, handlers.on_event)
    loop = asyncio.get_running_loop()
    runs = StoreRunRepository(ctx.store)
    tasks = [
        loop.create_task(handlers.sweep_forever(settings.sweep_interval_seconds)),
        loop.create_task(
            run_metrics.refresh_forever(runs.open_run_states, settings.run_metrics_interval_seconds)
        ),
    ]

    async def close() -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        run_metrics.close()
        await notifier.aclose()
        await lineage.aclose()

    return ServiceParts(
        registrations=[(router_pb2_grpc.add_RouterServiceServicer_to_server, RouterApi(handlers))],
        service_names=[SERVICE_NAME],
        on_close=close,
    )
