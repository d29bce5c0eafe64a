"""The only place that wires the generator."""

from __future__ import annotations

from services.generator.adapters.artifact_store import StoreArtifactRepository
from services.generator.adapters.ingest_client import IngestDocumentChecker
from services.generator.adapters.profiles_fs import load_profile
from services.generator.entrypoints.grpc_api import SERVICE_NAME, GeneratorApi
from services.generator.handlers import GeneratorHandlers
from services.generator.ports import LlmClient
from services.generator.settings import GeneratorSettings
from services.mesh.events import GateDecided, RequestAccepted, ValidationScored
from services.mesh.rpc.streamwright.v1 import generator_pb2_grpc
from services.mesh.service import ServiceContext, ServiceParts


def build(ctx: ServiceContext) -> ServiceParts:
    settings = GeneratorSettings()
    profile = load_profile(settings.profile, settings.profile_dir)  # fails fast on a bad profile
    artifacts = StoreArtifactRepository(ctx.store, ctx.settings.service_dir("generator") / "artifacts")
    llm: LlmClient | None = None
    if settings.generator_llm_model:
        # Imported only here: litellm is slow to import and optional.
        from services.generator.adapters.llm_client import LitellmClient

        llm = LitellmClient(
            model=settings.generator_llm_model,
            timeout_s=settings.generator_llm_timeout_s,
            max_tokens=settings.generator_llm_max_tokens,
        )
    handlers = GeneratorHandlers(
        artifacts=artifacts,
        publisher=ctx.publisher,
        profile=profile,
        target=settings.target_flink,
        llm=llm,
        llm_max_sql_bytes=settings.generator_llm_max_sql_kb * 1024,
    )
    ctx.subscribe(RequestAccepted, handlers.on_request_accepted)
    ctx.subscribe(GateDecided, handlers.on_gate_decided)
    if llm is not None:  # the findings are only needed to repair
        ctx.subscribe(ValidationScored, handlers.on_validation_scored)
    api = GeneratorApi(handlers, artifacts, IngestDocumentChecker(ctx.settings))
    return ServiceParts(
        registrations=[(generator_pb2_grpc.add_GeneratorServiceServicer_to_server, api)],
        service_names=[SERVICE_NAME],
    )
