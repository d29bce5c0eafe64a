"""A submission whose process died before RequestSubmitted went out is published on the client's retry."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest.adapters.request_store import StoreRequestRepository
from services.ingest.handlers import IngestHandlers
from services.mesh.events import Event, RequestSubmitted, Source
from services.mesh.store import SQLiteDocumentStore
from tests.fakes import RecordingPublisher

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
ORDERS = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")


class Crash(Exception):
    pass


class Publisher(RecordingPublisher):
    """Records what is published; with crash_first, the first publish dies instead."""

    def __init__(self, *, crash_first: bool) -> None:
        super().__init__()
        self.crash_next = crash_first

    async def publish(self, event: Event) -> None:
        if self.crash_next:
            self.crash_next = False
            raise Crash("the process died here")
        await super().publish(event)


class ForgetfulRepo(StoreRequestRepository):
    """Claims the key, then 'dies' before the request is saved (the save is lost once)."""

    lose_next_save = True

    async def save(self, record):  # type: ignore[no-untyped-def]
        if self.lose_next_save:
            self.lose_next_save = False
            raise Crash("the process died before saving")
        await super().save(record)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteDocumentStore:
    return SQLiteDocumentStore(tmp_path / "store.sqlite3")


async def test_a_retry_publishes_the_request_the_crash_never_sent(store: SQLiteDocumentStore) -> None:
    publisher = Publisher(crash_first=True)
    handlers = IngestHandlers(requests=StoreRequestRepository(store), publisher=publisher)
    with pytest.raises(Crash):
        await handlers.submit(document=ORDERS, source=Source.GRPC, idempotency_key="k")
    assert publisher.events == []

    retry = await handlers.submit(document=ORDERS, source=Source.GRPC, idempotency_key="k")
    assert retry.duplicate
    [event] = publisher.events
    assert isinstance(event, RequestSubmitted)
    assert (event.envelope.request_id, event.envelope.run_id) == (retry.request_id, retry.run_id)

    # Once more: the same event again (same id, consumers drop it), never a second request.
    again = await handlers.submit(document=ORDERS, source=Source.GRPC, idempotency_key="k")
    assert (again.request_id, again.run_id) == (retry.request_id, retry.run_id)
    assert [e.envelope.event_id for e in publisher.events] == [event.envelope.event_id] * 2
    await store.close()


async def test_a_retry_saves_and_publishes_a_request_lost_before_it_was_saved(
    store: SQLiteDocumentStore,
) -> None:
    repo = ForgetfulRepo(store)
    publisher = Publisher(crash_first=False)
    handlers = IngestHandlers(requests=repo, publisher=publisher)
    with pytest.raises(Crash):
        await handlers.submit(document=ORDERS, source=Source.GRPC, idempotency_key="k")
    retry = await handlers.submit(document=ORDERS, source=Source.GRPC, idempotency_key="k")
    stored = await repo.get(retry.request_id)
    assert stored is not None and stored.state == "PENDING" and stored.run_id == retry.run_id
    assert [e.envelope.run_id for e in publisher.events] == [retry.run_id]
    await store.close()


async def test_a_request_already_checked_is_not_published_again(store: SQLiteDocumentStore) -> None:
    publisher = Publisher(crash_first=False)
    repo = StoreRequestRepository(store)
    handlers = IngestHandlers(requests=repo, publisher=publisher)
    first = await handlers.submit(document=ORDERS, source=Source.GRPC, idempotency_key="k")
    [submitted] = publisher.events
    assert isinstance(submitted, RequestSubmitted)
    await handlers.on_request_submitted(submitted)  # checked: ACCEPTED, RequestAccepted published
    count = len(publisher.events)
    again = await handlers.submit(document=ORDERS, source=Source.GRPC, idempotency_key="k")
    assert again.duplicate and again.run_id == first.run_id
    assert len(publisher.events) == count
    await store.close()
