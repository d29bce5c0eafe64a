"""Physical identity of a knowledge-base table: the kernel's `identity_of` on its stored options.

The derivation itself (which connector options name which physical table, how names and hosts
are normalised, when two identities meet) is services/flinksql/identity.py: the generator names
OpenLineage datasets by it too, and services share only the kernel.
"""

from __future__ import annotations

from services.flinksql.identity import PhysicalIdentity, differences, identity_of, same_place
from services.knowledge.domain.model import KbTable

__all__ = ["PhysicalIdentity", "differences", "identity_of", "physical_identity", "same_place"]


def physical_identity(table: KbTable) -> PhysicalIdentity | None:
    """The table's identity from its stored options; None when unknown (name-only)."""
    return identity_of(table.options)
