"""What the alert rules and dashboards query, read out of their PromQL (shared by the static
compose contract test and the system test that scrapes a running mesh).

    used = queried_series()          # {metric name: the selectors' label names}, from
                                     # compose/prometheus/alerts.yml and compose/grafana/dashboards/*.json
    metric_names("sum by (le) (rate(x_bucket[5m]))") == {"x_bucket"}

Names are the series names PromQL selects (`_total`, `_bucket`, `_sum`, `_count` included), not
family names. The parser covers the PromQL these files use: functions and aggregations, `by` /
`without` / `on` / `ignoring` / `group_*` label lists, label matchers, range and subquery brackets,
strings, numbers, durations, binary operators and Grafana's `$__variables`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "compose" / "prometheus" / "alerts.yml"
DASHBOARDS = ROOT / "compose" / "grafana" / "dashboards"

# Series the files query that no mesh service exports, each with where it comes from.
FLINK_METRICS: dict[str, str] = {
    "flink_jobmanager_job_numRestarts": "Flink's Prometheus reporter on the JobManager: restarts of a job (job_id, job_name)",
    "flink_jobmanager_job_numberOfFailedCheckpoints": "Flink's Prometheus reporter on the JobManager: failed checkpoints of a job",
    "flink_jobmanager_job_numberOfCompletedCheckpoints": "Flink's Prometheus reporter on the JobManager: completed checkpoints of a job",
    "flink_jobmanager_numRunningJobs": "Flink's Prometheus reporter on the JobManager: jobs running on the cluster",
}
PROMETHEUS_SERIES: dict[str, str] = {
    "up": "Prometheus itself, one per scrape target (1 = the scrape succeeded)"
}
# Labels Prometheus adds from the scrape config, never in a /metrics exposition.
TARGET_LABELS = frozenset({"job", "instance", "instance_service", "component"})

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTOR = re.compile(rf"(?<![\w$.])({_NAME})?\s*\{{([^}}]*)\}}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_BRACKETS = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(rf"(?<![\w$.:])({_NAME})(?!\w)")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"inf", "nan", "Inf", "NaN", "start", "end"}
)


def _blank_strings(expr: str) -> str:
    return _STRING.sub('""', expr)


def selectors(expr: str) -> list[tuple[str, frozenset[str]]]:
    """(metric name, label names matched) of every selector with a name in `expr`."""
    found: list[tuple[str, frozenset[str]]] = []
    text = _blank_strings(expr)
    for match in _SELECTOR.finditer(text):
        name = match[1]
        if name:
            found.append((name, frozenset(_MATCHER.findall(match[2]))))
    for name in metric_names(expr):
        if not any(n == name for n, _ in found):
            found.append((name, frozenset()))
    return found


def metric_names(expr: str) -> set[str]:
    """The series names `expr` selects."""
    text = _blank_strings(expr)
    text = _SELECTOR.sub(lambda m: f" {m[1] or ''} ", text)  # drop the matchers, keep the name
    text = _GROUPING.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match[1]
        after = text[match.end() :].lstrip()
        if name in _KEYWORDS or after.startswith("("):
            continue  # an operator keyword, or a function / aggregation called
        before = text[: match.start()]
        if before.endswith(tuple("0123456789")):
            continue  # a number's exponent or a duration's unit
        names.add(name)
    return names


def grouping_labels(expr: str) -> set[str]:
    """Label names in the `by` / `without` / `on` / `ignoring` / `group_*` lists of `expr`."""
    text = _blank_strings(expr)
    return {label.strip() for group in _GROUPING.findall(text) for label in group.split(",") if label.strip()}


def alert_expressions() -> dict[str, str]:
    """Alert name -> expression, from alerts.yml."""
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: str(rule["expr"]) for group in groups for rule in group["rules"]}


def dashboard_expressions() -> dict[str, str]:
    """'<file>: <panel title> [<refId>]' -> expression, for every query of every dashboard."""
    found: dict[str, str] = {}

    def walk(panels: list[dict[str, object]], file: str) -> None:
        for panel in panels:
            for target in panel.get("targets") or []:  # type: ignore[attr-defined]
                if target.get("expr"):
                    found[f"{file}: {panel.get('title')} [{target.get('refId')}]"] = str(target["expr"])
            walk(panel.get("panels") or [], file)  # type: ignore[arg-type]

    for path in sorted(DASHBOARDS.glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8"))["panels"], path.name)
    return found


def all_expressions() -> dict[str, str]:
    return {**{f"alert {k}": v for k, v in alert_expressions().items()}, **dashboard_expressions()}


def queried_series() -> dict[str, set[str]]:
    """Every series name the alerts and dashboards select -> the label names their matchers use."""
    used: dict[str, set[str]] = defaultdict(set)
    for expr in all_expressions().values():
        for name, labels in selectors(expr):
            used[name] |= labels
    return dict(used)


def mesh_series() -> dict[str, set[str]]:
    """queried_series() without what Flink and Prometheus make: what the mesh must export."""
    return {
        name: labels
        for name, labels in queried_series().items()
        if name not in FLINK_METRICS and name not in PROMETHEUS_SERIES
    }
