"""Reading the request's free-text SLA and performance hints into numbers, by documented rules.

Only a few patterns are recognised (Chinese and English): a latency bound (`< 5秒`, `<3s`,
`500 ms`, `1 min`), a peak rate (`峰值 3000 条/秒`, `2k events/s`, `800 QPS`), a state TTL
(`状态 TTL 设为 2 天`, `state TTL 36 h`) and mini-batch (`mini-batch`, `微批`). Anything else in
a hint is kept in the job README as "recorded, not applied".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_NUMBER = r"(\d+(?:\.\d+)?)"
_LATENCY_UNITS: tuple[tuple[str, float], ...] = (
    (r"ms|毫秒|millis(?:econds?)?", 0.001),
    (r"s|sec|secs|seconds?|秒", 1.0),
    (r"min|mins|minutes?|分钟|分", 60.0),
    (r"h|hours?|小时", 3600.0),
)
_LATENCY = re.compile(
    _NUMBER + r"\s*(" + "|".join(u for u, _ in _LATENCY_UNITS) + r")(?![A-Za-z])", re.IGNORECASE
)
_RATE = re.compile(
    _NUMBER
    + r"\s*(k|K|千|万|w|W)?\s*(?:条|个|events?|records?|msgs?|messages?|rows?)?\s*"
    + r"(?:/|每|per\s*)\s*(?:秒|s(?![a-z])|sec(?:ond)?)",
    re.IGNORECASE,
)
_RATE_QPS = re.compile(_NUMBER + r"\s*(k|K|千|万)?\s*(?:qps|tps|rps|eps)\b", re.IGNORECASE)
_TTL = re.compile(
    r"(?:ttl|状态保留|state retention)[^0-9\n]{0,12}"
    + _NUMBER
    + r"\s*(天|日|days?|d|小时|hours?|h|分钟|minutes?|min)",
    re.IGNORECASE,
)
_MINI_BATCH = re.compile(r"mini[-_ ]?batch|微批|攒批", re.IGNORECASE)
_MULTIPLIER = {"k": 1_000.0, "千": 1_000.0, "万": 10_000.0, "w": 10_000.0}


def latency_seconds(text: str | None) -> float | None:
    """The first latency bound in `text`, in seconds."""
    if not text:
        return None
    match = _LATENCY.search(text)
    if match is None:
        return None
    unit = match.group(2).lower()
    for pattern, factor in _LATENCY_UNITS:
        if re.fullmatch(pattern, unit, re.IGNORECASE):
            return float(match.group(1)) * factor
    return None  # pragma: no cover - the regex only matches known units


def peak_rate(texts: tuple[str, ...]) -> float | None:
    """The largest events-per-second figure mentioned in `texts`."""
    best: float | None = None
    for text in texts:
        for regex in (_RATE, _RATE_QPS):
            for match in regex.finditer(text):
                value = float(match.group(1)) * _MULTIPLIER.get((match.group(2) or "").lower(), 1.0)
                best = value if best is None else max(best, value)
    return best


def state_ttl_hours(texts: tuple[str, ...]) -> float | None:
    """A state TTL named in a hint, in hours."""
    for text in texts:
        match = _TTL.search(text)
        if match:
            unit = match.group(2).lower()
            value = float(match.group(1))
            if unit in ("天", "日", "d", "day", "days"):
                return value * 24
            if unit in ("小时", "h", "hour", "hours"):
                return value
            return value / 60
    return None


def wants_mini_batch(texts: tuple[str, ...]) -> bool:
    return any(_MINI_BATCH.search(t) for t in texts)


def is_ttl_hint(text: str) -> bool:
    return _TTL.search(text) is not None


def is_rate_hint(text: str) -> bool:
    return peak_rate((text,)) is not None


def format_duration_hours(hours: float) -> str:
    """Flink duration text: whole days as `N d`, whole hours as `N h`, else minutes."""
    if hours >= 24 and float(hours / 24).is_integer():
        return f"{int(hours // 24)} d"
    if float(hours).is_integer():
        return f"{int(hours)} h"
    return f"{max(1, math.ceil(hours * 60))} min"


@dataclass(frozen=True, slots=True)
class SizingInput:
    latency_s: float | None
    peak_eps: float | None
    lookups: int
    cached_lookups: int
    aggregate: bool
    events_per_subtask: int
    max_parallelism: int
    slots_per_task_manager: int


DEFAULT_PARALLELISM = 2


def size(inp: SizingInput) -> tuple[int, int, str, str, str, tuple[str, ...]]:
    """(parallelism, task managers, TM memory, JM memory, checkpoint interval, reasons)."""
    reasons: list[str] = []
    capacity = inp.events_per_subtask / (1 + 0.5 * inp.lookups) / (2 if inp.aggregate else 1)
    if inp.peak_eps is None:
        parallelism = DEFAULT_PARALLELISM
        reasons.append(f"no peak rate in the request: default parallelism {DEFAULT_PARALLELISM}")
    else:
        headroom = 1.5 if inp.latency_s is not None and inp.latency_s <= 5 else 1.2
        parallelism = math.ceil(inp.peak_eps * headroom / capacity)
        reasons.append(
            f"peak {inp.peak_eps:g} events/s x headroom {headroom:g} / {capacity:g} events/s per "
            f"subtask ({inp.events_per_subtask} / (1 + 0.5 x {inp.lookups} lookups)"
            + (" / 2 for aggregation" if inp.aggregate else "")
            + f") = {parallelism}"
        )
    clamped = min(max(parallelism, 1), inp.max_parallelism)
    if clamped != parallelism:
        reasons.append(f"clamped to the profile's range 1..{inp.max_parallelism}: {clamped}")
    parallelism = clamped
    task_managers = math.ceil(parallelism / inp.slots_per_task_manager)
    tm_mb = 2048 + 256 * inp.cached_lookups * inp.slots_per_task_manager + (1024 if inp.aggregate else 0)
    reasons.append(
        f"task manager memory 2048m + 256m per cached lookup per slot ({inp.cached_lookups} x "
        f"{inp.slots_per_task_manager})"
        + (" + 1024m for aggregation state" if inp.aggregate else "")
        + f" = {tm_mb}m; {task_managers} task manager(s) x {inp.slots_per_task_manager} slots"
    )
    if inp.latency_s is not None and inp.latency_s <= 10:
        interval = "30 s"
        reasons.append(f"latency bound {inp.latency_s:g}s <= 10s: checkpoint every 30 s")
    else:
        interval = "60 s"
        reasons.append("no latency bound <= 10s: checkpoint every 60 s")
    return parallelism, task_managers, f"{tm_mb}m", "1600m", interval, tuple(reasons)
