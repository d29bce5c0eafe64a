"""The ingest service scenarios of tests/integration/ingest/, on a real Apache Kafka.

Submissions in over gRPC and straight from Kafka, RequestAccepted / RequestRejected out, and
duplicate detection: the test functions (and their `ingest` fixture) are imported unchanged;
only `mesh_settings` points at the Kafka container. Skipped as a whole where no Docker engine answers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
from test_ingest_service import (
    ingest,
    test_duplicates_make_no_second_revision,
    test_upstream_kafka_submission_is_checked,
    test_valid_and_invalid_submissions_are_accepted_and_rejected,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

__all__ = [
    "ingest",
    "test_duplicates_make_no_second_revision",
    "test_upstream_kafka_submission_is_checked",
    "test_valid_and_invalid_submissions_are_accepted_and_rejected",
]
