"""Who a gRPC call comes from, and what the approver role allows (pure: no I/O).

The bearer-token interceptor (services/mesh/grpc_server.py) sets a verified identity per call.
With STREAMWRIGHT_GRPC_AUTH=off nobody is verified: an unverified identity carries whatever
name the caller gave, and authorisation checks do not apply (that is what "off" means).
"""

from __future__ import annotations

from dataclasses import dataclass, field

APPROVER_ROLE = "approver"


@dataclass(frozen=True)
class Identity:
    """The caller: a subject, its roles, and whether a token proved it."""

    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    verified: bool = True

    def is_approver(self, approvers: frozenset[str] = frozenset()) -> bool:
        """Holds the approver role, or its subject or one of its roles is listed in `approvers`."""
        return APPROVER_ROLE in self.roles or bool(({self.subject} | self.roles) & approvers)


def unverified(subject: str = "") -> Identity:
    """A caller when auth is off: the name it gave (maybe none), no roles, not checked."""
    return Identity(subject=subject, verified=False)


SHARED_TOKEN_IDENTITY = Identity(subject="shared-token")
OWNER_IDENTITY = Identity(subject="owner", roles=frozenset({APPROVER_ROLE}))
