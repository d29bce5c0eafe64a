"""Revision assignment and routing keys: pure logic, no I/O."""

from __future__ import annotations

from services.ingest.domain.intake import UNPARSED_DOMAIN, DomainHead, assign_revision
from services.ingest.handlers import routing_domain


def test_identical_content_keeps_its_revision() -> None:
    """It gives new content the next revision and known content the revision it already has."""
    head = DomainHead(domain="orders")
    head, first, new_first = assign_revision(head, "h1", "r1")
    head, second, new_second = assign_revision(head, "h2", "r2")
    same, again, new_again = assign_revision(head, "h1", "r3")
    assert (first, new_first, second, new_second, again, new_again) == (1, True, 2, True, 1, False)
    assert same is head and head.request_by_revision == {"1": "r1", "2": "r2"}


def test_routing_domain_reads_only_a_valid_domain() -> None:
    """It keys a submission by job_info.domain when valid, else by a name no domain can have."""
    assert routing_domain('job_info:\n  domain: "orders"\n') == "orders"
    assert routing_domain("job_info:\n  domain: ../../etc\n") == UNPARSED_DOMAIN
    assert routing_domain("no yaml here") == UNPARSED_DOMAIN
