"""The runs read-model, domain heads, deployments and job SQL over the mesh DocumentStore."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.mesh.store import DocumentStore
from services.mesh.store.base import VersionConflict
from services.router.domain.runs import Fact, RunIdentity, RunRecord, RunState, RunView

RUNS = "router_runs"
HEADS = "router_domain_heads"
DEPLOYMENTS = "router_deployments"
SQL = "router_sql"


def _to_doc(record: RunRecord, view: RunView) -> dict[str, Any]:
    ident = record.identity
    return {
        "run_id": ident.run_id,
        "request_id": ident.request_id,
        "domain": ident.domain,
        "idempotency_key": ident.idempotency_key,
        "traceparent": ident.traceparent,
        "state": view.state.value,
        "terminal": view.terminal,
        "created_at": view.created_at.isoformat() if view.created_at else "",
        # When the run entered its state: the run metrics read it without folding the facts.
        "entered_at": view.entered_at.isoformat() if view.entered_at else "",
        "facts": [f.to_doc() for f in record.facts.values()],
        "outbox": record.outbox,
    }


def _from_doc(doc: Mapping[str, Any], version: int) -> RunRecord:
    identity = RunIdentity(
        run_id=str(doc["run_id"]),
        request_id=str(doc["request_id"]),
        domain=str(doc["domain"]),
        idempotency_key=doc.get("idempotency_key"),
        traceparent=doc.get("traceparent"),
    )
    facts = {str(f["event_id"]): Fact.from_doc(f) for f in doc.get("facts") or []}
    return RunRecord(identity=identity, facts=facts, outbox=dict(doc.get("outbox") or {}), version=version)


class StoreRunRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    async def get(self, run_id: str) -> RunRecord | None:
        stored = await self._store.get(RUNS, run_id)
        return _from_doc(stored.doc, stored.version) if stored else None

    async def save(self, record: RunRecord) -> bool:
        doc = _to_doc(record, record.view())
        try:
            record.version = await self._store.put(RUNS, record.run_id, doc, expected_version=record.version)
        except VersionConflict:
            return False
        return True

    async def list_runs(
        self,
        *,
        domain: str | None = None,
        state: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RunView]:
        where: dict[str, Any] = {}
        if domain is not None:
            where["domain"] = domain
        if state is not None:
            where["state"] = state
        views: list[RunView] = []
        skipped = 0
        page = 200
        cursor = 0
        # created_at is an ISO string in UTC: lexical order is time order.
        while len(views) < limit:
            batch = await self._store.find(
                RUNS, where=where, order_by="created_at", descending=True, limit=page, offset=cursor
            )
            if not batch:
                break
            cursor += len(batch)
            for stored in batch:
                if since is not None and str(stored.doc.get("created_at", "")) < since.isoformat():
                    return views
                if skipped < offset:
                    skipped += 1
                    continue
                record = _from_doc(stored.doc, stored.version)
                views.append(record.view())
                if len(views) >= limit:
                    break
        return views

    async def open_runs(self, *, domain: str | None = None, limit: int = 1000) -> list[RunRecord]:
        where: dict[str, Any] = {"terminal": False}
        if domain is not None:
            where["domain"] = domain
        found = await self._store.find(RUNS, where=where, order_by="created_at", limit=limit)
        return [_from_doc(s.doc, s.version) for s in found]

    async def open_run_states(self, *, page: int = 500) -> list[tuple[RunState, datetime | None]]:
        """(state, entered_at) of every run not in a final state (the run metrics' source).

        Read from the stored fields; a run stored before `entered_at` was kept folds its facts
        once. Paged by key, so a run that changes between pages may be missed or seen twice:
        the next refresh sees it right.
        """
        found: list[tuple[RunState, datetime | None]] = []
        offset = 0
        while True:
            batch = await self._store.find(
                RUNS, where={"terminal": False}, order_by=None, limit=page, offset=offset
            )
            for stored in batch:
                entered = str(stored.doc.get("entered_at") or "")
                if entered:
                    found.append((RunState(str(stored.doc["state"])), datetime.fromisoformat(entered)))
                else:
                    view = _from_doc(stored.doc, stored.version).view()
                    found.append((view.state, view.entered_at))
            if len(batch) < page:
                return found
            offset += len(batch)

    async def save_sql(self, run_id: str, attempt: int, sql: str) -> None:
        await self._store.put(SQL, f"{run_id}:{attempt}", {"run_id": run_id, "attempt": attempt, "sql": sql})

    async def get_sql(self, run_id: str, attempt: int) -> str | None:
        stored = await self._store.get(SQL, f"{run_id}:{attempt}")
        return str(stored.doc["sql"]) if stored else None

    async def domain_head(self, domain: str) -> tuple[int, int]:
        stored = await self._store.get(HEADS, domain)
        return (int(stored.doc.get("revision", 0)), stored.version) if stored else (0, 0)

    async def save_domain_head(self, domain: str, revision: int, expected_version: int) -> bool:
        try:
            await self._store.put(
                HEADS, domain, {"domain": domain, "revision": revision}, expected_version=expected_version
            )
        except VersionConflict:
            return False
        return True

    async def deployment(self, domain: str) -> dict[str, Any] | None:
        stored = await self._store.get(DEPLOYMENTS, domain)
        return dict(stored.doc) if stored else None

    async def save_deployment(self, domain: str, deployment: Mapping[str, Any]) -> None:
        await self._store.put(DEPLOYMENTS, domain, dict(deployment))
