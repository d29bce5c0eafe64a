"""Conformance of every DocumentStore adapter to one contract (services/mesh/store/base.py).

Each test runs once per backend: SQLite always; MongoDB when STREAMWRIGHT_MONGODB_URL is
set or a Docker engine answers (testcontainers), else it is skipped with that reason.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.mesh.settings import MeshSettings
from services.mesh.store import (
    STORE_FILENAME,
    DocumentStore,
    InvalidDocument,
    InvalidKey,
    InvalidName,
    SQLiteDocumentStore,
    StoreClosed,
    Stored,
    VersionConflict,
    open_store,
)

Opener = Callable[..., DocumentStore]


def unique(name: str) -> str:
    """A collection name no other test uses."""
    return f"{name}_{uuid.uuid4().hex[:10]}"


async def _seed(store: DocumentStore, collection: str, docs: dict[str, dict[str, Any]]) -> None:
    for key, doc in docs.items():
        assert await store.insert(collection, key, doc)


def _keys(found: list[Stored]) -> list[str]:
    return [s.key for s in found]


# -- round trip ----------------------------------------------------------------------------


async def test_round_trip_of_unicode_and_nested_documents(store: DocumentStore) -> None:
    """It returns exactly the JSON document it stored: unicode, nesting, every JSON type."""
    coll = unique("roundtrip")
    doc = {
        "title": "实时风控 — Flink SQL ✓ 🚀",
        "nested": {"list": [1, 2.5, "三", None, True, False, {"deep": ["x", {"y": []}]}], "empty": {}},
        "int": -(2**62),
        "float": 0.1,
        "null": None,
        "键": "值",
        "tuple": (1, 2),
    }
    assert await store.insert(coll, "doc-1", doc)
    got = await store.get(coll, "doc-1")
    assert got == Stored("doc-1", 1, {**doc, "tuple": [1, 2]})
    assert isinstance(got.doc["int"], int)
    assert isinstance(got.doc["float"], float)
    assert await store.get(coll, "missing") is None
    assert await store.get(coll, "clé-ünï-😀") is None


async def test_stored_documents_are_copies(store: DocumentStore) -> None:
    """It is unaffected by later changes to the caller's dict or to a returned document."""
    coll = unique("copies")
    doc: dict[str, Any] = {"items": [1]}
    await store.put(coll, "k", doc)
    doc["items"].append(2)
    first = await store.get(coll, "k")
    assert first is not None
    first.doc["items"].append(3)
    again = await store.get(coll, "k")
    assert again is not None and again.doc == {"items": [1]}


# -- insert --------------------------------------------------------------------------------


async def test_insert_is_create_only(store: DocumentStore) -> None:
    """It creates a key once; a second insert returns False and changes nothing."""
    coll = unique("insert")
    assert await store.insert(coll, "event-1", {"n": 1}) is True
    assert await store.insert(coll, "event-1", {"n": 2}) is False
    assert await store.get(coll, "event-1") == Stored("event-1", 1, {"n": 1})
    assert await store.count(coll) == 1


async def test_concurrent_inserts_of_one_key_have_one_winner(open_backend: Opener) -> None:
    """It lets exactly one of many concurrent inserts of one key win, across two stores."""
    coll = unique("race")
    stores = [open_backend(), open_backend()]
    results = await asyncio.gather(*(stores[i % 2].insert(coll, "event-x", {"writer": i}) for i in range(40)))
    assert results.count(True) == 1
    winner = results.index(True)
    assert await stores[1].get(coll, "event-x") == Stored("event-x", 1, {"writer": winner})


def _insert_race_worker(spec: dict[str, Any], coll: str, keys: list[str], start: Any, out: Any) -> None:
    """One racing process: open the store, wait for the start signal, insert every key."""

    async def main() -> list[bool]:
        store = open_store(MeshSettings(**spec), "contract")
        try:
            if not start.wait(30):
                raise TimeoutError("no start signal")
            return [await store.insert(coll, key, {"pid": os.getpid()}) for key in keys]
        finally:
            await store.close()

    try:
        out.put((os.getpid(), asyncio.run(main())))
    except BaseException as exc:
        out.put((os.getpid(), repr(exc)))
        raise


def test_two_processes_racing_inserts_have_one_winner_per_key(store_spec: dict[str, Any]) -> None:
    """It keeps insert atomic across two OS processes sharing one (fresh) store."""
    coll = unique("procrace")
    keys = [f"event-{i:03d}" for i in range(60)]
    # fork where there is one (fast: nothing to import); each child opens its own store.
    fork = "fork" in multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_insert_race_worker, args=(store_spec, coll, keys, start, out)) for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    try:
        start.set()
        results = dict(out.get(timeout=60) for _ in procs)
    finally:
        for proc in procs:
            proc.join(timeout=30)
    assert all(isinstance(r, list) for r in results.values()), results
    assert all(proc.exitcode == 0 for proc in procs)
    for i, key in enumerate(keys):
        winners = [pid for pid, flags in results.items() if flags[i]]
        assert len(winners) == 1, (key, results)

    async def check() -> None:
        store = open_store(MeshSettings(**store_spec), "contract")
        try:
            assert await store.count(coll) == len(keys)
            for i, key in enumerate(keys):
                got = await store.get(coll, key)
                assert got is not None and got.version == 1
                assert results[got.doc["pid"]][i] is True
        finally:
            await store.close()

    asyncio.run(check())


# -- put and versions ------------------------------------------------------------------------


async def test_put_versions_increase_from_one(store: DocumentStore) -> None:
    """It starts a document at version 1 and adds 1 per put, keeping the last document."""
    coll = unique("versions")
    assert [await store.put(coll, "k", {"n": n}) for n in range(4)] == [1, 2, 3, 4]
    assert await store.get(coll, "k") == Stored("k", 4, {"n": 3})


async def test_expected_version_succeeds_when_it_matches(store: DocumentStore) -> None:
    """It writes when expected_version equals the stored version (0 creating an absent key)."""
    coll = unique("cas_ok")
    assert await store.put(coll, "k", {"step": 1}, expected_version=0) == 1
    assert await store.put(coll, "k", {"step": 2}, expected_version=1) == 2
    assert await store.put(coll, "k", {"step": 3}, expected_version=2) == 3
    assert await store.get(coll, "k") == Stored("k", 3, {"step": 3})


async def test_expected_version_conflicts_when_it_differs(store: DocumentStore) -> None:
    """It raises VersionConflict with the stored version, and writes nothing, on a mismatch."""
    coll = unique("cas_conflict")
    await store.put(coll, "k", {"step": 1})
    await store.put(coll, "k", {"step": 2})
    with pytest.raises(VersionConflict) as stale:
        await store.put(coll, "k", {"step": "stale"}, expected_version=1)
    assert (stale.value.collection, stale.value.key, stale.value.expected, stale.value.actual) == (
        coll,
        "k",
        1,
        2,
    )
    assert "expected version 1" in str(stale.value) and "stored version is 2" in str(stale.value)
    with pytest.raises(VersionConflict) as exists:
        await store.put(coll, "k", {"step": "new"}, expected_version=0)
    assert exists.value.actual == 2
    with pytest.raises(VersionConflict) as absent:
        await store.put(coll, "nope", {"step": 1}, expected_version=3)
    assert absent.value.actual == 0
    assert await store.get(coll, "nope") is None
    assert await store.get(coll, "k") == Stored("k", 2, {"step": 2})


async def test_concurrent_compare_and_set_has_one_winner(open_backend: Opener) -> None:
    """It lets exactly one of many concurrent puts expecting the same version succeed."""
    coll = unique("cas_race")
    stores = [open_backend(), open_backend()]
    await stores[0].put(coll, "k", {"owner": None})

    async def attempt(i: int) -> int | None:
        try:
            return await stores[i % 2].put(coll, "k", {"owner": i}, expected_version=1)
        except VersionConflict as conflict:
            assert conflict.actual == 2
            return None

    results = await asyncio.gather(*(attempt(i) for i in range(20)))
    winners = [i for i, version in enumerate(results) if version is not None]
    assert len(winners) == 1 and results[winners[0]] == 2
    assert await stores[0].get(coll, "k") == Stored("k", 2, {"owner": winners[0]})


async def test_expected_version_must_be_a_non_negative_int(store: DocumentStore) -> None:
    """It rejects a negative expected_version before writing anything."""
    coll = unique("cas_arg")
    with pytest.raises(ValueError, match="expected_version"):
        await store.put(coll, "k", {}, expected_version=-1)
    assert await store.count(coll) == 0


# -- delete --------------------------------------------------------------------------------


async def test_delete_removes_and_reports(store: DocumentStore) -> None:
    """It deletes a key once (True, then False); a new write starts again at version 1."""
    coll = unique("delete")
    await store.put(coll, "k", {"a": 1})
    await store.put(coll, "k", {"a": 2})
    await store.put(coll, "other", {"a": 3})
    assert await store.delete(coll, "k") is True
    assert await store.delete(coll, "k") is False
    assert await store.get(coll, "k") is None
    assert await store.count(coll) == 1
    assert await store.put(coll, "k", {"a": 4}, expected_version=0) == 1
    assert await store.delete(coll, "never") is False


# -- find and count --------------------------------------------------------------------------

_TASKS: dict[str, dict[str, Any]] = {
    "t1": {"status": "open", "priority": 2, "owner": "ana"},
    "t2": {"status": "done", "priority": 1, "owner": "bo"},
    "t3": {"status": "open", "priority": 3, "owner": None},
    "t4": {"status": "held", "priority": 2, "owner": "ana"},
    "t5": {"status": "open", "priority": 1.5},
    "t6": {"status": "done", "priority": 2, "owner": "cy"},
}


async def test_find_by_equality_and_in_lists(store: DocumentStore) -> None:
    """It filters by equality on top-level fields, lists meaning "any of", fields ANDed."""
    coll = unique("find_eq")
    await _seed(store, coll, _TASKS)
    assert _keys(await store.find(coll)) == ["t1", "t2", "t3", "t4", "t5", "t6"]
    assert _keys(await store.find(coll, where={"status": "open"})) == ["t1", "t3", "t5"]
    assert _keys(await store.find(coll, where={"status": ["held", "done"]})) == ["t2", "t4", "t6"]
    assert _keys(await store.find(coll, where={"status": ("open",), "owner": "ana"})) == ["t1"]
    assert _keys(await store.find(coll, where={"priority": [1.5, 3]})) == ["t3", "t5"]
    assert _keys(await store.find(coll, where={"priority": 2.0})) == ["t1", "t4", "t6"]
    assert _keys(await store.find(coll, where={"owner": None})) == ["t3", "t5"]  # null or missing
    assert _keys(await store.find(coll, where={"owner": ["bo", None]})) == ["t2", "t3", "t5"]
    assert await store.find(coll, where={"status": "gone"}) == []
    assert await store.find(coll, where={"status": []}) == []
    found = await store.find(coll, where={"owner": "bo"})
    assert found == [Stored("t2", 1, _TASKS["t2"])]


async def test_find_matches_types_strictly(store: DocumentStore) -> None:
    """It never matches across JSON types: 1 is not "1" nor true, and a scalar is not a list."""
    coll = unique("find_types")
    await _seed(
        store,
        coll,
        {
            "int": {"v": 1},
            "float": {"v": 1.0},
            "str": {"v": "1"},
            "true": {"v": True},
            "false": {"v": False},
            "zero": {"v": 0},
            "list": {"v": [1, "1", True]},
            "obj": {"v": {"a": 1}},
            "objstr": {"v": '{"a":1}'},
        },
    )
    assert _keys(await store.find(coll, where={"v": 1})) == ["float", "int"]
    assert _keys(await store.find(coll, where={"v": "1"})) == ["str"]
    assert _keys(await store.find(coll, where={"v": True})) == ["true"]
    assert _keys(await store.find(coll, where={"v": False})) == ["false"]
    assert _keys(await store.find(coll, where={"v": [0, False]})) == ["false", "zero"]
    assert _keys(await store.find(coll, where={"v": '{"a":1}'})) == ["objstr"]


async def test_find_orders_pages_and_breaks_ties_by_key(store: DocumentStore) -> None:
    """It orders by a field (asc/desc), ties by key ascending, then applies offset and limit."""
    coll = unique("find_order")
    await _seed(store, coll, _TASKS)
    asc = _keys(await store.find(coll, order_by="priority"))
    assert asc == ["t2", "t5", "t1", "t4", "t6", "t3"]
    desc = _keys(await store.find(coll, order_by="priority", descending=True))
    assert desc == ["t3", "t1", "t4", "t6", "t5", "t2"]
    assert _keys(await store.find(coll, order_by="priority", limit=2)) == ["t2", "t5"]
    assert _keys(await store.find(coll, order_by="priority", offset=2, limit=2)) == ["t1", "t4"]
    assert _keys(await store.find(coll, order_by="priority", offset=5, limit=10)) == ["t3"]
    assert await store.find(coll, order_by="priority", offset=6) == []
    assert await store.find(coll, limit=0) == []
    assert _keys(await store.find(coll, descending=True, limit=3)) == ["t6", "t5", "t4"]
    page = await store.find(
        coll, where={"status": ["open", "held"]}, order_by="priority", descending=True, offset=1, limit=2
    )
    assert _keys(page) == ["t1", "t4"]
    # Missing and null sort first ascending; strings after numbers.
    by_owner = _keys(await store.find(coll, order_by="owner"))
    assert by_owner == ["t3", "t5", "t1", "t4", "t2", "t6"]
    mixed = unique("find_mixed")
    await _seed(store, mixed, {"a": {"v": "b"}, "b": {"v": 10}, "c": {"v": "a"}, "d": {"v": -1.5}, "e": {}})
    assert _keys(await store.find(mixed, order_by="v")) == ["e", "d", "b", "c", "a"]
    assert _keys(await store.find(mixed, order_by="v", descending=True)) == ["a", "c", "b", "d", "e"]


async def test_find_rejects_negative_paging(store: DocumentStore) -> None:
    """It rejects a negative limit or offset with ValueError."""
    coll = unique("find_paging")
    with pytest.raises(ValueError, match="limit"):
        await store.find(coll, limit=-1)
    with pytest.raises(ValueError, match="offset"):
        await store.find(coll, offset=-1)


async def test_count_with_and_without_filters(store: DocumentStore) -> None:
    """It counts all documents of a collection, or those matching a filter."""
    coll = unique("count")
    assert await store.count(coll) == 0
    await _seed(store, coll, _TASKS)
    assert await store.count(coll) == 6
    assert await store.count(coll, where={"status": "open"}) == 3
    assert await store.count(coll, where={"status": ["open", "done"], "priority": 2}) == 2
    assert await store.count(coll, where={"owner": "nobody"}) == 0


# -- isolation, durability, lifecycle ----------------------------------------------------------


async def test_collections_are_isolated(store: DocumentStore) -> None:
    """It keeps one key in two collections apart for every operation."""
    left, right = unique("left"), unique("right")
    await store.put(left, "k", {"side": "left"})
    await store.put(left, "only-left", {"side": "left"})
    assert await store.insert(right, "k", {"side": "right"}) is True
    assert await store.get(left, "k") == Stored("k", 1, {"side": "left"})
    assert await store.get(right, "k") == Stored("k", 1, {"side": "right"})
    assert await store.count(left) == 2 and await store.count(right) == 1
    assert _keys(await store.find(right)) == ["k"]
    assert await store.delete(right, "k") is True
    assert await store.get(left, "k") is not None
    assert await store.get(right, "only-left") is None


async def test_services_are_isolated_through_open_store(open_backend: Opener) -> None:
    """It gives each service its own data: one collection and key never leak across services."""
    coll = unique("shared_name")
    ingest, router = open_backend("ingest"), open_backend("router")
    await ingest.put(coll, "k", {"owner": "ingest"})
    assert await router.get(coll, "k") is None
    assert await router.count(coll) == 0
    assert await router.insert(coll, "k", {"owner": "router"}) is True
    assert await ingest.get(coll, "k") == Stored("k", 1, {"owner": "ingest"})


async def test_data_survives_close_and_reopen(open_backend: Opener) -> None:
    """It finds every write again after the store is closed and opened anew."""
    coll = unique("durable")
    first = open_backend()
    await first.put(coll, "k", {"n": 1})
    await first.put(coll, "k", {"n": 2})
    assert await first.insert(coll, "event-1", {"seen": True})
    await first.close()
    second = open_backend()
    assert await second.get(coll, "k") == Stored("k", 2, {"n": 2})
    assert await second.insert(coll, "event-1", {"seen": True}) is False
    assert await second.put(coll, "k", {"n": 3}, expected_version=2) == 3


async def test_closed_store_refuses_calls(open_backend: Opener) -> None:
    """It raises StoreClosed after close, and closing twice is harmless."""
    store = open_backend()
    coll = unique("closed")
    await store.put(coll, "k", {})
    await store.close()
    await store.close()
    with pytest.raises(StoreClosed):
        await store.get(coll, "k")
    with pytest.raises(StoreClosed):
        await store.put(coll, "k", {})


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["", "1abc", "bad name", "x; DROP TABLE documents", "a.b", "a-b", "$where", "é", "x" * 65]
)
async def test_invalid_collection_name_is_rejected(store: DocumentStore, name: str) -> None:
    """It rejects a collection name that is not an identifier, naming it in the error."""
    with pytest.raises(InvalidName, match="invalid collection name") as error:
        await store.put(name, "k", {})
    assert repr(name) in str(error.value)
    for call in (
        store.get(name, "k"),
        store.insert(name, "k", {}),
        store.delete(name, "k"),
        store.find(name),
        store.count(name),
    ):
        with pytest.raises(InvalidName):
            await call


async def test_invalid_field_names_are_rejected(store: DocumentStore) -> None:
    """It rejects filter and order fields that are not identifiers (no paths, no operators)."""
    coll = unique("fields")
    await store.put(coll, "k", {"a": {"b": 1}})
    with pytest.raises(InvalidName, match="invalid field name"):
        await store.find(coll, where={"a.b": 1})
    with pytest.raises(InvalidName, match="invalid field name"):
        await store.count(coll, where={"$or": 1})
    with pytest.raises(InvalidName, match="invalid field name"):
        await store.find(coll, order_by="a') DESC --")


async def test_invalid_keys_documents_and_filter_values_are_rejected(store: DocumentStore) -> None:
    """It rejects empty or non-string keys, non-JSON documents and non-scalar filter values."""
    coll = unique("invalid")
    for key in ("", 7, "a\x00b", "x" * 1025):
        with pytest.raises(InvalidKey):
            await store.put(coll, key, {})  # type: ignore[arg-type]
    for doc in (
        ["not", "an", "object"],
        {"nan": float("nan")},
        {"inf": [float("inf")]},
        {1: "int key"},
        {"set": {1, 2}},
        {"big": 2**64},
        {"bytes": b"x"},
        {"surrogate": "\ud800"},
    ):
        with pytest.raises(InvalidDocument):
            await store.insert(coll, "k", doc)  # type: ignore[arg-type]
    with pytest.raises(InvalidDocument):
        await store.find(coll, where={"a": {"$gt": 1}})
    with pytest.raises(InvalidDocument):
        await store.find(coll, where={"a": [[1]]})
    assert await store.count(coll) == 0


# -- open_store --------------------------------------------------------------------------------


async def test_open_store_defaults_to_sqlite_under_the_service_dir(tmp_path: Path) -> None:
    """It opens the SQLite file <home>/<service>/store.sqlite3 when no MongoDB URL is set."""
    settings = MeshSettings(home=tmp_path, mongodb_url=None)
    store = open_store(settings, "ingest")
    try:
        assert isinstance(store, SQLiteDocumentStore)
        assert isinstance(store, DocumentStore)
        assert store.path == tmp_path / "ingest" / STORE_FILENAME
        await store.put("probe", "k", {})
        assert store.path.exists()
    finally:
        await store.close()
    with pytest.raises(InvalidName, match="invalid service name"):
        open_store(settings, "../etc")


async def test_open_store_uses_mongodb_when_a_url_is_set(tmp_path: Path) -> None:
    """It opens MongoDB (lazily, no connection yet) with collections prefixed by the service."""
    from services.mesh.store.mongo import MongoDocumentStore

    settings = MeshSettings(home=tmp_path, mongodb_url="mongodb://127.0.0.1:1", mongodb_database="sw_x")
    store = open_store(settings, "router")
    try:
        assert isinstance(store, MongoDocumentStore)
        assert isinstance(store, DocumentStore)
        assert (store.database, store.prefix) == ("sw_x", "router")
        assert store.collection_name("jobs") == "router.jobs"
    finally:
        await store.close()
