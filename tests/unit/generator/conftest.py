"""Shared fixtures for the generator unit tests."""

from __future__ import annotations

import pytest
from gen_support import EXAMPLES, PROFILE, load_spec

from services.flinksql.spec import RequestSpec
from services.generator.domain import Profile


@pytest.fixture(scope="session")
def specs() -> dict[str, RequestSpec]:
    return {name: load_spec(name) for name in (*EXAMPLES, "hostile")}


@pytest.fixture(scope="session")
def profile() -> Profile:
    return PROFILE
