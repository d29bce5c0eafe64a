"""CAST to TIME(p) in the oracle's interpreter, as Flink 2.x does it.

Checked on PyFlink 2.3 over columns read from a file (constants would be folded): Flink's TIME
holds milliseconds; CAST(… AS TIME(p)) keeps min(p, 3) fraction digits, truncated, and TIME is
TIME(0). A TIMESTAMP or TIME source is truncated (23:59:59.999999 as TIME(6) is 23:59:59.999); a
text's fraction is first rounded half-up to milliseconds (09:17:10.1245 is 09:17:10.125, and
09:17:10.9995 carries into 09:17:11).
"""

from __future__ import annotations

import json
from datetime import time

import pytest
from oracle_support import expression, fixture_spec

from services.validator.domain.oracle import Unsupported
from services.validator.domain.oracle.evaluate import Evaluator, Scope, payload_json

LTZ = "CAST(CAST(TO_TIMESTAMP_LTZ(payload.createdAt, 3) AS TIMESTAMP(3)) AS TIME({p}))"
# 1736151430285 is 2025-01-06 08:17:10.285 UTC: 16:17:10.285 in the orders request's zone (Asia/Shanghai)
FLINK: list[tuple[str, dict[str, object], time]] = [
    (LTZ.format(p=0), {"createdAt": 1736151430285}, time(16, 17, 10)),
    (LTZ.format(p=0), {"createdAt": 1736151430999}, time(16, 17, 10)),
    (LTZ.format(p=1), {"createdAt": 1736151430285}, time(16, 17, 10, 200000)),
    (LTZ.format(p=1), {"createdAt": 1736151430999}, time(16, 17, 10, 900000)),
    (LTZ.format(p=3), {"createdAt": 1736151430285}, time(16, 17, 10, 285000)),
    (
        "CAST(CAST(TO_TIMESTAMP_LTZ(payload.createdAt, 3) AS TIMESTAMP(3)) AS TIME)",
        {"createdAt": 1736151430500},
        time(16, 17, 10),
    ),
    (
        "CAST(CAST(payload.channel AS TIMESTAMP(6)) AS TIME(6))",
        {"channel": "2025-01-06 23:59:59.999999"},
        time(23, 59, 59, 999000),
    ),
    (
        "CAST(CAST(payload.channel AS TIMESTAMP(6)) AS TIME(2))",
        {"channel": "2025-01-06 09:17:10.123456"},
        time(9, 17, 10, 120000),
    ),
    ("CAST(payload.channel AS TIME(0))", {"channel": "09:17:10.987654"}, time(9, 17, 10)),
    ("CAST(payload.channel AS TIME(3))", {"channel": "09:17:10.987654"}, time(9, 17, 10, 988000)),
    ("CAST(payload.channel AS TIME(3))", {"channel": "09:17:10.1245"}, time(9, 17, 10, 125000)),
    ("CAST(payload.channel AS TIME(3))", {"channel": "09:17:10.1244999"}, time(9, 17, 10, 124000)),
    ("CAST(payload.channel AS TIME(2))", {"channel": "09:17:10.1235"}, time(9, 17, 10, 120000)),
    ("CAST(payload.channel AS TIME(0))", {"channel": "09:17:10.9995"}, time(9, 17, 11)),
    (
        "CAST(CAST(payload.channel AS TIME(3)) AS TIME(1))",
        {"channel": "09:17:10.98765"},
        time(9, 17, 10, 900000),
    ),
]


def _eval(text: str, payload: dict[str, object]) -> object:
    ev = Evaluator(fixture_spec("orders"))
    return ev.eval(expression(text).ast, Scope(payload=payload_json(json.dumps(payload))))[0]


@pytest.mark.parametrize(("text", "payload", "flink"), FLINK)
def test_cast_to_time_keeps_flinks_digits(text: str, payload: dict[str, object], flink: time) -> None:
    assert _eval(text, payload) == flink


def test_a_text_rounding_into_midnight_is_not_guessed() -> None:
    """Flink reads 23:59:59.9999 as 24:00:00, which no TIME value of the oracle is."""
    with pytest.raises(Unsupported, match="24:00:00"):
        _eval("CAST(payload.channel AS TIME(3))", {"channel": "23:59:59.9999"})
