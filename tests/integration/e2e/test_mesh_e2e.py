"""The whole mesh: five service processes and the embedded broker, every example end to end.

This is `streamwright run` without the CLI: the supervisor starts every service as its own
process on free ports (telling each where its peers are). One mesh serves the module:

- every example (orders, payments, user-activity) reaches RUNNING through the real Flink
  planner and data-accuracy runs, with its manifests written; an invalid document is REJECTED
  with its errors retrievable over gRPC; each run ends with exactly one RunCompleted;
- a job whose cases expect wrong rows scores low, is regenerated once, scores low again and
  waits IN_REVIEW; a reviewer approves it over gRPC with their own token and it starts, the
  audit naming them; a reviewer without the approver role can neither approve nor reject, and
  a rejected run ends REJECTED.

gRPC auth is on for the whole mesh: services call each other with the shared token, the
reviewers have their own tokens (STREAMWRIGHT_GRPC_TOKENS). The router repairs with an
"LLM" (STREAMWRIGHT_ROUTER_LLM_REPAIR=true) so a failing attempt is regenerated; the generator
has no LLM, so the regenerated SQL is the same and the second attempt fails as well, which is
what sends the run to review (repair.max_attempts: 1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from meshkit import (
    EXAMPLE_NAMES,
    ROOT,
    Example,
    MeshClient,
    completions,
    events_of,
    example,
    manifest_record,
    per_attempt,
    running_mesh,
)

from services.mesh.events import GateDecided, RunStarted, SqlGenerated, ValidationScored
from services.mesh.rpc.streamwright.v1 import ingest_pb2, router_pb2
from services.mesh.supervisor import Supervisor

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.system]

MESH_TOKEN = "e2e-mesh-token"
ALICE, BOB = "e2e-alice-token", "e2e-bob-token"
REVIEW_DOMAIN = "orders_review"  # a routing rule sends its runs to review (see gate_config)
# Wrong expectations in two of orders' cases: both fail (Critical), and the score drops below 85.
WRONG_ROWS = (
    ('pay_amount: "237.50"', 'pay_amount: "999.99"'),
    ('pay_amount: "270.00"', 'pay_amount: "999.00"'),
)


def gate_config(path: Path) -> Path:
    """config/gate.yaml with one regeneration per run and a rule that reviews REVIEW_DOMAIN."""
    config = yaml.safe_load((ROOT / "config" / "gate.yaml").read_text(encoding="utf-8"))
    config["repair"]["max_attempts"] = 1
    config["routing"]["rules"].append(
        {
            "name": "e2e_review_domain",
            "priority": 0,
            "when": f"domain == '{REVIEW_DOMAIN}'",
            "route": "review",
            "reason": "this domain is always reviewed (test rule)",
        }
    )
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    home = tmp_path_factory.mktemp("mesh")
    env = {
        "STREAMWRIGHT_ROUTER_OUTPUT_DIR": str(home / "out"),
        "STREAMWRIGHT_ROUTER_GATE_CONFIG": str(gate_config(home / "gate.yaml")),
        "STREAMWRIGHT_ROUTER_LLM_REPAIR": "true",
        "STREAMWRIGHT_ROUTER_APPROVERS": json.dumps(["approver"]),
        "STREAMWRIGHT_GRPC_TOKEN": MESH_TOKEN,
        "STREAMWRIGHT_GRPC_TOKENS": json.dumps(
            {ALICE: {"subject": "alice", "roles": ["approver"]}, BOB: {"subject": "bob", "roles": []}}
        ),
    }
    with running_mesh(home, env) as supervisor:
        yield supervisor


def out_dir(supervisor: Supervisor) -> Path:
    return supervisor.settings.home / "out"


@pytest.mark.timeout(900)
async def test_every_example_reaches_running_and_an_invalid_request_is_rejected(mesh: Supervisor) -> None:
    """Each example: RUNNING, score >= 85, manifests written; the invalid one: REJECTED with its errors."""
    assert {c.name for c in mesh.children} == {"ingest", "generator", "validator", "knowledge", "router"}
    jobs = {name: example(name) for name in EXAMPLE_NAMES}
    orders = jobs["orders"]
    broken = Example(
        orders.domain, orders.document.replace('target_table: "dim_city"', 'target_table: "dim_town"'), None
    )
    assert broken.document != orders.document
    async with MeshClient(mesh) as client:
        submitted = {name: await client.submit(job, key=f"e2e-{name}") for name, job in jobs.items()}
        bad = await client.submit(broken)

        rejected = await client.settled(bad.run_id, 120)
        assert rejected.state_name == "REJECTED", rejected.reason
        stored = await client.ingest.GetRequest(ingest_pb2.GetRequestRequest(request_id=bad.request_id))
        assert any(e.name == "dim_town" and e.block == "join_relationships" for e in stored.errors), (
            stored.errors
        )

        runs = await client.all_settled([s.run_id for s in submitted.values()], 720)
        for name, sub in submitted.items():
            run = runs[sub.run_id]
            assert run.state_name == "RUNNING", (name, run.state_name, run.reason)
            assert run.score >= 85, (name, run.score)
            assert run.idempotency_key == f"e2e-{name}"
            assert run.domain == jobs[name].domain
            assert manifest_record(out_dir(mesh), run.domain)["run_id"] == sub.run_id

        # With an unknown token the mesh refuses the call: auth really is on.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await client.router_as("not-a-token").GetRun(
                router_pb2.GetRunRequest(run_id=bad.run_id), timeout=10
            )
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    run_ids = [bad.run_id, *(s.run_id for s in submitted.values())]
    completed = await completions(client.wire, run_ids)
    assert {r: [str(e.final_state) for e in completed[r]] for r in run_ids} == {
        bad.run_id: ["REJECTED"],
        **{s.run_id: ["RUNNING"] for s in submitted.values()},
    }


@pytest.mark.timeout(900)
async def test_a_failing_job_is_regenerated_then_reviewed_and_approved_by_its_reviewer(
    mesh: Supervisor,
) -> None:
    """Attempt 1 scores < 85 -> regenerate -> attempt 2 low -> IN_REVIEW -> alice approves -> RUNNING, audited."""
    job = example("orders").renamed("orders_regen")
    cases = job.cases or ""
    for right, wrong in WRONG_ROWS:
        assert cases.count(right) == 1, right
        cases = cases.replace(right, wrong)
    job = job.with_cases(cases)
    async with MeshClient(mesh) as client:
        sub = await client.submit(job)
        waiting = await client.settled(sub.run_id, 720)
        assert waiting.state_name == "IN_REVIEW", (waiting.state_name, waiting.reason)
        assert waiting.attempt == 2
        decisions = [(d.attempt, d.decision, d.decided_by) for d in waiting.decisions]
        assert decisions == [(1, "regenerate", "gate"), (2, "review", "gate")], decisions

        generated = per_attempt(events_of(client.wire, SqlGenerated, [sub.run_id])[sub.run_id])
        scored = events_of(client.wire, ValidationScored, [sub.run_id])[sub.run_id]
        assert sorted(generated) == [(sub.run_id, 1), (sub.run_id, 2)], generated
        assert sorted(s.attempt for s in scored) == [1, 2]
        for attempt in scored:  # each attempt scored low, failing the cases with wrong expectations
            failed = sorted(f.location for f in attempt.findings if f.code == "accuracy.case_failed")
            assert attempt.score < 85 and failed == [
                "case dimension_misses_and_closed_shop",
                "case enriched_orders",
            ], (
                attempt.score,
                failed,
            )

        review = router_pb2.ReviewRequest(
            run_id=sub.run_id, decision=router_pb2.REVIEW_DECISION_APPROVE, comment="expected row is wrong"
        )
        # bob has a valid token but not the approver role: refused, the run still waits.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await client.router_as(BOB).Review(review, timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, refused.value.details()
        # The reviewer is the token's identity: a request naming someone else is refused.
        review.reviewer = "mallory"
        with pytest.raises(grpc.aio.AioRpcError) as claimed:
            await client.router_as(ALICE).Review(review, timeout=10)
        assert claimed.value.code() == grpc.StatusCode.INVALID_ARGUMENT, claimed.value.details()
        review.ClearField("reviewer")
        await client.router_as(ALICE).Review(review, timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as again:  # a run is reviewed once
            await client.router_as(ALICE).Review(review, timeout=10)
        assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION, again.value.details()

        done = await client.until(sub.run_id, {"RUNNING", "FAILED", "REJECTED"}, 180)
        assert done.state_name == "RUNNING", done.reason
        assert done.reviewer == "alice"
        assert (done.decisions[-1].decision, done.decisions[-1].reviewer) == ("approved", "alice")
        assert manifest_record(out_dir(mesh), job.domain)["run_id"] == sub.run_id

    audit = [json.loads(line) for line in audit_lines(mesh)]
    mine = [entry for entry in audit if entry.get("run_id") == sub.run_id]
    assert [(e["decision"], e["reviewer"], e["attempt"]) for e in mine] == [("approved", "alice", 2)], mine
    assert mine[0]["comment"] == "expected row is wrong"
    completed = await completions(client.wire, [sub.run_id])
    assert [str(e.final_state) for e in completed[sub.run_id]] == ["RUNNING"]
    gates = events_of(client.wire, GateDecided, [sub.run_id])[sub.run_id]
    assert sorted({(g.attempt, str(g.decided_by), g.reviewer) for g in gates}) == [
        (1, "gate", None),
        (2, "gate", None),
        (2, "reviewer", "alice"),
    ]


@pytest.mark.timeout(600)
async def test_a_reviewer_rejects_a_run_and_it_ends_rejected(mesh: Supervisor) -> None:
    """Rejecting needs the approver role too: bob is refused; alice's rejection ends the run REJECTED,
    and it never starts."""
    job = example("orders").renamed(REVIEW_DOMAIN)
    async with MeshClient(mesh) as client:
        sub = await client.submit(job)
        waiting = await client.settled(sub.run_id, 480)
        assert waiting.state_name == "IN_REVIEW", (waiting.state_name, waiting.reason)
        assert [(d.decision, d.rule) for d in waiting.decisions] == [("review", "e2e_review_domain")]
        reject = router_pb2.ReviewRequest(
            run_id=sub.run_id, decision=router_pb2.REVIEW_DECISION_REJECT, comment="not this quarter"
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await client.router_as(BOB).Review(reject, timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, refused.value.details()
        await client.router_as(ALICE).Review(reject, timeout=10)
        done = await client.until(sub.run_id, {"REJECTED", "RUNNING", "FAILED"}, 60)
        assert done.state_name == "REJECTED"
        assert done.reviewer == "alice"
    completed = await completions(client.wire, [sub.run_id])
    assert [str(e.final_state) for e in completed[sub.run_id]] == ["REJECTED"]
    assert events_of(client.wire, RunStarted, [sub.run_id])[sub.run_id] == []
    assert not (out_dir(mesh) / "job" / REVIEW_DOMAIN / "deployment").exists()
    audit = [json.loads(line) for line in audit_lines(mesh)]
    assert [(e["decision"], e["reviewer"]) for e in audit if e.get("run_id") == sub.run_id] == [
        ("rejected", "alice")
    ]


def audit_lines(supervisor: Supervisor) -> list[str]:
    path = supervisor.settings.home / "router" / "review-audit.jsonl"
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
