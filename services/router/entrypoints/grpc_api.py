"""RouterService over gRPC: GetRun, ListRuns, WatchRun (stream), Review, CancelRun, StopDomain, RollbackDomain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any

import grpc

from services.mesh.grpc_server import current_identity
from services.mesh.identity import unverified
from services.mesh.paging import offset_from_token, token_for_offset
from services.mesh.rpc.streamwright.v1 import router_pb2, router_pb2_grpc
from services.router.domain.deployment import Deployment
from services.router.domain.runs import RunState, RunView, project, short_type
from services.router.handlers import (
    DeploymentConflict,
    DeploymentFailed,
    DomainNotFound,
    NotAllowed,
    RouterHandlers,
    RunConflict,
    RunNotFound,
)

SERVICE_NAME = router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name
DEFAULT_PAGE, MAX_PAGE = 50, 500
WATCH_POLL_S = 1.0

STATE_TO_PB: dict[RunState, int] = {
    RunState.PENDING: router_pb2.RUN_STATE_SUBMITTED,
    RunState.GENERATING: router_pb2.RUN_STATE_GENERATING,
    RunState.VALIDATING: router_pb2.RUN_STATE_VALIDATING,
    RunState.GATED: router_pb2.RUN_STATE_APPROVED,
    RunState.IN_REVIEW: router_pb2.RUN_STATE_AWAITING_REVIEW,
    RunState.KB_UPDATED: router_pb2.RUN_STATE_KB_UPDATED,
    RunState.STARTING: router_pb2.RUN_STATE_STARTING,
    RunState.RUNNING: router_pb2.RUN_STATE_STARTED,
    RunState.REJECTED: router_pb2.RUN_STATE_REJECTED,
    RunState.FAILED: router_pb2.RUN_STATE_FAILED,
    RunState.CANCELLED: router_pb2.RUN_STATE_CANCELLED,
    RunState.TIMED_OUT: router_pb2.RUN_STATE_TIMED_OUT,
    RunState.SUPERSEDED: router_pb2.RUN_STATE_SUPERSEDED,
}
PB_TO_STATE: dict[int, RunState] = {v: k for k, v in STATE_TO_PB.items()} | {
    router_pb2.RUN_STATE_GATING: RunState.VALIDATING,
    router_pb2.RUN_STATE_REGENERATING: RunState.GENERATING,
}


def _ts(target: object, value: datetime | None) -> None:
    if value is not None:
        target.FromDatetime(value)  # type: ignore[attr-defined]


def to_message(view: RunView) -> router_pb2.Run:  # noqa: C901 - one block per message part
    state = STATE_TO_PB[view.state]
    if view.state is RunState.GENERATING and view.attempt > 1:
        state = router_pb2.RUN_STATE_REGENERATING
    message = router_pb2.Run(
        run_id=view.run_id,
        request_id=view.request_id,
        domain=view.domain,
        state=state,  # type: ignore[arg-type]
        attempt=view.attempt,
        reason=view.reason,
        state_name=view.state.value,
        revision=view.revision or 0,
        terminal=view.terminal,
        references=view.references,
        idempotency_key=view.idempotency_key or "",
        target=view.target or "",
        detail_json=json.dumps(view.to_doc(), ensure_ascii=False, sort_keys=True),
    )
    if view.score is not None:
        message.score = view.score
    if view.reviewer:
        message.reviewer = view.reviewer
    if view.job_id or view.references.get("deployment_ref"):
        message.job_ref = view.job_id or view.references["deployment_ref"]
    _ts(message.created_at, view.created_at)
    _ts(message.updated_at, view.updated_at)
    for entry in view.timeline:
        event = message.timeline.add(
            event_id=entry["event_id"],
            event_type=entry["event_type"],
            producer=entry["producer"],
            summary=entry["summary"],
        )
        _ts(event.occurred_at, datetime.fromisoformat(entry["occurred_at"]))
    for phase in view.phases:
        item = message.phases.add(phase=phase.name, duration_ms=phase.duration_ms or 0)
        _ts(item.started_at, phase.started_at)
        if phase.finished_at is not None:
            _ts(item.finished_at, phase.finished_at)
    for decision in view.decisions:
        record = message.decisions.add(
            attempt=decision.get("attempt") or 0,
            decision=str(decision.get("decision") or ""),
            reason=str(decision.get("reason") or ""),
            mode=str(decision.get("mode") or ""),
            decided_by=str(decision.get("decided_by") or ""),
        )
        for name in ("rule", "reviewer"):
            if decision.get(name):
                setattr(record, name, str(decision[name]))
        if decision.get("score") is not None:
            record.score = float(decision["score"])
        if decision.get("decided_at"):
            _ts(record.decided_at, datetime.fromisoformat(str(decision["decided_at"])))
    totals = view.llm_totals()
    message.llm.CopyFrom(
        router_pb2.LlmUsage(
            calls=totals["calls"],
            prompt_tokens=totals["prompt_tokens"],
            completion_tokens=totals["completion_tokens"],
            cost_usd=totals["cost_usd"],
            latency_ms=totals["latency_ms"],
        )
    )
    return message


def to_deployment_status(record: Mapping[str, Any]) -> router_pb2.DeploymentStatus:
    """A deployment record as DeploymentStatus (manifest texts and state fingerprints left out of
    detail_json; the upgrade check, which says what the fingerprints meant, stays)."""
    bulky = ("manifests", "state_fingerprint")
    detail = {k: v for k, v in record.items() if k not in bulky}
    detail["history"] = [
        {k: v for k, v in entry.items() if k not in bulky}
        for entry in record.get("history") or []
        if isinstance(entry, Mapping)
    ]
    message = router_pb2.DeploymentStatus(
        domain=str(record.get("domain") or ""),
        state=str(record.get("state") or "RUNNING"),
        revision=int(record.get("revision") or 0),
        run_id=str(record.get("run_id") or ""),
        target=str(record.get("target") or ""),
        deployment_ref=str(record.get("deployment_ref") or ""),
        reason=str(record.get("reason") or ""),
        earlier_revisions=[int(e.get("revision") or 0) for e in detail["history"]],
        detail_json=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
    )
    for name in ("job_id", "savepoint_path", "savepoint_restored"):
        if record.get(name):
            setattr(message, name, str(record[name]))
    if record.get("rolled_back_from") is not None:
        message.rolled_back_from = int(record["rolled_back_from"])
    for name in ("started_at", "stopped_at"):
        if record.get(name):
            getattr(message, name).FromDatetime(datetime.fromisoformat(str(record[name])))
    return message


class RouterApi(router_pb2_grpc.RouterServiceServicer):
    def __init__(self, handlers: RouterHandlers, *, watch_poll_s: float = WATCH_POLL_S) -> None:
        self._handlers = handlers
        self._poll = watch_poll_s

    async def _view(self, run_id: str, context: grpc.aio.ServicerContext) -> RunView:
        if not run_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "run_id is required")
        try:
            return await self._handlers.get(run_id)
        except RunNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no run {run_id!r}")
            raise

    async def GetRun(
        self, request: router_pb2.GetRunRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.Run:
        return to_message(await self._view(request.run_id, context))

    async def ListRuns(
        self, request: router_pb2.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.ListRunsResponse:
        if request.page_size < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_size must not be negative")
        try:
            offset = offset_from_token(request.page_token)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise
        size = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
        state = None
        if request.HasField("state"):
            found = PB_TO_STATE.get(request.state)
            if found is None:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown state {request.state}")
            state = found.value if found else None
        since = request.since.ToDatetime().replace(tzinfo=UTC) if request.HasField("since") else None
        views = await self._handlers.runs.list_runs(
            domain=request.domain if request.HasField("domain") else None,
            state=state,
            since=since,
            limit=size + 1,
            offset=offset,
        )
        return router_pb2.ListRunsResponse(
            runs=[to_message(v) for v in views[:size]],
            next_page_token=token_for_offset(offset + size) if len(views) > size else "",
        )

    async def WatchRun(
        self, request: router_pb2.WatchRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[router_pb2.RunUpdate]:
        """The current run, then one update per event that changed it (intermediate states included)."""
        view = await self._view(request.run_id, context)
        yield router_pb2.RunUpdate(run=to_message(view))
        record = await self._handlers.runs.get(request.run_id)
        seen = set(record.facts) if record is not None else set()
        last_state = view.state
        while not view.terminal:
            await self._handlers.changes.wait(request.run_id, self._poll)
            record = await self._handlers.runs.get(request.run_id)
            if record is None:
                continue
            new = sorted(
                (f for f in record.facts.values() if f.event_id not in seen),
                key=lambda f: (f.occurred_at, f.sort_key()),
            )
            for index, fact in enumerate(new):
                seen.add(fact.event_id)
                if index == len(new) - 1:
                    view = record.view()
                else:  # the run as it was right after this event, so no state is skipped
                    view = project(record.run_id, [record.facts[i] for i in seen])
                    view.domain, view.request_id = record.identity.domain, record.identity.request_id
                    view.idempotency_key = record.identity.idempotency_key
                if view.state == last_state and index < len(new) - 1:
                    continue
                last_state = view.state
                update = router_pb2.RunUpdate(run=to_message(view))
                update.event.CopyFrom(
                    router_pb2.RunEvent(
                        event_id=fact.event_id,
                        event_type=short_type(fact.event_type),
                        producer=fact.producer,
                        summary=next(
                            (e["summary"] for e in view.timeline if e["event_id"] == fact.event_id), ""
                        ),
                    )
                )
                update.event.occurred_at.FromDatetime(fact.occurred_at)
                yield update

    async def Review(
        self, request: router_pb2.ReviewRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.Run:
        if request.decision not in (router_pb2.REVIEW_DECISION_APPROVE, router_pb2.REVIEW_DECISION_REJECT):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "decision must be APPROVE or REJECT")
        claimed = (request.reviewer if request.HasField("reviewer") else "").strip()
        by = current_identity()
        if by is None:
            if not claimed:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "reviewer is required (auth is off)")
            by = unverified(claimed)
        elif claimed and claimed != by.subject:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"reviewer {claimed!r} is not the caller {by.subject!r}: with auth on, the reviewer "
                "is the token's subject (leave reviewer unset)",
            )
        await self._view(request.run_id, context)
        try:
            view = await self._handlers.review(
                request.run_id,
                approve=request.decision == router_pb2.REVIEW_DECISION_APPROVE,
                by=by,
                comment=request.comment,
            )
        except NotAllowed as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
            raise
        except RunConflict as error:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
            raise
        return to_message(view)

    async def CancelRun(
        self, request: router_pb2.CancelRunRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.Run:
        await self._view(request.run_id, context)
        try:
            view = await self._handlers.cancel(
                request.run_id, reason=request.reason, by=current_identity() or unverified()
            )
        except NotAllowed as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
            raise
        except RunConflict as error:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
            raise
        return to_message(view)

    async def _deployment_call(
        self, call: Awaitable[Deployment], context: grpc.aio.ServicerContext
    ) -> router_pb2.DeploymentStatus:
        # Shielded: a client that gives up must not leave a job stopped and its successor unstarted.
        task = asyncio.ensure_future(call)
        try:
            record = await asyncio.shield(task)
        except DomainNotFound as error:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
            raise
        except NotAllowed as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
            raise
        except DeploymentConflict as error:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
            raise
        except DeploymentFailed as error:
            await context.abort(grpc.StatusCode.ABORTED, str(error))
            raise
        return to_deployment_status(record.to_dict())

    async def StopDomain(
        self, request: router_pb2.StopDomainRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.DeploymentStatus:
        domain = request.domain.strip()
        if not domain:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "domain is required")
        call = self._handlers.stop(
            domain, reason=request.reason.strip(), by=current_identity() or unverified()
        )
        return await self._deployment_call(call, context)

    async def RollbackDomain(
        self, request: router_pb2.RollbackDomainRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.DeploymentStatus:
        domain = request.domain.strip()
        if not domain:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "domain is required")
        to_revision = request.to_revision if request.HasField("to_revision") else None
        if to_revision is not None and to_revision <= 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "to_revision must be positive")
        call = self._handlers.rollback(domain, to_revision=to_revision, by=current_identity() or unverified())
        return await self._deployment_call(call, context)
