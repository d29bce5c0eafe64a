"""The only place that wires ingest: use cases, repository, publisher, gRPC servicer."""

from __future__ import annotations

from services.ingest.adapters.request_store import StoreRequestRepository
from services.ingest.entrypoints.grpc_api import SERVICE_NAME, IngestApi
from services.ingest.handlers import IngestHandlers
from services.mesh.events import RequestSubmitted
from services.mesh.rpc.streamwright.v1 import ingest_pb2_grpc
from services.mesh.service import ServiceContext, ServiceParts


def build(ctx: ServiceContext) -> ServiceParts:
    requests = StoreRequestRepository(ctx.store)
    handlers = IngestHandlers(requests=requests, publisher=ctx.publisher)
    ctx.subscribe(RequestSubmitted, handlers.on_request_submitted)
    return ServiceParts(
        registrations=[(ingest_pb2_grpc.add_IngestServiceServicer_to_server, IngestApi(handlers, requests))],
        service_names=[SERVICE_NAME],
    )
