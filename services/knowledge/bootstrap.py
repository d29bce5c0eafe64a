"""The only place that wires knowledge: repository, index, files, use cases, handlers, gRPC."""

from __future__ import annotations

from services.knowledge.adapters.embedders import make_embedder
from services.knowledge.adapters.kb_store import StoreKnowledgeRepository
from services.knowledge.adapters.qdrant_index import QdrantSchemaIndex
from services.knowledge.adapters.reports_fs import FsKnowledgeFiles
from services.knowledge.entrypoints.grpc_api import SERVICE_NAME, KnowledgeApi
from services.knowledge.handlers import KnowledgeHandlers
from services.knowledge.knowledge_base import KnowledgeBase
from services.knowledge.ports import SchemaIndex
from services.knowledge.settings import KnowledgeSettings, knowledge_settings
from services.mesh.events import GateDecided, RequestAccepted, RunStarted, RunStartFailed
from services.mesh.rpc.streamwright.v1 import knowledge_pb2_grpc
from services.mesh.service import ServiceContext, ServiceParts
from services.mesh.store import DocumentStore


def open_index(settings: KnowledgeSettings) -> QdrantSchemaIndex:
    """Qdrant by URL, else local mode under `<home>/knowledge/qdrant`; dense vectors when configured."""
    key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    return QdrantSchemaIndex.open(
        path=settings.qdrant_path,
        url=settings.qdrant_url,
        api_key=key,
        collection=settings.qdrant_collection,
        embedder=make_embedder(settings.kb_embedding_model),
    )


def knowledge_base(
    settings: KnowledgeSettings, store: DocumentStore, *, index: SchemaIndex | None = None
) -> KnowledgeBase:
    return KnowledgeBase(
        repo=StoreKnowledgeRepository(store),
        index=index if index is not None else open_index(settings),
        files=FsKnowledgeFiles(settings.knowledge_base_dir),
        mode_for=settings.mode_for,
    )


async def build(ctx: ServiceContext, *, index: SchemaIndex | None = None) -> ServiceParts:
    settings = knowledge_settings(ctx.settings)
    kb = knowledge_base(settings, ctx.store, index=index)
    await kb.reindex_all()  # the index and documents are derived: rebuild them from the store
    handlers = KnowledgeHandlers(kb=kb, publisher=ctx.publisher)
    ctx.subscribe(RequestAccepted, handlers.on_request_accepted)
    ctx.subscribe(GateDecided, handlers.on_gate_decided)
    ctx.subscribe(RunStarted, handlers.on_run_started)
    ctx.subscribe(RunStartFailed, handlers.on_run_start_failed)
    return ServiceParts(
        registrations=[
            (
                knowledge_pb2_grpc.add_KnowledgeServiceServicer_to_server,
                KnowledgeApi(kb, search_limit=settings.kb_search_limit),
            )
        ],
        service_names=[SERVICE_NAME],
        on_close=kb.index.close,
    )
