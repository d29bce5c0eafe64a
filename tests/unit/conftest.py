"""Every test under tests/unit runs inside the unit tier's guard (tests/unit_tier_guard.py): one that
starts a JVM or child process, opens a server or connects out fails with UnitTierViolation."""

from __future__ import annotations

from tests.unit_tier_guard import (  # noqa: F401  (hooks: pytest finds them in this conftest)
    pytest_runtest_call,
    pytest_runtest_setup,
    pytest_runtest_teardown,
)
