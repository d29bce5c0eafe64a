"""The oracle's findings show TIMESTAMP_LTZ values in the job's time zone, and a constant shift
by whole quarter-hours (a zone such as Asia/Kolkata, +05:30) is named as a time-zone cause."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oracle_support import fixture_spec

from services.flinksql.spec import RequestSpec
from services.flinksql.sqltypes import timestamp_ltz
from services.validator.domain.oracle.verdict import judge_oracle, prepare_oracle


def _ltz(spec: RequestSpec, zone: str = "Asia/Shanghai") -> RequestSpec:
    """The orders request with `order_time` a TIMESTAMP_LTZ(3) column (an instant), in `zone`."""
    columns = tuple(
        c.model_copy(update={"type": timestamp_ltz(3)}) if c.name == "order_time" else c
        for c in spec.result.columns
    )
    return spec.model_copy(
        update={
            "job": spec.job.model_copy(update={"time_zone": zone}),
            "result": spec.result.model_copy(update={"columns": columns}),
        }
    )


def _local(value: datetime, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def test_a_half_hour_shift_is_a_time_zone_cause() -> None:
    spec = _ltz(fixture_spec("orders"), "Asia/Kolkata")
    plan = prepare_oracle(spec)
    assert plan.expected is not None
    actual = [dict(r) for r in plan.expected]
    for r in actual:
        if r["order_time"] is not None:
            r["order_time"] += timedelta(hours=5, minutes=30)
    (d,) = judge_oracle(spec, plan, actual=actual, fidelity="exact").differences
    assert d.kind == "column" and d.column == "order_time"
    assert d.cause is not None and "+5.5 h" in d.cause and "time-zone" in d.cause


def test_an_expected_instant_is_shown_as_wall_clock_in_the_jobs_zone() -> None:
    """Expected and actual TIMESTAMP_LTZ values read alike: wall clock in Asia/Shanghai, no
    `+00:00`, so a one-hour shift shows as one hour."""
    spec = _ltz(fixture_spec("orders"))
    plan = prepare_oracle(spec)
    assert plan.expected is not None
    actual = [dict(r) for r in plan.expected]
    for r in actual:
        if r["order_time"] is not None:
            r["order_time"] += timedelta(hours=1)
    (d,) = judge_oracle(spec, plan, actual=actual, fidelity="exact").differences
    assert d.expected is not None and d.actual is not None
    expected, shown = json.loads(d.expected), json.loads(d.actual)
    assert "+00:00" not in expected and "+00:00" not in shown
    stamps = [r["order_time"] for r in plan.expected if r["order_time"] is not None]
    assert any(expected.startswith(_local(v, "Asia/Shanghai")) for v in stamps), expected
    gap = datetime.fromisoformat(shown) - datetime.fromisoformat(expected)
    assert gap == timedelta(hours=1)


def test_a_missing_rows_instant_is_shown_in_the_jobs_zone() -> None:
    spec = _ltz(fixture_spec("orders"))
    plan = prepare_oracle(spec)
    assert plan.expected is not None
    actual: list[dict[str, Any]] = [dict(r) for r in plan.expected][1:]
    missing = plan.expected[0]
    (d,) = judge_oracle(spec, plan, actual=actual, fidelity="exact").differences
    assert d.kind == "missing_rows" and d.expected is not None
    shown = json.loads(d.expected)
    if missing["order_time"] is not None:
        assert shown["order_time"] == _local(missing["order_time"], "Asia/Shanghai") + (
            f".{missing['order_time'].microsecond // 1000:03d}" if missing["order_time"].microsecond else ""
        )
    assert "+00:00" not in d.expected
