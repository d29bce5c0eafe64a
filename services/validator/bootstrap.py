"""The only place that wires the validator.

`build_validation` is the one composition of what scores a job (engine, knowledge client,
rule configuration, language, case switches), all from `ValidatorSettings`. The service
(`build`) and the workbench (`streamwright validate` / `streamwright test`) both call it, so
the CLI and the service score a job the same way; the one thing a caller chooses is how
knowledge is asked (`KnowledgeUse`), and that choice never changes a score's rules.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from services.mesh.events import RequestAccepted, RunCompleted, SqlGenerated
from services.mesh.logging import get_logger
from services.mesh.rpc.streamwright.v1 import validator_pb2_grpc
from services.mesh.service import ServiceContext, ServiceParts
from services.mesh.settings import MeshSettings
from services.validator.adapters.artifacts_fs import FsArtifacts
from services.validator.adapters.engine_runner import EngineRunner
from services.validator.adapters.knowledge_client import KnowledgeClient
from services.validator.adapters.peers_client import Peers
from services.validator.adapters.report_store import StoreReportRepository
from services.validator.adapters.score_metrics import ScoreMetrics
from services.validator.domain.rules import RuleConfig
from services.validator.entrypoints.grpc_api import SERVICE_NAME, ValidatorApi
from services.validator.handlers import ValidationUseCase, ValidatorHandlers
from services.validator.settings import ValidatorSettings

log = get_logger(__name__)

# How the knowledge service is asked; target and timeout always come from the settings.
# - "wait" (the service): while knowledge is unreachable (e.g. restarting) it is asked again
#   for up to `validator_knowledge_wait_s` before the score is marked provisional.
# - "once" (a one-off command: the workbench): asked once; unreachable = provisional at once.
#   No mesh may be running at all, and waiting for a knowledge service that is not there
#   would only delay the same provisional answer.
KnowledgeUse = Literal["wait", "once"]


def load_rule_config(path: Path | None) -> RuleConfig:
    """The rules configuration file (YAML), or the defaults; a bad file fails fast."""
    if path is None:
        return RuleConfig.default()
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    return RuleConfig.from_mapping(data or {})


@dataclass(frozen=True)
class Validation:
    """What scores a job: the use case and the adapters it is built on (its owner closes `engine`)."""

    use_case: ValidationUseCase
    engine: EngineRunner
    knowledge: KnowledgeClient
    rule_config: RuleConfig


def build_validation(
    settings: ValidatorSettings,
    *,
    mesh: MeshSettings | None = None,
    knowledge: KnowledgeUse = "wait",
) -> Validation:
    """The validation use case from `settings`: the one wiring the service and the workbench share.

    `mesh` is what the knowledge client connects with (peers, TLS, token); default: `settings`
    itself (a ValidatorSettings is a MeshSettings read from the same environment). A bad rules
    file raises here (OSError, RuleConfigError, ValueError). Nothing starts: the engine starts
    on its first job or on `engine.warm()`.
    """
    rule_config = load_rule_config(settings.validator_rules_path)
    engine = EngineRunner(settings.validator_jar_dir, use_postgres=settings.validator_use_postgres)
    client = KnowledgeClient(
        mesh or settings,
        target=settings.validator_knowledge_target,
        timeout=settings.validator_knowledge_timeout_s,
        unavailable_wait_s=settings.validator_knowledge_wait_s if knowledge == "wait" else 0.0,
    )
    use_case = ValidationUseCase(
        engine=engine,
        knowledge=client,
        rule_config=rule_config,
        language=None if settings.validator_language == "auto" else settings.validator_language,
        run_cases=settings.validator_run_cases,
        run_edge_cases=settings.validator_run_edge_cases,
        run_oracle=settings.validator_run_oracle,
    )
    return Validation(use_case=use_case, engine=engine, knowledge=client, rule_config=rule_config)


def build(ctx: ServiceContext, validator_settings: ValidatorSettings | None = None) -> ServiceParts:
    """Wire the validator; `validator_settings` defaults to the environment (tests pass their own)."""
    settings = validator_settings or ValidatorSettings()
    validation = build_validation(settings, mesh=ctx.settings, knowledge="wait")
    engine, use_case = validation.engine, validation.use_case
    reports = StoreReportRepository(ctx.store, ctx.settings.service_dir("validator") / "reports")
    peers = Peers(ctx.settings)
    handlers = ValidatorHandlers(
        reports=reports,
        publisher=ctx.publisher,
        use_case=use_case,
        artifacts=FsArtifacts(),
        spec_wait_s=settings.validator_spec_wait_s,
        compiler=peers,
        scores=ScoreMetrics(
            ctx.metrics.registry, service=ctx.service, max_domains=settings.validator_metrics_max_domains
        ),
    )
    ctx.subscribe(RequestAccepted, handlers.on_request_accepted)
    ctx.subscribe(SqlGenerated, handlers.on_sql_generated)
    ctx.subscribe(RunCompleted, handlers.on_run_completed)
    api = ValidatorApi(reports, use_case, peers)
    warming: list[asyncio.Task[dict[str, float]]] = []
    if settings.validator_warm_on_start:
        warming.append(asyncio.get_running_loop().create_task(asyncio.to_thread(engine.warm)))

    async def close() -> None:
        for task in warming:
            if not task.done():
                await asyncio.wait([task], timeout=60)
        await asyncio.to_thread(engine.close)

    log.info(
        "validator wired", rule_set=validation.rule_config.version(), knowledge=validation.knowledge.target
    )
    return ServiceParts(
        registrations=[(validator_pb2_grpc.add_ValidatorServiceServicer_to_server, api)],
        service_names=[SERVICE_NAME],
        on_close=close,
    )
