"""What the router's use cases raise; the gRPC API maps each to a status code."""

from __future__ import annotations


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
