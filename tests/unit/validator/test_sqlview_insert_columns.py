"""The INSERT column list is read as written, even when a subquery's columns share its names.

Regression: `read_insert` resolved every bare name equal to an extraction alias
(`json_value(payload, '$.paymentId') as payment_id`) to the payload column, the INSERT column list
included, so `(payment_id, ...)` was read as `PAYMENTID, ...` and the result columns were reported
as not produced (`accuracy.column_not_produced`, critical).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.flinksql.lexer import TokenKind, tokenize
from services.flinksql.spec import RequestSpec
from services.ingest.domain.checks import check_document
from services.validator.domain import Inputs, assess
from services.validator.domain.model import JobConfig, KnowledgeFacts, PlanFacts, Report
from services.validator.domain.sqlview import InsertView, read_script

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HAND_WRITTEN = (FIXTURES / "handwritten" / "payments.sql").read_text(encoding="utf-8")

# The job as reported: lower-case keywords, a column list, subquery aliases named like the result.
REPORTED = """insert into dwd_payment_wide (payment_id, order_id, pay_amount)
select pay.payment_id, pay.order_id, pay.amt
from (select json_value(payload, '$.paymentId') as payment_id, json_value(payload, '$.orderId') as order_id, \
try_cast(json_value(payload, '$.payAmount') as decimal(14,2)) as amt from BusinessEvent) pay;
"""

_KEYWORDS = frozenset(
    {"INSERT", "INTO", "SELECT", "FROM", "WHERE", "AND", "AS", "WITH", "CASE", "WHEN", "THEN", "ELSE"}
    | {"END", "CAST", "TRY_CAST", "JSON_VALUE", "INNER", "LEFT", "JOIN", "FOR", "SYSTEM_TIME", "OF", "ON"}
    | {"IS", "NOT", "NULL", "COALESCE", "CREATE", "TEMPORARY", "TABLE", "STRING", "BIGINT", "INT"}
    | {"BOOLEAN", "DECIMAL", "TIMESTAMP", "DATE", "PRIMARY", "KEY", "ENFORCED", "FALSE", "PARTITION"}
)


def _upper_keywords(sql: str) -> str:
    """The script with its keywords upper-cased (identifiers, literals and comments as written)."""
    tokens = tokenize(sql, trivia=True)
    return "".join(
        t.text.upper() if t.kind is TokenKind.WORD and t.text.upper() in _KEYWORDS else t.text for t in tokens
    )


def _insert(sql: str) -> InsertView:
    [view] = read_script(sql).inserts
    return view


def _resolved(view: InsertView, column: str) -> list[str]:
    item = view.item_for(column)
    assert item is not None, f"no SELECT item feeds {column}"
    return [t.text for t in item.tokens]


# --- read_script: the column list and what feeds each column -------------------------------------


@pytest.mark.parametrize("case", ["lower", "upper"])
def test_reported_shape_keeps_the_column_list(case: str) -> None:
    """The reported job, in lower- and upper-case keywords: the list is the sink's columns."""
    view = _insert(REPORTED if case == "lower" else _upper_keywords(REPORTED))
    assert view.columns == ["PAYMENT_ID", "ORDER_ID", "PAY_AMOUNT"]
    assert _resolved(view, "payment_id") == ["PAYLOAD.PAYMENTID"]
    assert _resolved(view, "order_id") == ["PAYLOAD.ORDERID"]
    assert view.item_for("pay_amount") is not None


def test_backquoted_column_list() -> None:
    """Backquoted names in the column list are read unquoted, not resolved to payload fields."""
    sql = REPORTED.replace("(payment_id, order_id, pay_amount)", "(`payment_id`, `order_id`, `pay_amount`)")
    view = _insert(sql)
    assert view.columns == ["PAYMENT_ID", "ORDER_ID", "PAY_AMOUNT"]
    assert _resolved(view, "payment_id") == ["PAYLOAD.PAYMENTID"]


@pytest.mark.parametrize("qualified", [True, False], ids=["qualified", "bare"])
def test_cte_with_the_result_names(qualified: bool) -> None:
    """`insert into t (cols) with x as (...) select ...`: the list stays, the SELECT still resolves."""
    q = "pay." if qualified else ""
    sql = f"""INSERT INTO dwd_payment_wide (payment_id, order_id, pay_amount)
WITH pay AS (
  SELECT JSON_VALUE(payload, '$.paymentId') AS payment_id, JSON_VALUE(payload, '$.orderId') AS order_id,
         TRY_CAST(JSON_VALUE(payload, '$.payAmount') AS DECIMAL(14, 2)) AS pay_amount
  FROM BusinessEvent)
SELECT {q}payment_id, {q}order_id, {q}pay_amount FROM pay"""
    view = _insert(sql)
    assert view.columns == ["PAYMENT_ID", "ORDER_ID", "PAY_AMOUNT"]
    assert _resolved(view, "payment_id") == ["PAYLOAD.PAYMENTID"]
    assert _resolved(view, "order_id") == ["PAYLOAD.ORDERID"]


def test_subquery_in_from_sharing_every_name_with_the_result() -> None:
    """A FROM subquery whose aliases are exactly the result's names, joined to a dimension."""
    sql = """insert into dwd_payment_wide (payment_id, merchant_id, merchant_name)
select pay.payment_id, pay.merchant_id, mch.merchant_name
from (select json_value(payload, '$.paymentId') as payment_id,
             json_value(payload, '$.merchantId') as merchant_id, proc_time
      from BusinessEvent where `type` = 'payment_result') pay
inner join dim_merchant for system_time as of pay.proc_time as mch on pay.merchant_id = mch.merchant_id"""
    view = _insert(sql)
    assert view.columns == ["PAYMENT_ID", "MERCHANT_ID", "MERCHANT_NAME"]
    assert _resolved(view, "merchant_id") == ["PAYLOAD.MERCHANTID"]
    assert [t.text for t in view.joins[0].on[0]] == ["PAYLOAD.MERCHANTID", "=", "MCH.MERCHANT_ID"]


def test_column_list_after_a_partition_spec() -> None:
    """`insert into t partition (...) (cols)`: the column list follows the partition spec."""
    sql = REPORTED.replace("dwd_payment_wide (", "dwd_payment_wide partition (dt = '2025-01-01') (")
    view = _insert(sql)
    assert view.columns == ["PAYMENT_ID", "ORDER_ID", "PAY_AMOUNT"]
    assert _resolved(view, "payment_id") == ["PAYLOAD.PAYMENTID"]


# --- assess: the hand-written payments job in its original style ---------------------------------

# the subquery's aliases renamed back to the result's names (the fixture was renamed to avoid the bug)
_ORIGINAL_NAMES = {
    "pay_id": "payment_id",
    "order_no": "order_id",
    "payer_id": "user_id",
    "mch_id": "merchant_id",
    "amount": "pay_amount",
}


def _original_style() -> str:
    sql = HAND_WRITTEN
    for old, new in _ORIGINAL_NAMES.items():
        sql = re.sub(rf"(?<=pay\.){old}\b|\b{old}(?=\s*,?\n)", new, sql)
    assert "as payment_id," in sql and "pay.payment_id," in sql and "pay_id" not in sql
    return sql


def _as_cte(sql: str) -> str:
    """`insert ... select ... from (subquery) pay join ...` as `insert ... with pay as (subquery) select ...`."""
    head, _, rest = sql.partition("\nselect\n")
    outer, _, rest = rest.partition("\nfrom (\n")
    subquery, _, tail = rest.partition("\n) pay\n")
    assert outer and subquery and tail
    return f"{head}\nwith pay as (\n{subquery}\n)\nselect\n{outer}\nfrom pay\n{tail}"


def _backquoted_list(sql: str) -> str:
    head, into, rest = sql.partition("insert into dwd_payment_wide (")
    names, close, tail = rest.partition(")")
    quoted = ", ".join(f"`{n.strip()}`" for n in names.split(","))
    return f"{head}{into}{quoted}{close}{tail}"


VARIANTS = {
    "reported": _original_style,
    "upper-case keywords": lambda: _upper_keywords(_original_style()),
    "cte": lambda: _as_cte(_original_style()),
    "backquoted column list": lambda: _backquoted_list(_original_style()),
}


@pytest.fixture(scope="module")
def payments() -> RequestSpec:
    spec = check_document((FIXTURES / "requests" / "payments-request-v3.md").read_text(encoding="utf-8")).spec
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


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_original_style_payments_job_reads_like_the_renamed_one(payments: RequestSpec, variant: str) -> None:
    """The job with the result's names in its subquery is judged exactly like the renamed fixture."""
    sql = VARIANTS[variant]()
    [view] = read_script(sql).inserts
    assert view.columns is not None and view.columns[:4] == [
        "PAYMENT_ID",
        "ORDER_ID",
        "USER_ID",
        "MERCHANT_ID",
    ]
    report = _run(payments, sql)
    assert not [f for f in report.findings if f.code == "accuracy.column_not_produced"]
    reference = _run(payments, HAND_WRITTEN)
    assert sorted((f.code, f.severity, f.name) for f in report.findings) == sorted(
        (f.code, f.severity, f.name) for f in reference.findings
    )
