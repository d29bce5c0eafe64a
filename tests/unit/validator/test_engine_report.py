"""The engine's reports (`domain.engine_report`): an exception chain placed in the script and
trimmed, a failed case's one-line cause, EXPLAIN PLAN_ADVICE entries. Pure, no engine."""

from __future__ import annotations

from services.flinksql.statements import split_statements
from services.validator.domain.engine_report import error_of, failure_text, parse_advice, trim

SCRIPT = "SET 'a' = 'b';\n\nINSERT INTO r\nSELECT nope FROM t;\n"
INSERT = split_statements(SCRIPT)[1]


def test_the_planners_exception_is_placed_on_the_script_line() -> None:
    """It prefers the planner's exception over its wrappers and maps its position to the script."""
    chain = [
        ("ExecutionException", "wrapper"),
        ("ValidationException", "SQL validation failed. From line 2, column 8 to line 2, column 11"),
        ("SqlValidatorException", "Column 'nope' not found"),
    ]
    error = error_of(chain, INSERT)
    assert (error.exception, error.message) == chain[1]
    assert (error.statement_index, error.line, error.column) == (1, 4, 8)
    assert error.detail.splitlines() == [": ".join(chain[1]), ": ".join(chain[2])]


def test_lines_sent_before_the_statement_are_not_the_scripts() -> None:
    """It subtracts the `EXPLAIN` line the engine sent first; a position inside it falls back
    to the statement's first line."""
    chain = [("ValidationException", "From line 3, column 8 to line 3, column 11: Column 'nope' not found")]
    assert (error_of(chain, INSERT, line_offset=1).line, error_of(chain, INSERT, line_offset=1).column) == (
        4,
        8,
    )
    inside = [("SqlParserException", "Encountered at line 1, column 9.\nWas expecting one of: ...")]
    error = error_of(inside, INSERT, line_offset=1)
    assert (error.line, error.column, error.message) == (3, None, "Encountered at line 1, column 9.")


def test_a_failed_case_names_the_planner_exception_and_its_root_cause() -> None:
    """It shows the planner's exception, then the root cause when it says something new."""
    chain = [("Py4JJavaError", "x"), ("TableException", "job failed"), ("PSQLException", "relation missing")]
    assert failure_text(chain) == "TableException: job failed (cause: PSQLException: relation missing)"
    assert failure_text([("ValueError", "bad")]) == "ValueError: bad"
    assert trim("x" * 700).endswith("...") and len(trim("x" * 700)) == 603


def test_plan_advice_entries_are_read_whole() -> None:
    """It joins each advice's continuation lines and stops at a section rule or a blank line."""
    explained = "== Optimized Physical Plan With Advice ==\nSink(...)\n\nadvice[1]: [WARNING] a\n  b\nadvice[2]: [ADVICE] c\n\n== x ==\n"
    assert parse_advice(explained) == ("advice[1]: [WARNING] a b", "advice[2]: [ADVICE] c")
    assert parse_advice("no advice") == ()
