"""Fixtures of the contract tests."""

from __future__ import annotations

# --- document store fixtures (tests/contract/test_store_conformance.py) ---------------------
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.mesh.settings import MeshSettings
from services.mesh.store import DocumentStore, open_store

STORE_SERVICE = "contract"
NO_MONGODB = "STREAMWRIGHT_MONGODB_URL not set and no Docker engine"


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    """A MongoDB URL: STREAMWRIGHT_MONGODB_URL, else a testcontainers MongoDB, else skip."""
    url = os.environ.get("STREAMWRIGHT_MONGODB_URL")
    if url:
        yield url
        return
    if not _docker_answers():
        pytest.skip(NO_MONGODB)
    try:
        from testcontainers.community.mongodb import MongoDbContainer
    except ImportError:  # testcontainers before the community split
        from testcontainers.mongodb import MongoDbContainer
    with MongoDbContainer("mongo:7.0") as container:
        yield container.get_connection_url()


def open_spec(spec: dict[str, Any], service: str = STORE_SERVICE) -> DocumentStore:
    """Open the store a spec describes (a plain dict, so it can cross to another process)."""
    return open_store(MeshSettings(**spec), service)


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Settings (as a dict) selecting one backend, with storage private to this test."""
    if request.param == "sqlite":
        # mongodb_url=None explicitly: the environment must not turn this into MongoDB.
        yield {"home": str(tmp_path), "mongodb_url": None}
        return
    url: str = request.getfixturevalue("mongodb_url")
    database = f"sw_contract_{uuid.uuid4().hex[:16]}"
    yield {"home": str(tmp_path), "mongodb_url": url, "mongodb_database": database}
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(url)
    try:
        client.drop_database(database)
    finally:
        client.close()


@pytest.fixture
async def open_backend(store_spec: dict[str, Any]) -> AsyncIterator[Callable[..., DocumentStore]]:
    """Opens stores on this test's backend (same storage each time); closes them after."""
    opened: list[DocumentStore] = []

    def opener(service: str = STORE_SERVICE) -> DocumentStore:
        store = open_spec(store_spec, service)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        await store.close()


@pytest.fixture
def store(open_backend: Callable[..., DocumentStore]) -> DocumentStore:
    """A document store on the backend under test."""
    return open_backend()
