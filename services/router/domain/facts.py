"""The facts about one scored attempt that the gate, the rules and the classifier see.

Only numbers, booleans, enumerations and finding codes: never document text, SQL or messages,
so nothing a requester wrote can reach a rule or an LLM prompt as an instruction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from services.router.domain.expr import Value

CHANGE_RISKS = ("none", "low", "medium", "high")
_SAFE_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_DIMENSION = re.compile(r"[^a-z0-9]+")

# The facts a condition may name; `dimension.<name>` is open-ended (validator dimensions).
FACT_NAMES: dict[str, str] = {
    "score": "overall validation score, 0-100",
    "critical": "number of Critical issues",
    "warnings": "number of Warning issues",
    "infos": "number of Info issues",
    "codes": "list of every finding code",
    "critical_codes": "list of Critical finding codes",
    "warning_codes": "list of Warning finding codes",
    "domain": "the business domain",
    "change_risk": "none | low | medium | high, from knowledge-conflict findings",
    "attempt": "generation attempt, 1-based",
    "duplicate": "true when the same content is already deployed for the domain",
    "revision": "request revision",
    "provisional": "true when the validation was incomplete",
    "llm_repair": "true when a regenerate can change the job (an LLM repairs it)",
    "gate_passed": "true when the quality gate passed",
    "upgrade": "none | compatible | drop | incompatible | unknown: whether starting this job from the "
    "running job's savepoint keeps its state (docs/safe-upgrades.md)",
}


def is_known_fact(name: str) -> bool:
    return name in FACT_NAMES or (name.startswith("dimension.") and name.count(".") == 1)


def dimension_key(name: str) -> str:
    """'SQL Standards' -> 'sql_standards' (how a dimension is named in conditions)."""
    return _DIMENSION.sub("_", name.lower()).strip("_")


def safe_code(code: str) -> str:
    """A finding code as the facts carry it; anything that is not a plain code is masked."""
    return code if _SAFE_CODE.match(code) else "OTHER"


@dataclass(frozen=True, slots=True)
class FindingFact:
    code: str
    severity: str  # critical | error | warning | info
    dimension: str


@dataclass(frozen=True, slots=True)
class RunFacts:
    score: float
    critical: int
    warnings: int
    infos: int
    domain: str
    attempt: int
    revision: int = 0
    dimensions: Mapping[str, float] = field(default_factory=dict)
    findings: tuple[FindingFact, ...] = ()
    duplicate: bool = False
    provisional: bool = False
    llm_repair: bool = False
    # The upgrade check's verdict (services.router.domain.upgrade.Verdict value).
    upgrade: str = "none"
    risk_prefixes: tuple[str, ...] = ("ER_", "KB_", "CONFLICT")

    @property
    def change_risk(self) -> str:
        """The highest severity among knowledge-conflict findings, as a risk level."""
        rank = {"info": 1, "warning": 2, "error": 3, "critical": 3}
        level = 0
        for finding in self.findings:
            code = finding.code.upper()
            if any(code.startswith(p) or p in code for p in self.risk_prefixes) or finding.dimension in (
                "knowledge",
                "er",
                "schema_compatibility",
            ):
                level = max(level, rank.get(finding.severity, 1))
        return CHANGE_RISKS[level]

    def as_values(self, *, gate_passed: bool | None = None) -> dict[str, Value]:
        values: dict[str, Value] = {
            "score": float(self.score),
            "critical": self.critical,
            "warnings": self.warnings,
            "infos": self.infos,
            "codes": _codes(f.code for f in self.findings),
            "critical_codes": _codes(f.code for f in self.findings if f.severity in ("critical", "error")),
            "warning_codes": _codes(f.code for f in self.findings if f.severity == "warning"),
            "domain": self.domain,
            "change_risk": self.change_risk,
            "attempt": self.attempt,
            "duplicate": self.duplicate,
            "revision": self.revision,
            "provisional": self.provisional,
            "llm_repair": self.llm_repair,
            "upgrade": self.upgrade,
        }
        if gate_passed is not None:
            values["gate_passed"] = gate_passed
        for name, score in self.dimensions.items():
            values[f"dimension.{dimension_key(name)}"] = float(score)
        return values


def _codes(codes: Iterable[str]) -> tuple[Value, ...]:
    return tuple(sorted({safe_code(c) for c in codes}))
