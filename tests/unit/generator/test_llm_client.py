"""LLM repair end to end through the handler, with litellm's mock_response (no network)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from services.flinksql.spec import RequestSpec
from services.generator.adapters.llm_client import LitellmClient
from services.generator.domain import Profile
from services.generator.domain.compile import compile_job
from services.generator.domain.repair import ChatMessage
from services.generator.handlers import GeneratorHandlers
from services.generator.ports import GeneratedAttempt, LlmAnswer, LlmError, RunSpec, StoredArtifact
from services.generator.version import GENERATOR_VERSION
from services.mesh.events import (
    DecidedBy,
    Decision,
    Envelope,
    Finding,
    GateDecided,
    GateMode,
    RequestAccepted,
    Severity,
    SqlGenerated,
    ValidationScored,
)
from services.mesh.ids import new_ulid
from tests.fakes import RecordingPublisher

MODEL = "gpt-4o-mini"


class MemoryArtifacts:
    def __init__(self) -> None:
        self.runs: dict[str, RunSpec] = {}
        self.attempts: dict[tuple[str, int], GeneratedAttempt] = {}
        self.files: dict[tuple[str, int], dict[str, str]] = {}
        self.found: dict[tuple[str, int], tuple[Finding, ...]] = {}

    async def save_run(self, run: RunSpec) -> None:
        self.runs[run.run_id] = run

    async def run(self, run_id: str) -> RunSpec | None:
        return self.runs.get(run_id)

    async def save_attempt(self, attempt: GeneratedAttempt, files: dict[str, str]) -> GeneratedAttempt:
        arts = tuple(
            StoredArtifact(path=p, sha256="0" * 64, media_type="text/plain", size_bytes=len(t))
            for p, t in files.items()
        )
        saved = attempt.model_copy(update={"artifacts": arts, "artifact_ref": f"mem:{attempt.attempt}"})
        self.attempts[(attempt.run_id, attempt.attempt)] = saved
        self.files[(attempt.run_id, attempt.attempt)] = dict(files)
        return saved

    async def attempt(self, run_id: str, attempt: int | None) -> GeneratedAttempt | None:
        if attempt is None:
            mine = [a for (r, _), a in self.attempts.items() if r == run_id]
            return max(mine, key=lambda a: a.attempt, default=None)
        return self.attempts.get((run_id, attempt))

    async def read_file(self, attempt: GeneratedAttempt, path: str) -> bytes:
        return self.files[(attempt.run_id, attempt.attempt)][path].encode()

    async def save_findings(self, run_id: str, attempt: int, findings: Sequence[Finding]) -> None:
        self.found[(run_id, attempt)] = tuple(findings)

    async def findings(self, run_id: str, attempt: int) -> tuple[Finding, ...] | None:
        return self.found.get((run_id, attempt))


class FailingLlm:
    model = "fake/failing"

    async def complete(self, messages: Sequence[ChatMessage]) -> LlmAnswer:
        raise LlmError("fake/failing: no answer within 1 s")


FINDING = Finding(
    code="accuracy.amount_filter",
    severity=Severity.CRITICAL,
    dimension="data_accuracy",
    message="orders with amount 0 must be dropped",
    suggestion="use > 0",
)


@pytest.fixture
def orders(specs: dict[str, RequestSpec], profile: Profile) -> tuple[RequestSpec, str]:
    spec = specs["orders"]
    job = compile_job(spec, target="2.3", profile=profile, revision=1, generator_version=GENERATOR_VERSION)
    return spec, job.sql


async def _run_to_regenerate(handlers: GeneratorHandlers, spec: RequestSpec) -> GateDecided:
    accepted = RequestAccepted(
        envelope=Envelope.new(
            event_type=RequestAccepted.EVENT_TYPE,
            producer="ingest",
            run_id=new_ulid(),
            request_id=new_ulid(),
            domain="orders",
        ),
        revision=1,
        content_hash="h1",
        spec_version="1",
        spec_json=spec.model_dump_json(),
    )
    await handlers.on_request_accepted(accepted)
    scored = ValidationScored(
        envelope=Envelope.caused_by(accepted, event_type=ValidationScored.EVENT_TYPE, producer="validator"),
        attempt=1,
        score=70.0,
        critical_count=1,
        warning_count=0,
        info_count=0,
        findings=(FINDING,),
        report_ref="mem:report",
        rule_set_version="1",
    )
    await handlers.on_validation_scored(scored)
    return GateDecided(
        envelope=Envelope.caused_by(scored, event_type=GateDecided.EVENT_TYPE, producer="router"),
        attempt=1,
        decision=Decision.REGENERATE,
        reason="score 70 below 85",
        mode=GateMode.STRICT,
        decided_by=DecidedBy.GATE,
    )


def _handlers(profile: Profile, answer: str) -> tuple[GeneratorHandlers, MemoryArtifacts, RecordingPublisher]:
    artifacts, publisher = MemoryArtifacts(), RecordingPublisher()
    llm = LitellmClient(model=MODEL, timeout_s=5, extra={"mock_response": answer})
    return (
        GeneratorHandlers(artifacts=artifacts, publisher=publisher, profile=profile, target="2.3", llm=llm),
        artifacts,
        publisher,
    )


async def test_repaired_sql_is_published_with_llm_used(
    orders: tuple[RequestSpec, str], profile: Profile
) -> None:
    spec, deterministic = orders
    repaired = deterministic.replace("AND (`ev`.`orderAmount` >= 0)", "AND (`ev`.`orderAmount` > 0)")
    handlers, artifacts, publisher = _handlers(profile, json.dumps({"sql": repaired}))
    gate = await _run_to_regenerate(handlers, spec)

    await handlers.on_gate_decided(gate)

    first, second = publisher.of(SqlGenerated)
    assert (first.attempt, first.llm_used, first.sql) == (1, False, deterministic)
    assert (second.attempt, second.llm_used) == (2, True)
    assert "`orderAmount` > 0" in second.sql
    stored = artifacts.attempts[(gate.envelope.run_id, 2)]
    assert stored.llm is not None and stored.llm.used and stored.llm.reason is None
    assert (
        stored.llm.findings == 1
        and stored.llm.prompt_tokens is not None
        and stored.llm.latency_ms is not None
    )
    files = artifacts.files[(gate.envelope.run_id, 2)]
    deployment = next(text for path, text in files.items() if "/deployment/" in path)
    assert "`orderAmount` > 0" in deployment and "repaired by an LLM" in deployment
    readme = next(text for path, text in files.items() if path.endswith(".md"))
    assert "## LLM repair" in readme and "accuracy.amount_filter" in readme

    await handlers.on_gate_decided(gate)  # redelivered: the stored attempt again, same event id
    again = publisher.of(SqlGenerated)[-1]
    assert (again.envelope.event_id, again.sql, again.llm_used) == (
        second.envelope.event_id,
        second.sql,
        True,
    )


async def test_invalid_answer_publishes_the_deterministic_sql_unmarked(
    orders: tuple[RequestSpec, str], profile: Profile
) -> None:
    spec, deterministic = orders
    handlers, artifacts, publisher = _handlers(
        profile, json.dumps({"sql": deterministic + "\nDROP TABLE `dim_shop`;"})
    )
    gate = await _run_to_regenerate(handlers, spec)

    await handlers.on_gate_decided(gate)

    second = publisher.of(SqlGenerated)[-1]
    assert (second.attempt, second.llm_used, second.sql) == (2, False, deterministic)
    stored = artifacts.attempts[(gate.envelope.run_id, 2)]
    assert stored.ok and stored.llm is not None and not stored.llm.used
    assert stored.llm.reason is not None and "LLM answer rejected" in stored.llm.reason
    assert "DROP TABLE" in stored.llm.reason


async def test_failed_call_publishes_the_deterministic_sql(
    orders: tuple[RequestSpec, str], profile: Profile
) -> None:
    spec, deterministic = orders
    artifacts, publisher = MemoryArtifacts(), RecordingPublisher()
    handlers = GeneratorHandlers(
        artifacts=artifacts, publisher=publisher, profile=profile, target="2.3", llm=FailingLlm()
    )
    gate = await _run_to_regenerate(handlers, spec)

    await handlers.on_gate_decided(gate)

    second = publisher.of(SqlGenerated)[-1]
    assert (second.llm_used, second.sql) == (False, deterministic)
    stored = artifacts.attempts[(gate.envelope.run_id, 2)]
    assert (
        stored.llm is not None and stored.llm.reason == "LLM call failed: fake/failing: no answer within 1 s"
    )
