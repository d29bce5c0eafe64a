"""What the router's use cases raise; the gRPC API maps each to a status code."""

from __future__ import annotations

from services.mesh.identity import APPROVER_ROLE


class RunNotFound(LookupError):
    pass


class RunConflict(RuntimeError):
    """The run is not in a state that allows the operation (e.g. review of a run not IN_REVIEW)."""


class NotAllowed(PermissionError):
    """The caller may not do this (e.g. approve without the approver role)."""


class DomainNotFound(LookupError):
    """No run and no deployment of the domain."""


class DeploymentConflict(RuntimeError):
    """The domain's deployment does not allow the operation (already stopped, other target, ...)."""


class NothingDeployed(DeploymentConflict):
    pass


class NoPreviousRevision(DeploymentConflict):
    pass


class DeploymentFailed(RuntimeError):
    """The engine refused or failed a stop or start; the message carries its error."""


def approver_hint(approvers: frozenset[str]) -> str:
    """Who may do what only approvers may: the role, and the subjects/roles configured as approvers."""
    listed = f" or one of {', '.join(sorted(approvers))} (STREAMWRIGHT_ROUTER_APPROVERS)" if approvers else ""
    return f"needs the {APPROVER_ROLE} role{listed}"
