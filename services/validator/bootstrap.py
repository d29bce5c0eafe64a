"""The only place that wires the validator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from services.mesh.events import RequestAccepted, RunCompleted, SqlGenerated
from services.mesh.logging import get_logger
from services.mesh.rpc.streamwright.v1 import validator_pb2_grpc
from services.mesh.service import ServiceContext, ServiceParts
from services.validator.adapters.artifacts_fs import FsArtifacts
from services.validator.adapters.engine_runner import EngineRunner
from services.validator.adapters.knowledge_client import KnowledgeClient
from services.validator.adapters.peers_client import Peers
from services.validator.adapters.report_store import StoreReportRepository
from services.validator.domain.rules import RuleConfig
from services.validator.entrypoints.grpc_api import SERVICE_NAME, ValidatorApi
from services.validator.handlers import ValidationUseCase, ValidatorHandlers
from services.validator.settings import ValidatorSettings

log = get_logger(__name__)


def load_rule_config(path: Path | None) -> RuleConfig:
    """The rules configuration file (YAML), or the defaults; a bad file fails fast."""
    if path is None:
        return RuleConfig.default()
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    return RuleConfig.from_mapping(data or {})


def build(ctx: ServiceContext, validator_settings: ValidatorSettings | None = None) -> ServiceParts:
    """Wire the validator; `validator_settings` defaults to the environment (tests pass their own)."""
    settings = validator_settings or ValidatorSettings()
    rule_config = load_rule_config(settings.validator_rules_path)
    engine = EngineRunner(settings.validator_jar_dir, use_postgres=settings.validator_use_postgres)
    knowledge = KnowledgeClient(
        ctx.settings,
        target=settings.validator_knowledge_target,
        timeout=settings.validator_knowledge_timeout_s,
        unavailable_wait_s=settings.validator_knowledge_wait_s,
    )
    use_case = ValidationUseCase(
        engine=engine,
        knowledge=knowledge,
        rule_config=rule_config,
        language=None if settings.validator_language == "auto" else settings.validator_language,
        run_cases=settings.validator_run_cases,
        run_edge_cases=settings.validator_run_edge_cases,
    )
    reports = StoreReportRepository(ctx.store, ctx.settings.service_dir("validator") / "reports")
    handlers = ValidatorHandlers(
        reports=reports,
        publisher=ctx.publisher,
        use_case=use_case,
        artifacts=FsArtifacts(),
        spec_wait_s=settings.validator_spec_wait_s,
    )
    ctx.subscribe(RequestAccepted, handlers.on_request_accepted)
    ctx.subscribe(SqlGenerated, handlers.on_sql_generated)
    ctx.subscribe(RunCompleted, handlers.on_run_completed)
    api = ValidatorApi(reports, use_case, Peers(ctx.settings))
    warming: list[asyncio.Task[dict[str, float]]] = []
    if settings.validator_warm_on_start:
        warming.append(asyncio.get_running_loop().create_task(asyncio.to_thread(engine.warm)))

    async def close() -> None:
        for task in warming:
            if not task.done():
                await asyncio.wait([task], timeout=60)
        await asyncio.to_thread(engine.close)

    log.info("validator wired", rule_set=rule_config.version(), knowledge=knowledge.target)
    return ServiceParts(
        registrations=[(validator_pb2_grpc.add_ValidatorServiceServicer_to_server, api)],
        service_names=[SERVICE_NAME],
        on_close=close,
    )
