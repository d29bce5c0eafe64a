"""Document store: one async port (`DocumentStore`), a SQLite and a MongoDB adapter.

`open_store(settings, service)` picks the adapter: MongoDB when `STREAMWRIGHT_MONGODB_URL`
is set (collections prefixed with the service name), else the SQLite file
`<home>/<service>/store.sqlite3`. The MongoDB adapter (and pymongo) is imported only
when it is used (it is the `mongodb` extra), so services on the embedded default start faster and
need no pymongo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.mesh.extras import installed
from services.mesh.settings import MONGODB_EXTRA_HINT, MeshSettings, SettingsError
from services.mesh.store.base import (
    DocumentStore,
    InvalidDocument,
    InvalidKey,
    InvalidName,
    StoreClosed,
    Stored,
    StoreError,
    VersionConflict,
    check_name,
)
from services.mesh.store.sqlite import SQLiteDocumentStore

if TYPE_CHECKING:
    from services.mesh.store.mongo import MongoDocumentStore

__all__ = [
    "STORE_FILENAME",
    "DocumentStore",
    "InvalidDocument",
    "InvalidKey",
    "InvalidName",
    "MongoDocumentStore",
    "SQLiteDocumentStore",
    "StoreClosed",
    "StoreError",
    "Stored",
    "VersionConflict",
    "open_store",
]

STORE_FILENAME = "store.sqlite3"


def open_store(settings: MeshSettings, service: str) -> DocumentStore:
    """The document store of `service`; nothing is connected or created until first use."""
    check_name(service, "service")
    if settings.mongodb_url is not None:
        if not installed("pymongo"):  # MeshSettings checks it too; a model_copy skips that
            raise SettingsError(f"STREAMWRIGHT_MONGODB_URL: {MONGODB_EXTRA_HINT}")
        from services.mesh.store.mongo import MongoDocumentStore

        return MongoDocumentStore.from_url(
            settings.mongodb_url.get_secret_value(), settings.mongodb_database, prefix=service
        )
    return SQLiteDocumentStore(settings.service_dir(service) / STORE_FILENAME)


def __getattr__(name: str) -> Any:
    if name == "MongoDocumentStore":
        from services.mesh.store.mongo import MongoDocumentStore

        return MongoDocumentStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
