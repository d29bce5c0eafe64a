"""Ingest use cases: take a submission, check it, record it, publish the outcome.

Idempotency has two layers. The consumer wrapper drops a redelivered event (same event_id).
Here, a client's idempotency key (default: the request id) binds to one request: a
resubmission under the same key is the same request and starts nothing. Identical content
under a new key gets a new request and run, but no new revision.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from services.flinksql.spec import SPEC_VERSION
from services.ingest.domain.checks import CheckResult, check_document
from services.ingest.domain.document import CheckBudgetExceeded, check_budget
from services.ingest.domain.errors import Issue as CheckIssue
from services.ingest.domain.errors import Issues
from services.ingest.domain.intake import UNPARSED_DOMAIN, RequestRecord, RequestState, assign_revision
from services.ingest.ports import Publisher, RequestRepository
from services.mesh.events import (
    Envelope,
    Issue,
    RequestAccepted,
    RequestRejected,
    RequestSubmitted,
    Severity,
    Source,
    utc_now,
)
from services.mesh.ids import derive, new_ulid
from services.mesh.logging import get_logger

PRODUCER = "ingest"
# `[^\S\n]*`, not `\s*`, after `^`: `\s*` crossed line ends, so every line start of a run of blank
# lines rescanned the whole run (64 KB of newlines took 7 s, on the event loop). Same matches.
_DOMAIN_LINE = re.compile(r"""^[^\S\n]*domain\s*:\s*["']?([a-z][a-z0-9_-]{0,63})["']?\s*(?:#.*)?$""", re.M)
log = get_logger(__name__)

# One check's wall-clock budget (docs/security.md, Input limits). The real examples check in
# well under 100 ms; STREAMWRIGHT_INGEST_CHECK_BUDGET_S overrides it (0.1-60 s).
DEFAULT_CHECK_BUDGET_S = 5.0
BUDGET_ENV = "STREAMWRIGHT_INGEST_CHECK_BUDGET_S"
# Checks run on these threads, never on the event loop; few, so hostile documents cannot take
# every thread of the process, and a check that overruns its budget holds one of them at most.
_CHECK_THREADS = 4
_checkers = ThreadPoolExecutor(max_workers=_CHECK_THREADS, thread_name_prefix="ingest-check")


def check_budget_from_env() -> float:
    """The budget from STREAMWRIGHT_INGEST_CHECK_BUDGET_S, or the default; a bad value is an error."""
    raw = os.environ.get(BUDGET_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_CHECK_BUDGET_S
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{BUDGET_ENV} must be a number of seconds, not {raw!r}") from None
    if not 0.1 <= value <= 60:
        raise ValueError(f"{BUDGET_ENV} must be between 0.1 and 60 seconds, not {raw!r}")
    return value


def _over_budget(budget_s: float) -> CheckResult:
    issues = Issues()
    issues.error(
        "input.check_budget_exceeded",
        f"checking the document took longer than its budget of {budget_s:g} s",
        block="document",
        line=None,
        hint="split the request or remove bulky parts (huge diagrams, very long lines); "
        f"the budget is set by {BUDGET_ENV}",
    )
    return CheckResult(spec=None, errors=issues.errors, warnings=issues.warnings)


def check_within_budget(text: str, *, cases_text: str | None, budget_s: float) -> CheckResult:
    """`check_document` with a wall-clock budget: over it, one `input.check_budget_exceeded` error.

    The lexers and the parser check the deadline as they go (`checkpoint`) and stop there; a
    check that overran it in a step without checkpoints is rejected all the same when it ends.
    """
    started = time.monotonic()
    try:
        with check_budget(budget_s):
            result = check_document(text, cases_text=cases_text)
    except CheckBudgetExceeded:
        return _over_budget(budget_s)
    if time.monotonic() - started > budget_s:
        return _over_budget(budget_s)
    return result


async def check_off_loop(text: str, *, cases_text: str | None, budget_s: float) -> CheckResult:
    """Run the check on a checker thread so the event loop (gRPC, health, Kafka) keeps answering.

    A thread, not a process: the check is pure Python and, with linear lexers, checks its deadline
    cooperatively; a pool of processes would cost a fork (unsafe next to gRPC's threads) or a
    spawn with every import per worker. If a check still runs past budget + 1 s (a step without
    checkpoints), the caller gets the budget error now and the thread finishes in the background.
    """
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(
        _checkers, lambda: check_within_budget(text, cases_text=cases_text, budget_s=budget_s)
    )
    try:
        return await asyncio.wait_for(asyncio.shield(future), timeout=budget_s + 1.0)
    except TimeoutError:
        log.warning("check overran its budget; answered without waiting", budget_s=budget_s)
        return _over_budget(budget_s)


@dataclass(frozen=True)
class Submission:
    request_id: str
    run_id: str
    duplicate: bool


def routing_domain(document: str) -> str:
    """The Kafka key of a submission before it is parsed: job_info.domain when it looks valid.

    Only ordering depends on it; the checked spec's domain is authoritative afterwards.
    """
    match = _DOMAIN_LINE.search(document[:65536])
    return match.group(1) if match else UNPARSED_DOMAIN


def _submitted_event(record: RequestRecord) -> RequestSubmitted:
    """The RequestSubmitted of a stored submission: the same event (same id) each time it is built."""
    return RequestSubmitted(
        envelope=Envelope(
            event_id=derive(record.request_id, RequestSubmitted.EVENT_TYPE),
            event_type=RequestSubmitted.EVENT_TYPE,
            schema_version=RequestSubmitted.SCHEMA_VERSION,
            occurred_at=record.submitted_at,
            run_id=record.run_id,
            request_id=record.request_id,
            domain=record.domain,
            producer=PRODUCER,
            idempotency_key=record.idempotency_key,
        ),
        document=record.document,
        source=Source(record.source),
        file_name=record.file_name,
        cases_yaml=record.cases_yaml,
        submitted_by=record.submitted_by,
    )


def to_event_issue(issue: CheckIssue) -> Issue:
    return Issue(
        code=issue.code,
        severity=Severity(issue.severity),
        message=issue.message,
        block=issue.block,
        line=issue.line,
        name=issue.name,
        hint=issue.hint,
    )


class IngestHandlers:
    def __init__(
        self,
        *,
        requests: RequestRepository,
        publisher: Publisher,
        clock: Callable[[], datetime] = utc_now,
        max_head_retries: int = 20,
        check_budget_s: float | None = None,
    ) -> None:
        self._requests = requests
        self._publisher = publisher
        self._clock = clock
        self._max_head_retries = max_head_retries
        self.check_budget_s = check_budget_s if check_budget_s is not None else check_budget_from_env()

    async def check(self, document: str, *, cases_text: str | None = None) -> CheckResult:
        """Check a document off the event loop, within this service's budget."""
        return await check_off_loop(document, cases_text=cases_text, budget_s=self.check_budget_s)

    async def submit(
        self,
        *,
        document: str,
        source: Source,
        file_name: str | None = None,
        cases_yaml: str | None = None,
        idempotency_key: str | None = None,
        submitted_by: str | None = None,
    ) -> Submission:
        """Record a submission and publish RequestSubmitted; a known key returns its ids.

        A known key whose request is still PENDING is published again: the process may have died
        between claiming the key and publishing (a client retrying after a crash would otherwise
        get ids of a run nobody ever hears of). The event id is derived from the request id, so a
        request that was published after all is dropped by its consumers as a duplicate.
        """
        request_id, run_id = new_ulid(), new_ulid()
        key = idempotency_key or request_id
        record = RequestRecord(
            request_id=request_id,
            run_id=run_id,
            idempotency_key=key,
            domain=routing_domain(document),
            state="PENDING",
            submitted_at=self._clock(),
            source=source.value,
            document=document,
            file_name=file_name,
            cases_yaml=cases_yaml,
            submitted_by=submitted_by,
        )
        bound_request, bound_run, fresh = await self._requests.claim_key(key, request_id, run_id)
        if fresh:
            await self._requests.save(record)
            await self._publisher.publish(_submitted_event(record))
            return Submission(request_id, run_id, duplicate=False)
        stored = await self._requests.get(bound_request)
        if stored is None:  # the process died between claiming the key and saving the request
            stored = record.model_copy(update={"request_id": bound_request, "run_id": bound_run})
            await self._requests.save(stored)
        if stored.state == "PENDING":  # maybe never published: a SIGKILL after the claim lost it
            await self._publisher.publish(_submitted_event(stored))
        return Submission(bound_request, bound_run, duplicate=True)

    async def on_request_submitted(self, event: RequestSubmitted) -> None:
        """Check the document; publish RequestAccepted (with its revision) or RequestRejected."""
        env = event.envelope
        key = env.idempotency_key or env.request_id
        bound_request, _, _ = await self._requests.claim_key(key, env.request_id, env.run_id)
        if bound_request != env.request_id:
            log.info("resubmission ignored", idempotency_key=key, original_request=bound_request)
            return
        result = await self.check(event.document, cases_text=event.cases_yaml)
        base = RequestRecord(
            request_id=env.request_id,
            run_id=env.run_id,
            idempotency_key=key,
            domain=env.domain,
            state="PENDING",
            submitted_at=env.occurred_at,
            source=event.source.value,
            document=event.document,
            file_name=event.file_name,
            cases_yaml=event.cases_yaml,
            submitted_by=event.submitted_by,
            warnings=tuple(w.model_dump(mode="json") for w in result.warnings),
        )
        if result.spec is None or result.errors:
            await self._reject(event, base, result)
        else:
            await self._accept(event, base, result)

    async def _reject(self, event: RequestSubmitted, base: RequestRecord, result: CheckResult) -> None:
        state: RequestState = "REJECTED"
        await self._requests.save(
            base.model_copy(
                update={"state": state, "errors": tuple(e.model_dump(mode="json") for e in result.errors)}
            )
        )
        await self._publisher.publish(
            RequestRejected(
                envelope=Envelope.caused_by(event, event_type=RequestRejected.EVENT_TYPE, producer=PRODUCER),
                errors=tuple(to_event_issue(e) for e in result.errors),
                warnings=tuple(to_event_issue(w) for w in result.warnings),
            )
        )

    async def _accept(self, event: RequestSubmitted, base: RequestRecord, result: CheckResult) -> None:
        assert result.spec is not None
        spec = result.spec
        domain = spec.job.domain
        revision, is_new = await self._revision(domain, spec.content_hash, base.request_id)
        state: RequestState = "ACCEPTED"
        duplicate_of = None if is_new else await self._request_of(domain, revision)
        spec_json = spec.to_json()
        await self._requests.save(
            base.model_copy(
                update={
                    "state": state,
                    "domain": domain,
                    "revision": revision,
                    "content_hash": spec.content_hash,
                    "duplicate_of_request": duplicate_of if duplicate_of != base.request_id else None,
                    "spec_json": spec_json,
                }
            )
        )
        envelope = Envelope.caused_by(event, event_type=RequestAccepted.EVENT_TYPE, producer=PRODUCER)
        await self._publisher.publish(
            RequestAccepted(
                envelope=envelope.model_copy(update={"domain": domain}),
                revision=revision,
                content_hash=spec.content_hash,
                spec_version=SPEC_VERSION,
                spec_json=spec_json,
                warnings=tuple(to_event_issue(w) for w in result.warnings),
            )
        )

    async def _revision(self, domain: str, content_hash: str, request_id: str) -> tuple[int, bool]:
        # Records of one domain share a Kafka key, so one consumer sees them in order; the
        # compare-and-set still guards replicas and manual re-submissions racing on a head.
        for _ in range(self._max_head_retries):
            head, version = await self._requests.head(domain)
            new_head, revision, is_new = assign_revision(head, content_hash, request_id)
            if not is_new or await self._requests.save_head(new_head, version):
                return revision, is_new
        raise RuntimeError(f"could not assign a revision for domain {domain!r}: head keeps moving")

    async def _request_of(self, domain: str, revision: int) -> str | None:
        head, _ = await self._requests.head(domain)
        return head.request_by_revision.get(str(revision))
