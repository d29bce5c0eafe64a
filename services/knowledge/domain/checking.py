"""Checking a candidate domain model against the knowledge base under a compatibility mode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.knowledge.domain.conflicts import Mode, classify, diff_models, sort_changes
from services.knowledge.domain.drift import CROSS_DOMAIN_KINDS, cross_domain, naming_drift
from services.knowledge.domain.model import SEVERITY_RANK, Change, DomainModel


@dataclass(frozen=True)
class CheckResult:
    mode: Mode
    changes: tuple[Change, ...]
    base_version: int | None

    @property
    def critical(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.severity == "critical")

    @property
    def compatible(self) -> bool:
        return not self.critical


@dataclass(frozen=True)
class Baseline:
    """What a candidate is checked against: the domain's live versions (oldest first) and the others."""

    history: Sequence[tuple[int, DomainModel]] = ()
    others: Mapping[str, DomainModel] | None = None

    @property
    def current(self) -> tuple[int, DomainModel] | None:
        return self.history[-1] if self.history else None


def _merge(found: list[Change]) -> list[Change]:
    """One change per (kind, table, column): the most severe wins (a change found against
    several versions). Cross-domain findings are one per other table: kept apart by their text."""
    best: dict[tuple[str, str, str | None, str], Change] = {}
    for item in found:
        key = (item.kind, item.table, item.column, item.detail if item.kind in CROSS_DOMAIN_KINDS else "")
        kept = best.get(key)
        if kept is None or SEVERITY_RANK[item.severity] > SEVERITY_RANK[kept.severity]:
            best[key] = item
    return list(best.values())


def check(candidate: DomainModel, baseline: Baseline, mode: Mode) -> CheckResult:
    """Every change and finding `candidate` brings, graded under `mode`.

    Non-transitive modes compare with the current version; transitive ones with every live
    version (a change against an older version says which). Cross-domain conflicts, naming
    drift and the candidate's own ER cross-check findings are always included.
    """
    current = baseline.current
    against = baseline.history if mode.transitive else ([current] if current else [])
    found: list[Change] = []
    for version, model in reversed(against):
        for item in diff_models(model, candidate):
            graded = classify(item, mode)
            if current is not None and version != current[0]:
                graded = graded.model_copy(update={"detail": f"{graded.detail} (against v{version})"})
            found.append(graded)
    others = dict(baseline.others or {})
    found += [classify(c, mode) for c in cross_domain(candidate, others)]
    drift_others = [m for d, m in others.items() if d != candidate.domain]
    found += [
        classify(c, mode) for c in naming_drift(candidate, current[1] if current else None, drift_others)
    ]
    found += candidate.findings
    return CheckResult(
        mode=mode, changes=tuple(sort_changes(_merge(found))), base_version=current[0] if current else None
    )
