"""MongoDB adapter of the document store, on pymongo's `AsyncMongoClient`.

Each stored document is `{_id: key, version: int, doc: {...}}` in the MongoDB collection
`<prefix>.<collection>` (the prefix is the service name, so services sharing a database
never read each other's data). Keying by `_id` gives uniqueness from the index MongoDB
always has, so no index has to be created for the store's own guarantees:
- `insert` is `insert_one`, a `DuplicateKeyError` meaning "already there";
- `put` with `expected_version=n` is `update_one({_id, version: n})` (0: `insert_one`), a
  single-document atomic compare-and-set;
- `put` without it is an upsert that increments `version` (server-side, so concurrent
  writers each get their own version).
Filters address `doc.<field>` with `$in` plus `$not: {$type: "array"}`, so matching is as
type-strict as the SQLite adapter's (a scalar never matches inside an array).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.mesh.store.base import (
    InvalidName,
    StoreClosed,
    Stored,
    VersionConflict,
    check_expected_version,
    check_key,
    check_name,
    check_page,
    to_document,
    to_filter,
)

__all__ = ["MongoDocumentStore"]

Raw = dict[str, Any]

# An upsert racing another upsert of the same new _id can fail with a duplicate key
# (servers before 4.2 do not retry it themselves); the retry then finds the document.
_UPSERT_ATTEMPTS = 3


def _mongo_filter(where: Mapping[str, Any] | None) -> Raw:
    query: Raw = {}
    for field, values in to_filter(where):
        query[f"doc.{field}"] = {"$in": values, "$not": {"$type": "array"}}
    return query


def _stored(raw: Raw) -> Stored:
    return Stored(str(raw["_id"]), int(raw["version"]), dict(raw["doc"]))


class MongoDocumentStore:
    """`DocumentStore` on one MongoDB database, collections named `<prefix>.<collection>`."""

    def __init__(
        self,
        client: AsyncMongoClient[Raw],
        database: str,
        *,
        prefix: str,
        owns_client: bool = True,
    ) -> None:
        check_name(prefix, "collection prefix")
        if prefix == "system":
            raise InvalidName("collection prefix 'system' is reserved by MongoDB")
        if not isinstance(database, str) or not database:
            raise InvalidName(f"invalid database name {database!r}")
        self.prefix = prefix
        self.database = database
        self._client = client
        self._db = client[database]
        self._owns_client = owns_client
        self._closed = False

    @classmethod
    def from_url(cls, url: str, database: str, *, prefix: str, **client_options: Any) -> MongoDocumentStore:
        """A store with its own client (closed by `close`); the client connects lazily."""
        client: AsyncMongoClient[Raw] = AsyncMongoClient(url, **client_options)
        return cls(client, database, prefix=prefix, owns_client=True)

    def __repr__(self) -> str:
        return f"MongoDocumentStore(database={self.database!r}, prefix={self.prefix!r})"

    def collection_name(self, collection: str) -> str:
        """The MongoDB collection that holds `collection`."""
        return f"{self.prefix}.{check_name(collection)}"

    def _coll(self, collection: str) -> AsyncCollection[Raw]:
        if self._closed:
            raise StoreClosed(f"{self!r} is closed")
        return self._db[self.collection_name(collection)]

    async def _version(self, coll: AsyncCollection[Raw], key: str) -> int:
        raw = await coll.find_one({"_id": key}, projection={"version": True})
        return 0 if raw is None else int(raw["version"])

    # -- DocumentStore ----------------------------------------------------------------------

    async def get(self, collection: str, key: str) -> Stored | None:
        coll = self._coll(collection)
        raw = await coll.find_one({"_id": check_key(key)})
        return None if raw is None else _stored(raw)

    async def insert(self, collection: str, key: str, doc: Mapping[str, Any]) -> bool:
        coll = self._coll(collection)
        body = {"_id": check_key(key), "version": 1, "doc": to_document(doc)}
        try:
            await coll.insert_one(body)
        except DuplicateKeyError:
            return False
        return True

    async def put(
        self,
        collection: str,
        key: str,
        doc: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> int:
        coll = self._coll(collection)
        check_key(key)
        check_expected_version(expected_version)
        body = to_document(doc)
        if expected_version is None:
            return await self._upsert(coll, key, body)
        if expected_version == 0:
            try:
                await coll.insert_one({"_id": key, "version": 1, "doc": body})
            except DuplicateKeyError:
                raise VersionConflict(collection, key, 0, await self._version(coll, key)) from None
            return 1
        new_version = expected_version + 1
        result = await coll.update_one(
            {"_id": key, "version": expected_version},
            {"$set": {"version": new_version, "doc": body}},
        )
        if result.matched_count != 1:
            raise VersionConflict(collection, key, expected_version, await self._version(coll, key))
        return new_version

    async def _upsert(self, coll: AsyncCollection[Raw], key: str, body: Raw) -> int:
        for attempt in range(_UPSERT_ATTEMPTS):
            try:
                raw = await coll.find_one_and_update(
                    {"_id": key},
                    {"$set": {"doc": body}, "$inc": {"version": 1}},
                    projection={"version": True},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                if attempt + 1 == _UPSERT_ATTEMPTS:
                    raise
                continue
            if raw is not None:
                return int(raw["version"])
        raise RuntimeError("unreachable: upsert returned no document")  # pragma: no cover

    async def delete(self, collection: str, key: str) -> bool:
        coll = self._coll(collection)
        result = await coll.delete_one({"_id": check_key(key)})
        return result.deleted_count == 1

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
        coll = self._coll(collection)
        check_page(limit, offset)
        query = _mongo_filter(where)
        direction = DESCENDING if descending else ASCENDING
        if order_by is None:
            sort = [("_id", direction)]
        else:
            sort = [(f"doc.{check_name(order_by, 'field')}", direction), ("_id", ASCENDING)]
        if limit == 0:
            return []  # MongoDB reads limit 0 as "no limit"
        cursor = coll.find(query, sort=sort, skip=offset, limit=limit or 0)
        return [_stored(raw) for raw in await cursor.to_list()]

    async def count(self, collection: str, *, where: Mapping[str, Any] | None = None) -> int:
        coll = self._coll(collection)
        return int(await coll.count_documents(_mongo_filter(where)))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.close()
