"""Issue 14 item 5, door 3: an LLM repair holding a control character other than `\\n` and `\\t`
is refused, naming the character (U+XXXX) and its line.

Before, `-- note\\rDROP TABLE t` and a NUL or ESC inside a literal reached the lexer: the
carriage return was caught only because the kernel's lexer ends a `--` comment at `\\r`, so the
DROP became a statement that the shape check refused; the others passed.
"""

from __future__ import annotations

import json

import pytest
from gen_support import GOLDEN

from services.flinksql.statements import StatementKind, split_statements
from services.generator.domain import repair
from services.generator.domain.repair import RepairRejected, accept_answer

REFERENCE = (GOLDEN / "orders.sql").read_text(encoding="utf-8")
FIXED = REFERENCE.replace("AND (`ev`.`orderAmount` >= 0)", "AND (`ev`.`orderAmount` > 0)")
LAST_LINE = FIXED.count("\n") + 1  # the line an appended text starts on
HIDDEN_DROP = FIXED + "-- note\rDROP TABLE `dim_shop`;\n"


def _answer(sql: str) -> str:
    return json.dumps({"sql": sql})


def test_a_carriage_return_hiding_a_drop_is_refused_naming_it() -> None:
    with pytest.raises(RepairRejected, match=rf"U\+000D \(control character\) at line {LAST_LINE}, column 8"):
        accept_answer(_answer(HIDDEN_DROP), reference_sql=REFERENCE, current_sql=REFERENCE)


def test_the_kernel_splitter_sees_the_hidden_drop_too() -> None:
    """The second line of defence: `--` ends at `\\r` for Flink and the kernel, so the DROP is
    a statement of its own, and the shape check refuses it."""
    statements = split_statements(HIDDEN_DROP)
    assert statements[-1].kind is StatementKind.DROP
    assert statements[-1].line == LAST_LINE + 1  # a lone \r ends a line, as JavaCC counts them
    with pytest.raises(RepairRejected, match=r"\(DROP TABLE \.\.\.\) is not allowed"):
        repair._shape(statements, check=True)  # the check behind check_repaired_sql


CHARACTERS = [
    ("\x00", "0000"),
    ("\x1b", "001B"),
    ("\x0b", "000B"),
    ("\x0c", "000C"),  # form feed: whitespace to Flink, a page break to a reviewer
    ("\x7f", "007F"),
    ("\x85", "0085"),
    ("\u2028", "2028"),
    ("\u202e", "202E"),
]


@pytest.mark.parametrize(("char", "code"), CHARACTERS, ids=[c for _, c in CHARACTERS])
def test_other_control_characters_are_refused_with_their_line(char: str, code: str) -> None:
    sql = FIXED.replace("'未知店铺'", f"'未知{char}店铺'")
    assert sql != FIXED
    line = sql[: sql.index(char)].count("\n") + 1
    with pytest.raises(RepairRejected, match=rf"U\+{code} .* at line {line}, column \d+"):
        accept_answer(_answer(sql), reference_sql=REFERENCE, current_sql=REFERENCE)


def test_a_fenced_answer_is_checked_the_same_way() -> None:
    answer = "```sql\n" + FIXED.replace("'未知店铺'", "'未知\x1b[8m店铺'") + "```\n"
    with pytest.raises(RepairRejected, match=r"U\+001B"):
        accept_answer(answer, reference_sql=REFERENCE, current_sql=REFERENCE)


def test_line_feeds_and_tabs_stay_allowed() -> None:
    sql = FIXED.replace("    ON ", "\tON ")
    assert "\t" in sql
    assert accept_answer(_answer(sql), reference_sql=REFERENCE, current_sql=REFERENCE) == sql.strip() + "\n"


def test_an_options_hint_redirecting_the_sink_is_refused() -> None:
    """Found while closing door 4: the pinned options were compared in the WITH clauses only, so an
    `OPTIONS` hint on the INSERT could point the sink elsewhere and the repair was accepted."""
    hint = "/*+ OPTIONS('project'='attacker_dw') */"
    sql = FIXED.replace("INSERT INTO `dwd_order_wide`", f"INSERT INTO `dwd_order_wide` {hint}")
    assert sql != FIXED
    with pytest.raises(
        RepairRejected, match=r"the hint /\*\+ OPTIONS\('project'='attacker_dw'\) \*/ overrides"
    ):
        accept_answer(_answer(sql), reference_sql=REFERENCE, current_sql=REFERENCE)
    # Any other hint too: the runner refuses every hint, so a repaired job with one would pass the
    # gate and then fail to start.
    lookup = FIXED.replace("LEFT JOIN", "LEFT JOIN /*+ LOOKUP('table'='dim_shop', 'async'='true') */", 1)
    with pytest.raises(RepairRejected, match="is not something the generator writes or the runner runs"):
        accept_answer(_answer(lookup), reference_sql=REFERENCE, current_sql=REFERENCE)
