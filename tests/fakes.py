"""Fakes shared by the tests: `from tests.fakes import RecordingPublisher, MemoryStore, FakeDeployer`.

Each fake keeps what it is given and answers from that alone (no result is scripted to make a
test pass); where a fake can be told to fail, the test says so in its own body.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from services.mesh.events import Event, Target
from services.mesh.store import Stored, VersionConflict
from services.router.ports import DeployError, RestoreFailed, StartRequest, StartResult

E = TypeVar("E", bound=Event)


class RecordingPublisher:
    """A publisher (every service's `Publisher` port, and the consumer's `EventPublisher`) that keeps
    the events in `events` and the raw dead-letter records in `raw`, in the order they came."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.raw: list[tuple[str, bytes, bytes | None, dict[str, str]]] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    async def publish_raw(
        self, topic: str, value: bytes, *, key: bytes | None, headers: Mapping[str, str], event_type: str = ""
    ) -> None:
        self.raw.append((topic, value, key, dict(headers)))

    def of(self, cls: type[E]) -> list[E]:
        """The published events of one type, in order."""
        return [e for e in self.events if isinstance(e, cls)]


class MemoryStore:
    """A DocumentStore in a dict: versions from 1, compare-and-set, create-only insert, equality filters
    and ordering, copies in and out. Not the whole contract (tests/contract/test_store_conformance.py
    holds the real adapters to that): no name or key validation, no `$in` lists."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {}

    async def get(self, collection: str, key: str) -> Stored | None:
        found = self.data.get(collection, {}).get(key)
        return None if found is None else Stored(key, found[0], copy.deepcopy(found[1]))

    async def insert(self, collection: str, key: str, doc: Mapping[str, Any]) -> bool:
        rows = self.data.setdefault(collection, {})
        if key in rows:
            return False
        rows[key] = (1, json.loads(json.dumps(doc)))
        return True

    async def put(
        self, collection: str, key: str, doc: Mapping[str, Any], *, expected_version: int | None = None
    ) -> int:
        rows = self.data.setdefault(collection, {})
        current = rows.get(key, (0, {}))[0]
        if expected_version is not None and expected_version != current:
            raise VersionConflict(collection, key, expected_version, current)
        rows[key] = (current + 1, json.loads(json.dumps(doc)))
        return current + 1

    async def delete(self, collection: str, key: str) -> bool:
        return self.data.get(collection, {}).pop(key, None) is not None

    async def find(
        self,
        collection: str,
        *,
        where: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Stored]:
        rows = [Stored(k, v, copy.deepcopy(d)) for k, (v, d) in sorted(self.data.get(collection, {}).items())]
        rows = [r for r in rows if all(r.doc.get(f) == value for f, value in (where or {}).items())]
        if order_by is not None:
            rows.sort(key=lambda r: r.doc.get(order_by), reverse=descending)
        return rows[offset : None if limit is None else offset + limit]

    async def count(self, collection: str, *, where: Mapping[str, Any] | None = None) -> int:
        return len(await self.find(collection, where=where))

    async def close(self) -> None:
        return None


class FakeDeployer:
    """A Flink-like deployer (the router's `Deployer` port): numbered jobs in `started`, stops with a
    savepoint per job in `stopped`; `fail_start` / `fail_stop` make the next calls raise DeployError;
    `fail_restore[revision]` makes that revision's starts from a savepoint fail as Flink's restore
    does: an upgrade stops the previous job first (RestoreFailed with its savepoint)."""

    target: Target = "sql-gateway"

    def __init__(self) -> None:
        self.started: list[StartRequest] = []
        self.stopped: list[str] = []
        self.fail_start: str | None = None
        self.fail_stop: str | None = None
        self.fail_restore: dict[int, str] = {}

    async def start(self, request: StartRequest) -> StartResult:
        if self.fail_start:
            raise DeployError(self.fail_start)
        savepoint = request.restore_from
        stopped_here = None
        if savepoint is None and request.previous and request.previous.get("job_id"):
            savepoint = stopped_here = await self.stop(request.previous)
        refusal = self.fail_restore.get(request.revision)
        if refusal and savepoint:
            if stopped_here:
                raise RestoreFailed(refusal, savepoint=stopped_here)
            raise DeployError(refusal)
        self.started.append(request)
        job = f"job-{len(self.started)}"
        return StartResult(
            target=self.target,
            deployment_ref=f"http://flink/jobs/{job}",
            job_id=job,
            savepoint_restored=savepoint,
        )

    async def stop(self, deployment: Mapping[str, Any], *, savepoint: bool = True) -> str | None:
        if self.fail_stop:
            raise DeployError(self.fail_stop)
        self.stopped.append(str(deployment["job_id"]))
        return f"file:///savepoints/sp-{deployment['job_id']}" if savepoint else None
