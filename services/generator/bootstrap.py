"""The only place that wires the generator."""

from __future__ import annotations

from services.generator.adapters.artifact_store import StoreArtifactRepository
from services.generator.adapters.ingest_client import IngestDocumentChecker
from services.generator.adapters.profiles_fs import load_profile
from services.generator.entrypoints.grpc_api import SERVICE_NAME, GeneratorApi
from services.generator.handlers import GeneratorHandlers
from services.generator.settings import GeneratorSettings
from services.mesh.events import GateDecided, RequestAccepted
from services.mesh.rpc.streamwright.v1 import generator_pb2_grpc
from services.mesh.service import ServiceContext, ServiceParts


def build(ctx: ServiceContext) -> ServiceParts:
    settings = GeneratorSettings()
    profile = load_profile(settings.profile, settings.profile_dir)  # fails fast on a bad profile
    artifacts = StoreArtifactRepository(ctx.store, ctx.settings.service_dir("generator") / "artifacts")
    handlers = GeneratorHandlers(
        artifacts=artifacts, publisher=ctx.publisher, profile=profile, target=settings.target_flink
    )
    ctx.subscribe(RequestAccepted, handlers.on_request_accepted)
    ctx.subscribe(GateDecided, handlers.on_gate_decided)
    api = GeneratorApi(handlers, artifacts, IngestDocumentChecker(ctx.settings))
    return ServiceParts(
        registrations=[(generator_pb2_grpc.add_GeneratorServiceServicer_to_server, api)],
        service_names=[SERVICE_NAME],
    )
