"""No finding on correct compiler output: a quoted reserved word is a name (sqlview reads the
kernel lexer's tokens: a keyword is a bare word, never a quoted identifier), and a non-zero literal
divisor cannot divide by zero.

Regressions found on documents nobody here wrote (result column `` `from` ``,
`payload.weightKg / 1000.0`): `accuracy.mapping_mismatch` and `accuracy.unguarded_division` fired
on jobs that were right.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.flinksql.spec import RequestSpec
from services.flinksql.statements import split_statements
from services.ingest.domain.checks import check_document
from services.validator.domain import Inputs, assess
from services.validator.domain.model import JobConfig, KnowledgeFacts, PlanFacts, Report
from services.validator.domain.sqlview import canonical_expression, read_insert, unguarded_divisions
from tests.unit.validator.test_rules_static import HAND_WRITTEN

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"

RESERVED = """INSERT INTO `dwd_x`
SELECT `e`.`id` AS `id`, `d`.`from` AS `from`, `d`.`select` AS `where`, `d`.`value` AS `value`
FROM `BusinessEvent` AS `e`
LEFT JOIN `dim_ev` FOR SYSTEM_TIME AS OF `e`.`proc_time` AS `d` ON `d`.`type` = `e`.`type`
WHERE `e`.`from` = 'x' AND `e`.`id` IS NOT NULL
"""


@pytest.fixture(scope="module")
def orders() -> RequestSpec:
    spec = check_document((FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")).spec
    assert spec is not None
    return spec


def _run(spec: RequestSpec, sql: str) -> Report:
    inputs = Inputs(
        spec=spec,
        sql=sql,
        plan=PlanFacts(ran=True),
        knowledge=KnowledgeFacts(available=True),
        job_config=JobConfig(parallelism=2, checkpoint_interval="30 s"),
        cases_ran=True,
    )
    return assess(inputs, created_at="2025-01-01T00:00:00+00:00")


def test_a_quoted_reserved_word_is_a_column_not_a_clause() -> None:
    """`` `from` `` (and `` `select` ``, `` `where` ``) quoted are names: the select list reaches
    the real FROM, every alias is read, the WHERE is the real one."""
    [st] = split_statements(RESERVED, strict=False)
    view = read_insert(st, payload_types={}, aliases=[("d", "dim_ev")])
    assert [i.column for i in view.items] == ["ID", "FROM", "WHERE", "VALUE"]
    item = view.item_for("from")
    assert item is not None and item.text == "`d`.`from`"
    assert [t.text for t in item.tokens] == ["D.FROM"]
    assert [[t.text for t in c] for c in view.where] == [
        ["E.FROM", "=", "'x'"],
        ["E.ID", "IS", "NOT", "NULL"],
    ]
    assert [(j.table, j.alias, j.lookup) for j in view.joins] == [("DIM_EV", "D", True)]


def test_bare_keywords_still_cut_the_statement() -> None:
    """The same statement with bare keywords and a quoted `` `as` `` alias: the keywords work."""
    [st] = split_statements("INSERT INTO t SELECT a AS `as`, b FROM s WHERE a > 1", strict=False)
    view = read_insert(st, payload_types={}, aliases=())
    assert [i.column for i in view.items] == ["AS", None]
    assert [[t.text for t in c] for c in view.where] == [["A", ">", "1"]]


@pytest.mark.parametrize(
    ("expression", "unguarded"),
    [
        ("payload.weightKg / 1000.0", 0),
        ("x / 1000", 0),
        ("x / (100)", 0),
        ("x / 1e3", 0),
        ("x / -2.5", 0),
        ("x / NULLIF(y, 0)", 0),
        ("x / 0", 1),
        ("x / 0.0", 1),
        ("x / 0e3", 1),
        ("x / y", 1),
        ("x / (y + 1000)", 1),
        ("a / 2 + b / c", 1),
    ],
)
def test_only_a_divisor_that_can_be_zero_is_unguarded(expression: str, unguarded: int) -> None:
    assert unguarded_divisions(canonical_expression(expression)) == unguarded


def test_the_division_finding_on_a_job(orders: RequestSpec) -> None:
    literal = _run(
        orders, HAND_WRITTEN.replace("e.cnt, e.st, e.ch", "CAST(e.cnt / 1000.0 AS INT), e.st, e.ch")
    )
    assert "accuracy.unguarded_division" not in {f.code for f in literal.findings}
    column = _run(orders, HAND_WRITTEN.replace("e.cnt, e.st, e.ch", "CAST(e.cnt / e.st AS INT), e.st, e.ch"))
    assert "accuracy.unguarded_division" in {f.code for f in column.findings}
