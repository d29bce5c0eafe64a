"""What ingest records about a submission, and how revisions per domain are assigned. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from services.ingest.domain.redact import redact_text

RequestState = Literal["PENDING", "ACCEPTED", "REJECTED"]
# A document that cannot be parsed far enough to name its domain is keyed here; the leading
# underscore keeps it outside the domain pattern, so it never collides with a real domain.
UNPARSED_DOMAIN = "_unparsed"


class RequestRecord(BaseModel):
    """One submission and what ingest decided about it."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    run_id: str
    idempotency_key: str
    domain: str
    state: RequestState
    submitted_at: datetime
    source: str
    document: str
    file_name: str | None = None
    cases_yaml: str | None = None
    submitted_by: str | None = None
    revision: int | None = None
    content_hash: str | None = None
    duplicate_of_request: str | None = None
    spec_json: str | None = None
    errors: tuple[dict[str, Any], ...] = ()
    warnings: tuple[dict[str, Any], ...] = ()

    @field_validator("document", "cases_yaml")
    @classmethod
    def _without_credentials(cls, text: str | None) -> str | None:
        """A record (stored, and the RequestSubmitted built from it) never holds a literal
        credential: its texts are kept redacted (services/ingest/domain/redact.py)."""
        return redact_text(text)


class DomainHead(BaseModel):
    """The revisions of one domain: the latest number and which content each number holds."""

    model_config = ConfigDict(frozen=True)

    domain: str
    latest_revision: int = 0
    revision_by_hash: dict[str, int] = {}
    request_by_revision: dict[str, str] = {}


def assign_revision(head: DomainHead, content_hash: str, request_id: str) -> tuple[DomainHead, int, bool]:
    """The revision a document gets: the existing one for identical content, else the next.

    Returns the new head, the revision and whether it is new.
    """
    existing = head.revision_by_hash.get(content_hash)
    if existing is not None:
        return head, existing, False
    revision = head.latest_revision + 1
    new_head = head.model_copy(
        update={
            "latest_revision": revision,
            "revision_by_hash": {**head.revision_by_hash, content_hash: revision},
            "request_by_revision": {**head.request_by_revision, str(revision): request_id},
        }
    )
    return new_head, revision, True
