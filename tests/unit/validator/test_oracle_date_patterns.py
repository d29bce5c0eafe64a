"""Date patterns of DATE_FORMAT / TO_TIMESTAMP / TO_DATE in the oracle's interpreter.

Java's date patterns take only the ASCII letters A-Z and a-z as pattern letters; any other
character, CJK ones such as 年 月 日 included, is a literal. Checked on Flink 2.x (PyFlink 2.3)
over a column read from a file: DATE_FORMAT(TO_TIMESTAMP(s), 'yyyy年MM月dd日 HH時mm分') of
'2025-01-06 09:17:10' is '2025年01月06日 09時17分', and TO_TIMESTAMP / TO_DATE read it back.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from oracle_support import expression, fixture_spec

from services.validator.domain.oracle import Unsupported
from services.validator.domain.oracle.evaluate import Evaluator, JavaPattern, Scope, payload_json
from services.validator.domain.oracle.scalars import to_text


def _value(text: str, payload: dict[str, object]) -> str | None:
    ev = Evaluator(fixture_spec("orders"))
    value, vtype = ev.eval(expression(text).ast, Scope(payload=payload_json(json.dumps(payload))))
    return None if value is None else to_text(value, vtype, ev.zone)


def test_cjk_characters_are_literals_of_a_pattern() -> None:
    pattern = JavaPattern("yyyy年MM月dd日 HH時mm分")
    assert pattern.format(datetime(2025, 1, 6, 9, 17, 10)) == "2025年01月06日 09時17分"
    assert pattern.parse("2025年01月06日 09時17分") == datetime(2025, 1, 6, 9, 17)


def test_date_format_with_cjk_literals_gives_flinks_text() -> None:
    """The member-points request's DATE_FORMAT, on a text time of the payload (Flink's value)."""
    got = _value(
        "DATE_FORMAT(TO_TIMESTAMP(payload.channel), 'yyyy年MM月dd日')", {"channel": "2025-01-06 09:17:10"}
    )
    assert got == "2025年01月06日"


def test_to_date_reads_cjk_literals() -> None:
    got = _value("TO_DATE(payload.channel, 'yyyy年MM月dd日')", {"channel": "2025年12月31日"})
    assert got == "2025-12-31"


@pytest.mark.parametrize("pattern", ["EEE yyyy", "yyyy-MM-dd a", "yyyy G"])
def test_ascii_letters_outside_the_covered_ones_are_not_guessed(pattern: str) -> None:
    """Only y M d H m s S are covered; another ASCII letter is a field the oracle does not know."""
    with pytest.raises(Unsupported, match="date pattern letter"):
        JavaPattern(pattern)


def test_non_ascii_letters_are_literals() -> None:
    assert JavaPattern("dd.MM.yyyy é").format(datetime(2025, 1, 6)) == "06.01.2025 é"
