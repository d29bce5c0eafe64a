"""The real Flink engine (and a private PostgreSQL for exact runs) that the generator's
on-Flink tests share, one per module. Each skips, saying why, only where the part cannot run:
the connector jars are not fetched (`scripts/fetch_flink_jars.py`) or PostgreSQL's binaries are
missing; `make test` fetches the jars and CI installs PostgreSQL, so neither skips there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.validator.adapters.connector_jars import default_jar_dir
from services.validator.adapters.flink_engine import FlinkEngine
from services.validator.adapters.postgres import PostgresUnavailable, PrivatePostgres


@pytest.fixture(scope="module")
def engine() -> Iterator[FlinkEngine]:
    eng = FlinkEngine(jar_dir=default_jar_dir())
    if not eng.jars_available:
        pytest.skip(f"connector jars unavailable: {eng.jars_missing}")
    yield eng.start()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    try:
        server = PrivatePostgres().start()
    except PostgresUnavailable as error:
        pytest.skip(f"PostgreSQL unavailable: {error}")
    try:
        yield server
    finally:
        server.stop()
