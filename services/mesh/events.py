"""The event contracts of the mesh: one pydantic model per event, all sharing an `Envelope`.

Pure pydantic on purpose: domain code imports this module, the wire format lives in
`services.mesh.avro`. Each model mirrors the LATEST version of its Avro schema
(`schemas/<Name>/v<N>.avsc`, N == SCHEMA_VERSION); older versions are read through Avro
schema resolution. Every event's topic equals its event type; its Kafka key is the domain.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.mesh.ids import derive, is_ulid, new_ulid

# W3C trace context: version-traceid-parentid-flags (later versions may append fields).
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$")

NonEmpty = Annotated[str, Field(min_length=1)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
Positive = Annotated[int, Field(ge=1, le=2**31 - 1)]
Score = Annotated[float, Field(ge=0.0, le=100.0)]
Target = Literal["flink-session", "sql-gateway", "manifest"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def utc_now() -> datetime:
    """Now, in UTC, at the millisecond precision Avro timestamp-millis keeps."""
    return _to_millis(datetime.now(UTC))


def _to_millis(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)


class Envelope(_Model):
    """Metadata every event carries (Avro record `streamwright.common.Envelope`)."""

    event_id: str
    event_type: NonEmpty
    schema_version: Positive
    occurred_at: datetime
    run_id: NonEmpty
    request_id: NonEmpty
    domain: NonEmpty
    causation_id: str | None = None
    producer: NonEmpty
    traceparent: str | None = None
    idempotency_key: str | None = None

    @field_validator("event_id", "causation_id")
    @classmethod
    def _ulid(cls, value: str | None) -> str | None:
        if value is not None and not is_ulid(value):
            raise ValueError(f"not a ULID: {value!r}")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _utc_millis(cls, value: datetime) -> datetime:
        # Naive datetimes are ambiguous; truncating to ms makes a round trip compare equal.
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("occurred_at must be timezone-aware")
        return _to_millis(value)

    @field_validator("traceparent")
    @classmethod
    def _w3c(cls, value: str | None) -> str | None:
        if value is not None and not _TRACEPARENT.match(value):
            raise ValueError(f"not a W3C traceparent: {value!r}")
        return value

    @classmethod
    def new(
        cls,
        *,
        event_type: str,
        producer: str,
        run_id: str,
        request_id: str,
        domain: str,
        idempotency_key: str | None = None,
        traceparent: str | None = None,
    ) -> Envelope:
        """The envelope of an event that starts a causal chain (fresh random ULID)."""
        return cls(
            event_id=new_ulid(),
            event_type=event_type,
            schema_version=_latest_version(event_type),
            occurred_at=utc_now(),
            run_id=run_id,
            request_id=request_id,
            domain=domain,
            producer=producer,
            traceparent=traceparent,
            idempotency_key=idempotency_key,
        )

    @classmethod
    def caused_by(
        cls,
        cause: Envelope | Event,
        *,
        event_type: str,
        producer: str,
        discriminator: str | int | None = None,
    ) -> Envelope:
        """The envelope of an event caused by `cause`, in the same run.

        The event id is derived from the cause's id, the new type and `discriminator`
        (e.g. the attempt), so a handler re-run after a crash publishes the same id and
        consumers drop the repeat as a duplicate.
        """
        parent = cause.envelope if isinstance(cause, Event) else cause
        parts = [parent.event_id, event_type]
        if discriminator is not None:
            parts.append(str(discriminator))
        return cls(
            event_id=derive(*parts),
            event_type=event_type,
            schema_version=_latest_version(event_type),
            occurred_at=utc_now(),
            run_id=parent.run_id,
            request_id=parent.request_id,
            domain=parent.domain,
            causation_id=parent.event_id,
            producer=producer,
            traceparent=parent.traceparent,
            idempotency_key=parent.idempotency_key,
        )


class Event(_Model):
    """Base of every event. Subclasses set EVENT_TYPE, TOPIC and SCHEMA_VERSION."""

    EVENT_TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int]

    envelope: Envelope

    @model_validator(mode="after")
    def _envelope_matches(self) -> Self:
        expected = getattr(type(self), "EVENT_TYPE", None)
        if expected is None:
            raise TypeError("Event is abstract; build one of its subclasses")
        if self.envelope.event_type != expected:
            raise ValueError(f"envelope.event_type {self.envelope.event_type!r} != {expected!r}")
        if self.envelope.schema_version != self.SCHEMA_VERSION:
            raise ValueError(
                f"envelope.schema_version {self.envelope.schema_version} != {self.SCHEMA_VERSION}"
                " (models always carry the latest version; the codec upgrades older data)"
            )
        return self

    @property
    def kafka_key(self) -> str:
        """The Kafka message key: the domain, so one domain's events stay in order."""
        return self.envelope.domain


# Shared records and enums. Enum values are the Avro symbols.


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Issue(_Model):
    code: NonEmpty
    severity: Severity
    message: str
    block: str | None = None
    line: Positive | None = None
    name: str | None = None
    hint: str | None = None


class ErChange(_Model):
    """A change or conflict in the ER knowledge base; `kind`/`severity` vocabularies belong to knowledge."""

    kind: NonEmpty
    table: NonEmpty
    column: str | None = None
    detail: str
    severity: NonEmpty


class Source(StrEnum):
    KAFKA = "kafka"
    GRPC = "grpc"
    CLI = "cli"


class Artifact(_Model):
    path: NonEmpty
    sha256: NonEmpty
    media_type: NonEmpty


class DimensionScore(_Model):
    name: NonEmpty
    score: Score
    weight: Annotated[float, Field(ge=0.0)]


class Finding(_Model):
    code: NonEmpty
    severity: Severity
    dimension: NonEmpty
    message: str
    location: str | None = None
    suggestion: str | None = None
    points_lost: Annotated[float, Field(ge=0.0)] = 0.0


class Decision(StrEnum):
    APPROVED = "approved"
    REVIEW = "review"
    REGENERATE = "regenerate"
    REJECTED = "rejected"


class GateMode(StrEnum):
    STRICT = "strict"
    PERMISSIVE = "permissive"
    ADVISORY = "advisory"


class DecidedBy(StrEnum):
    GATE = "gate"
    RULE = "rule"
    LLM = "llm"
    REVIEWER = "reviewer"


class FinalState(StrEnum):
    RUNNING = "RUNNING"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"
    SUPERSEDED = "SUPERSEDED"


# The events, in flow order.


class RequestSubmitted(Event):
    EVENT_TYPE = TOPIC = "sw.request.submitted"
    SCHEMA_VERSION = 2
    document: str
    source: Source
    file_name: str | None = None
    cases_yaml: str | None = None
    submitted_by: str | None = None  # v2


class RequestAccepted(Event):
    EVENT_TYPE = TOPIC = "sw.request.accepted"
    SCHEMA_VERSION = 1
    revision: Positive
    content_hash: NonEmpty
    spec_version: NonEmpty
    spec_json: NonEmpty
    warnings: tuple[Issue, ...] = ()


class RequestRejected(Event):
    EVENT_TYPE = TOPIC = "sw.request.rejected"
    SCHEMA_VERSION = 1
    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...] = ()


class SqlGenerated(Event):
    EVENT_TYPE = TOPIC = "sw.sql.generated"
    SCHEMA_VERSION = 1
    attempt: Positive
    revision: Positive
    sql: str
    artifacts: tuple[Artifact, ...] = ()
    artifact_ref: NonEmpty
    generator_version: NonEmpty
    target_flink: NonEmpty
    llm_used: bool = False


class GenerationFailed(Event):
    EVENT_TYPE = TOPIC = "sw.generation.failed"
    SCHEMA_VERSION = 1
    attempt: Positive
    reason: str
    issues: tuple[Issue, ...] = ()


class ValidationScored(Event):
    EVENT_TYPE = TOPIC = "sw.validation.scored"
    SCHEMA_VERSION = 3
    attempt: Positive
    score: Score
    dimensions: tuple[DimensionScore, ...] = ()
    critical_count: Count
    warning_count: Count
    info_count: Count
    findings: tuple[Finding, ...] = ()
    report_ref: NonEmpty
    provisional: bool = False
    rule_set_version: NonEmpty
    sql_digest: str | None = None  # the verified statement list (services.flinksql.statements)
    # The job's state fingerprint, compact JSON (services.flinksql.state_fingerprint); None: none.
    state_fingerprint: str | None = None


class GateDecided(Event):
    EVENT_TYPE = TOPIC = "sw.gate.decided"
    SCHEMA_VERSION = 1
    attempt: Positive
    decision: Decision
    reason: str
    rule: str | None = None
    mode: GateMode
    decided_by: DecidedBy
    reviewer: str | None = None
    score: Score | None = None


class ErUpdated(Event):
    EVENT_TYPE = TOPIC = "sw.er.updated"
    SCHEMA_VERSION = 1
    version: Positive
    previous_version: Positive | None = None
    changes: tuple[ErChange, ...] = ()


class ErCommitFailed(Event):
    EVENT_TYPE = TOPIC = "sw.er.commit-failed"
    SCHEMA_VERSION = 1
    reason: str
    conflicts: tuple[ErChange, ...] = ()


class RunStarted(Event):
    EVENT_TYPE = TOPIC = "sw.run.started"
    SCHEMA_VERSION = 2
    target: Target
    job_id: str | None = None
    deployment_ref: NonEmpty
    revision: Positive
    sql_digest: str | None = None  # the statement list started: the validated one


class RunStartFailed(Event):
    EVENT_TYPE = TOPIC = "sw.run.start-failed"
    SCHEMA_VERSION = 1
    target: Target
    reason: str


class RunCancelRequested(Event):
    EVENT_TYPE = TOPIC = "sw.run.cancel-requested"
    SCHEMA_VERSION = 1
    reason: str
    requested_by: str | None = None


class RunCompleted(Event):
    """The one terminal event of every run."""

    EVENT_TYPE = TOPIC = "sw.run.completed"
    SCHEMA_VERSION = 1
    final_state: FinalState
    reason: str
    references: dict[str, str] = Field(default_factory=dict)


class MessageDeadLettered(Event):
    EVENT_TYPE = TOPIC = "sw.mesh.dead-lettered"
    SCHEMA_VERSION = 1
    source_topic: NonEmpty
    partition: Count
    offset: Annotated[int, Field(ge=0, le=2**63 - 1)]
    consumer_group: NonEmpty
    reason: str
    attempts: Count
    event_type: str | None = None  # set when the message decoded far enough


EVENTS: dict[str, type[Event]] = {
    cls.EVENT_TYPE: cls
    for cls in (
        RequestSubmitted,
        RequestAccepted,
        RequestRejected,
        SqlGenerated,
        GenerationFailed,
        ValidationScored,
        GateDecided,
        ErUpdated,
        ErCommitFailed,
        RunStarted,
        RunStartFailed,
        RunCancelRequested,
        RunCompleted,
        MessageDeadLettered,
    )
}

ALL_TOPICS: tuple[str, ...] = tuple(cls.TOPIC for cls in EVENTS.values())


def topic_of(event_type: str) -> str:
    """The topic events of `event_type` are published to."""
    try:
        return EVENTS[event_type].TOPIC
    except KeyError:
        raise KeyError(f"unknown event type {event_type!r}") from None


def dlq_topic(topic: str) -> str:
    """The dead-letter topic for messages of `topic` that keep failing."""
    return f"{topic}.dlq"


def _latest_version(event_type: str) -> int:
    try:
        return EVENTS[event_type].SCHEMA_VERSION
    except KeyError:
        raise ValueError(f"unknown event type {event_type!r}; known: {sorted(EVENTS)}") from None
