"""The typed deployment record: the stored documents of today's router read back and write identically.

The fixtures are deployment documents as the router stored them before the record was typed (captured
from its stop/rollback flows; run ids, paths and times shortened): their bytes must not change.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from test_deployments import OPS, FakeDeployer, deploy, make_handlers

from services.mesh.store import SQLiteDocumentStore
from services.router.adapters.runs_store import StoreRunRepository
from services.router.deployments import load_deployment, save_deployment
from services.router.domain.deployment import Deployment, DeploymentEntry, DeploymentState

SQLGW_UPGRADED: dict[str, Any] = {
    "domain": "orders",
    "run_id": "01RUN000000000000000000001",
    "revision": 2,
    "attempt": 1,
    "artifact_ref": "/srv/art/art-01RUN000000000000000000001",
    "content_hash": "h2",
    "target": "sql-gateway",
    "job_id": "job-2",
    "deployment_ref": "http://flink/jobs/job-2",
    "savepoint_restored": "file:///savepoints/sp-job-1",
    "state": "RUNNING",
    "reason": "job job-2 is running on sql-gateway",
    "started_at": "2025-01-01T00:00:00+00:00",
    "history": [
        {
            "run_id": "01RUN000000000000000000002",
            "revision": 1,
            "attempt": 1,
            "artifact_ref": "/srv/art/art-01RUN000000000000000000002",
            "content_hash": "h1",
            "target": "sql-gateway",
            "job_id": "job-1",
            "deployment_ref": "http://flink/jobs/job-1",
            "savepoint_restored": None,
            "started_at": "2025-01-01T00:00:01+00:00",
            "state": "RUNNING",
        }
    ],
}

SQLGW_FAILED_ROLLBACK: dict[str, Any] = {
    "domain": "orders",
    "run_id": "01RUN000000000000000000002",
    "revision": 1,
    "attempt": 1,
    "artifact_ref": "/srv/art/art-01RUN000000000000000000002",
    "content_hash": "h1",
    "target": "sql-gateway",
    "job_id": "job-3",
    "deployment_ref": "http://flink/jobs/job-3",
    "savepoint_restored": "file:///savepoints/sp-job-2",
    "state": "STOPPED",
    "reason": "rolling back to revision 2 (savepoint file:///savepoints/sp-job-3)",
    "started_at": "2025-01-01T00:00:02+00:00",
    "history": [
        {
            "run_id": "01RUN000000000000000000002",
            "revision": 1,
            "attempt": 1,
            "artifact_ref": "/srv/art/art-01RUN000000000000000000002",
            "content_hash": "h1",
            "target": "sql-gateway",
            "job_id": "job-1",
            "deployment_ref": "http://flink/jobs/job-1",
            "savepoint_restored": None,
            "started_at": "2025-01-01T00:00:01+00:00",
            "state": "RUNNING",
        },
        {
            "run_id": "01RUN000000000000000000001",
            "revision": 2,
            "attempt": 1,
            "artifact_ref": "/srv/art/art-01RUN000000000000000000001",
            "content_hash": "h2",
            "target": "sql-gateway",
            "job_id": "job-2",
            "deployment_ref": "http://flink/jobs/job-2",
            "savepoint_restored": "file:///savepoints/sp-job-1",
            "savepoint_path": "file:///savepoints/sp-job-2",
            "started_at": "2025-01-01T00:00:00+00:00",
            "stopped_at": "2025-01-01T00:00:03+00:00",
            "state": "STOPPED",
        },
    ],
    "rolled_back_from": 2,
    "savepoint_path": "file:///savepoints/sp-job-3",
    "stopped_at": "2025-01-01T00:00:04+00:00",
    "stopped_by": None,
    "last_error": "Flink refused the job",
}

MANIFEST_STOPPED: dict[str, Any] = {
    "domain": "orders",
    "run_id": "01RUN000000000000000000003",
    "revision": 2,
    "attempt": 1,
    "artifact_ref": "/srv/art/art-01RUN000000000000000000003",
    "content_hash": "h2",
    "target": "manifest",
    "job_id": None,
    "deployment_ref": "/srv/art/out/job/orders/deployment",
    "savepoint_restored": None,
    "state": "STOPPED",
    "reason": "pause (suspended in the manifests; the operator takes the savepoint)",
    "started_at": "2025-01-01T00:00:05+00:00",
    "history": [
        {
            "run_id": "01RUN000000000000000000004",
            "revision": 1,
            "attempt": 1,
            "artifact_ref": "/srv/art/art-01RUN000000000000000000004",
            "content_hash": "h1",
            "target": "manifest",
            "job_id": None,
            "deployment_ref": "/srv/art/out/job/orders/deployment",
            "savepoint_restored": None,
            "started_at": "2025-01-01T00:00:06+00:00",
            "state": "RUNNING",
            "manifests": {"deploy-orders-v3.yaml": "kind: FlinkDeployment\n"},
        }
    ],
    "manifests": {"deploy-orders-v3.yaml": "kind: FlinkDeployment\n"},
    "savepoint_path": None,
    "stopped_at": "2025-01-01T00:00:07+00:00",
    "stopped_by": None,
}

MANIFEST_ROLLED_BACK: dict[str, Any] = {
    "domain": "orders",
    "run_id": "01RUN000000000000000000003",
    "revision": 2,
    "attempt": 1,
    "artifact_ref": "/srv/art/art-01RUN000000000000000000003",
    "content_hash": "h2",
    "target": "manifest",
    "job_id": None,
    "deployment_ref": "/srv/art/out/job/orders/deployment",
    "savepoint_restored": None,
    "state": "RUNNING",
    "reason": "rolled back from revision 3",
    "started_at": "2025-01-01T00:00:08+00:00",
    "history": [
        {
            "run_id": "01RUN000000000000000000004",
            "revision": 1,
            "attempt": 1,
            "artifact_ref": "/srv/art/art-01RUN000000000000000000004",
            "content_hash": "h1",
            "target": "manifest",
            "job_id": None,
            "deployment_ref": "/srv/art/out/job/orders/deployment",
            "savepoint_restored": None,
            "started_at": "2025-01-01T00:00:06+00:00",
            "state": "RUNNING",
            "manifests": {"deploy-orders-v3.yaml": "kind: FlinkDeployment\n"},
        },
        {
            "run_id": "01RUN000000000000000000003",
            "revision": 2,
            "attempt": 1,
            "artifact_ref": "/srv/art/art-01RUN000000000000000000003",
            "content_hash": "h2",
            "target": "manifest",
            "job_id": None,
            "deployment_ref": "/srv/art/out/job/orders/deployment",
            "savepoint_restored": None,
            "savepoint_path": None,
            "started_at": "2025-01-01T00:00:05+00:00",
            "stopped_at": "2025-01-01T00:00:07+00:00",
            "state": "STOPPED",
            "manifests": {"deploy-orders-v3.yaml": "kind: FlinkDeployment\n"},
        },
        {
            "run_id": "01RUN000000000000000000005",
            "revision": 3,
            "attempt": 1,
            "artifact_ref": "/srv/art/art-01RUN000000000000000000005",
            "content_hash": "h3",
            "target": "manifest",
            "job_id": None,
            "deployment_ref": "/srv/art/out/job/orders/deployment",
            "savepoint_restored": None,
            "savepoint_path": None,
            "started_at": "2025-01-01T00:00:09+00:00",
            "stopped_at": "2025-01-01T00:00:10+00:00",
            "state": "STOPPED",
            "manifests": {"deploy-orders-v3.yaml": "kind: FlinkDeployment\n"},
        },
    ],
    "manifests": {"deploy-orders-v3.yaml": "kind: FlinkDeployment\n"},
    "rolled_back_from": 3,
}

STORED = {
    "running, upgraded once": SQLGW_UPGRADED,
    "stopped by a failed rollback": SQLGW_FAILED_ROLLBACK,
    "manifest, stopped without savepoint": MANIFEST_STOPPED,
    "manifest, rolled back": MANIFEST_ROLLED_BACK,
}
# How the router built a history entry before the record was typed: these keys, when present.
HISTORY_KEYS = (
    "run_id",
    "revision",
    "attempt",
    "artifact_ref",
    "content_hash",
    "target",
    "job_id",
    "deployment_ref",
    "savepoint_restored",
    "savepoint_path",
    "started_at",
    "stopped_at",
    "state",
    "manifests",
)


def stored_text(doc: Mapping[str, Any]) -> str:
    """The document as the SQLite store encodes it (key order and nulls included)."""
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@pytest.mark.parametrize("doc", STORED.values(), ids=STORED.keys())
def test_stored_documents_write_back_identically(doc: dict[str, Any]) -> None:
    """It writes a stored document back with the same keys, key order and nulls."""
    assert stored_text(Deployment.from_dict(doc).to_dict()) == stored_text(doc)


@pytest.mark.parametrize("doc", STORED.values(), ids=STORED.keys())
def test_history_entry_keeps_what_the_untyped_router_kept(doc: dict[str, Any]) -> None:
    """It makes the same history entry as the dict filter over HISTORY_KEYS did."""
    expected = {k: doc[k] for k in HISTORY_KEYS if k in doc}
    assert stored_text(Deployment.from_dict(doc).as_entry().to_dict()) == stored_text(expected)


def test_typed_fields_of_a_stored_document() -> None:
    """It reads the values, states and history of a stored record into typed fields."""
    record = Deployment.from_dict(SQLGW_FAILED_ROLLBACK)
    assert record.stopped and record.state is DeploymentState.STOPPED
    assert (record.revision, record.rolled_back_from, record.stopped_by) == (1, 2, None)
    assert record.savepoint_path == "file:///savepoints/sp-job-3"
    assert record.last_error == "Flink refused the job" and record.extra == {}
    first, second = record.history
    assert isinstance(first, DeploymentEntry) and not first.stopped and first.savepoint_path is None
    assert second.stopped and second.revision == 2 and second.savepoint_path == "file:///savepoints/sp-job-2"
    manifest = Deployment.from_dict(MANIFEST_STOPPED)
    assert manifest.job_id is None and manifest.manifests == {
        "deploy-orders-v3.yaml": "kind: FlinkDeployment\n"
    }


async def test_the_sqlite_store_bytes_are_unchanged_after_read_and_write(tmp_path: Path) -> None:
    """It leaves the stored bytes of every fixture unchanged through load_deployment/save_deployment."""
    path = tmp_path / "router.sqlite3"
    runs = StoreRunRepository(SQLiteDocumentStore(path))

    def raw(domain: str) -> str:
        with sqlite3.connect(path) as db:
            (text,) = db.execute(
                "SELECT doc FROM documents WHERE collection = 'router_deployments' AND key = ?", (domain,)
            ).fetchone()
        return str(text)

    for i, doc in enumerate(STORED.values()):
        domain = f"d{i}"
        await runs.save_deployment(domain, {**doc, "domain": domain})
        before = raw(domain)
        loaded = await load_deployment(runs, domain)
        assert loaded is not None and loaded.domain == domain
        await save_deployment(runs, loaded)
        assert raw(domain) == before


def test_unknown_keys_survive_and_a_hand_set_savepoint_is_kept() -> None:
    """It keeps keys it does not know, and never drops a savepoint path set without a stop time."""
    edited = {**SQLGW_UPGRADED, "operator_note": "pinned", "state": "STOPPED", "savepoint_path": "s3://sp/1"}
    record = Deployment.from_dict(edited)
    assert record.extra == {"operator_note": "pinned"} and record.savepoint_path == "s3://sp/1"
    written = record.to_dict()
    assert written["operator_note"] == "pinned" and written["savepoint_path"] == "s3://sp/1"
    assert written["stopped_at"] is None and written["stopped_by"] is None


def test_anything_but_stopped_reads_as_running() -> None:
    """It treats a missing or unknown state as running, as the untyped router did."""
    for state in (None, "", "running", "PAUSED"):
        doc = {k: v for k, v in SQLGW_UPGRADED.items() if k != "state"}
        if state is not None:
            doc["state"] = state
        assert Deployment.from_dict(doc).state is DeploymentState.RUNNING


# A record as the router stored it before attempts, states and reasons were kept.
def _legacy(doc: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("domain", "run_id", "revision", "content_hash", "target", "job_id", "deployment_ref")
    entry_keys = ("run_id", "revision", "target", "job_id", "deployment_ref", "started_at")
    return {
        **{k: doc[k] for k in keys},
        "savepoint_restored": doc["savepoint_restored"],
        "started_at": doc["started_at"],
        "history": [{k: e.get(k) for k in entry_keys} for e in doc["history"]],
    }


def test_a_legacy_record_reads_with_defaults() -> None:
    """It reads a record without attempt, artifact_ref, state and reason; they come back empty."""
    record = Deployment.from_dict(_legacy(SQLGW_UPGRADED))
    assert (record.attempt, record.artifact_ref, record.state, record.reason) == (
        None,
        None,
        DeploymentState.RUNNING,
        "",
    )
    (entry,) = record.history
    assert (entry.run_id, entry.revision, entry.attempt, entry.content_hash) == (
        SQLGW_UPGRADED["history"][0]["run_id"],
        1,
        None,
        None,
    )


async def test_rollback_from_a_legacy_record_finds_attempt_and_artifact_in_the_run(tmp_path: Path) -> None:
    """It rolls back from a legacy record: the run's attempt, artifact and SQL start the old revision."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    run1 = await deploy(handlers, tmp_path, 1)
    await deploy(handlers, tmp_path, 2)
    current = await handlers.runs.deployment("orders")
    assert current is not None
    await handlers.runs.save_deployment("orders", _legacy(current))

    back = await handlers.rollback("orders", by=OPS)
    restart = deployer.started[-1]
    assert (restart.run_id, restart.revision, restart.attempt) == (run1, 1, 1)
    assert restart.artifact_ref and run1 in restart.artifact_ref and "sink_r1" in (restart.sql or "")
    assert back.revision == 1 and back.rolled_back_from == 2 and back.history[-1].stopped
    assert (await handlers.runs.deployment("orders")) == back.to_dict()
