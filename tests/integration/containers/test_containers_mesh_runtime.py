"""The mesh runtime scenarios of tests/integration/test_mesh_runtime.py, on a real Apache Kafka.

The test functions (and their `mesh` fixture) are the same objects, imported: only
`mesh_settings` differs (this directory's conftest points it at the Kafka container).
Skipped as a whole where no Docker engine answers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_mesh_runtime import (
    mesh,
    test_a_failing_handler_is_retried_then_dead_lettered,
    test_events_flow_end_to_end_and_redeliveries_change_nothing,
    test_malformed_records_reach_the_dlq_with_their_decode_reason,
    test_offsets_are_committed_after_handling,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

__all__ = [
    "mesh",
    "test_a_failing_handler_is_retried_then_dead_lettered",
    "test_events_flow_end_to_end_and_redeliveries_change_nothing",
    "test_malformed_records_reach_the_dlq_with_their_decode_reason",
    "test_offsets_are_committed_after_handling",
]
