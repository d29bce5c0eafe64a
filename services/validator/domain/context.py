"""What every check gets: the request, the script read structurally, the facts, and a collector.

A check calls `ran(rule_id)` for each instance it examines and `add(rule_id, ...)` for each one
that fails, so the report can say which checks passed and what share of each dimension did.
Rules that are turned off for the domain are neither run nor reported.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from services.flinksql.spec import RequestSpec
from services.validator.domain.model import (
    CaseFacts,
    Finding,
    JobConfig,
    KnowledgeFacts,
    Language,
    OracleSummary,
    PlanFacts,
    SeverityName,
)
from services.validator.domain.rules import RULES, Rule
from services.validator.domain.sqlview import InsertView, ScriptView, read_script


@dataclass
class Inputs:
    """Everything one validation reads; all facts are optional (None = that step did not run)."""

    spec: RequestSpec
    sql: str
    plan: PlanFacts | None = None
    cases: tuple[CaseFacts, ...] = ()
    cases_ran: bool = False
    edge_test_data: dict[str, object] | None = None
    knowledge: KnowledgeFacts | None = None
    job_config: JobConfig | None = None
    missing_artifacts: tuple[str, ...] = ()  # artifact paths the run should have and has not
    oracle: OracleSummary | None = None  # the job on spec-derived data against the oracles


@dataclass
class Context:
    inputs: Inputs
    rules: dict[str, Rule]
    language: Language
    view: ScriptView = field(init=False)
    findings: list[Finding] = field(default_factory=list)
    runs: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        spec = self.inputs.spec
        payload_types = {f.name: f.flink_type for f in spec.payload.fields if f.flink_type is not None}
        aliases = [(j.alias, j.target_table) for j in spec.joins]
        self.view = read_script(self.inputs.sql, payload_types=payload_types, aliases=aliases)

    @property
    def spec(self) -> RequestSpec:
        return self.inputs.spec

    @property
    def insert(self) -> InsertView | None:
        """The INSERT into the request's result table (else the first INSERT)."""
        result = self.spec.result.name.lower()
        for ins in self.view.inserts:
            if ins.target is not None and ins.target.lower() == result:
                return ins
        return self.view.inserts[0] if self.view.inserts else None

    def enabled(self, rule_id: str) -> bool:
        return rule_id in self.rules

    def ran(self, rule_id: str, count: int = 1) -> None:
        if rule_id in self.rules:
            self.runs[rule_id] += count

    def t(self, en: str, zh: str) -> str:
        return zh if self.language == "zh" else en

    def add(
        self,
        rule_id: str,
        message: str,
        *,
        location: str | None = None,
        line: int | None = None,
        name: str | None = None,
        suggestion: str | None = None,
        severity: SeverityName | None = None,
    ) -> None:
        """Record a failed instance of `rule_id` (ignored when the rule is off)."""
        rule = self.rules.get(rule_id)
        if rule is None:
            return
        if self.runs[rule_id] == 0:
            self.runs[rule_id] = 1
        points = rule.points
        # a check may grade an instance itself (planner advice kind, a conflict's severity), unless
        # the configuration changed the rule's severity: configuration wins
        if severity is not None and rule.severity == RULES[rule_id].severity and severity != rule.severity:
            points = min(points, 2.0) if severity == "info" else points
        else:
            severity = rule.severity
        self.findings.append(
            Finding(
                code=rule.id,
                severity=severity,
                dimension=rule.dimension,
                message=message,
                location=location,
                line=line,
                name=name,
                suggestion=suggestion or rule.fix(self.language),
                points_lost=points,
            )
        )
