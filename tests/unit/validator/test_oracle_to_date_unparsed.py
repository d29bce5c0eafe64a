"""TO_DATE(text, format) of text that does not parse: an input the oracle cannot predict.

On Flink 2.x (PyFlink 2.3, over a column read from a file) TO_DATE('not a time',
'yyyy-MM-dd HH:mm:ss') is not NULL but a date in year 1705471 (CAST AS STRING '5471-09-27'), and
Java's lenient parsing turns other text into other dates ('2025-13-45 10:00:00' is 2026-02-14).
Without a format TO_DATE gives NULL. The interpreter does not invent Flink's arithmetic: such an
input is `Unpredictable`, and the data generator leaves it out with its reason.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from oracle_support import expression, fixture_spec, remap

from services.validator.domain.oracle import Unpredictable, Unsupported, derive_data, interpret
from services.validator.domain.oracle.evaluate import Evaluator, Scope, payload_json


def _eval(text: str, channel: str | None) -> object:
    ev = Evaluator(fixture_spec("orders"))
    return ev.eval(expression(text).ast, Scope(payload=payload_json(json.dumps({"channel": channel}))))[0]


@pytest.mark.parametrize("text", ["not a time", "2025-13-45 10:00:00", "2025-01-06"])
def test_to_date_with_a_format_of_text_that_does_not_parse_is_unpredictable(text: str) -> None:
    with pytest.raises(Unpredictable, match="TO_DATE of text that does not parse"):
        _eval("TO_DATE(payload.channel, 'yyyy-MM-dd HH:mm:ss')", text)


def test_unpredictable_is_an_unsupported_construct_elsewhere() -> None:
    """Outside the data generator (judging a request's own cases) it names the construct."""
    assert issubclass(Unpredictable, Unsupported)


def test_to_date_of_text_that_parses_or_null_or_without_a_format() -> None:
    assert _eval("TO_DATE(payload.channel, 'yyyy-MM-dd HH:mm:ss')", "2025-01-06 09:17:10") == date(2025, 1, 6)
    assert _eval("TO_DATE(payload.channel, 'yyyy-MM-dd HH:mm:ss')", None) is None
    assert _eval("TO_DATE(payload.channel)", "not a time") is None


def test_the_data_leaves_such_an_input_out_and_says_why() -> None:
    """A mapping through TO_DATE(text, format): the text that does not parse is dropped (listed),
    and the interpreter runs on what is left."""
    spec = remap(
        fixture_spec("orders"), "channel", "CAST(TO_DATE(payload.channel, 'yyyy-MM-dd HH:mm:ss') AS STRING)"
    )
    data = derive_data(spec)
    assert any(
        d.startswith("payload.channel: text that does not parse")
        and "the interpreter cannot predict Flink's value on this event" in d
        for d in data.dropped
    ), data.dropped
    assert not any("text that does not parse" in p for p in data.purposes)
    assert interpret(spec, data.events, data.dimensions)
