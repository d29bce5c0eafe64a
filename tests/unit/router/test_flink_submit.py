"""The flink-session submitter's pure parts: SET statements and secret references."""

from __future__ import annotations

import pytest

from services.flinksql.statements import parse_set
from services.router.adapters.flink_submit import SubmitError, resolve_secrets, secret_variable


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SET 'table.local-time-zone' = 'Asia/Shanghai'", ("table.local-time-zone", "Asia/Shanghai")),
        ("-- why\nSET 'pipeline.name' = 'it''s';", ("pipeline.name", "it's")),
        ("/* c */ set 'a.b' = '1'", ("a.b", "1")),
        ("INSERT INTO `t` SELECT 1", None),
        ("SELECT 'SET x = 1'", None),
    ],
)
def test_set_statements_are_read_as_key_value(statement: str, expected: tuple[str, str] | None) -> None:
    """It reads SET statements (quoted, commented, any case) and nothing else."""
    assert parse_set(statement) == expected


def test_secret_references_resolve_from_the_environment_escaped() -> None:
    """It substitutes ${secret:name} from SW_SECRET_<NAME>, escaping quotes for the SQL literal."""
    assert secret_variable("sw-dev-jdbc-dim-shop") == "SW_SECRET_SW_DEV_JDBC_DIM_SHOP"
    statement = "'password' = '${secret:sw-dev-jdbc-dim-shop}'"
    resolved = resolve_secrets(statement, {"SW_SECRET_SW_DEV_JDBC_DIM_SHOP": "p'w"})
    assert resolved == "'password' = 'p''w'"


def test_a_missing_secret_names_the_variable_never_a_value() -> None:
    """It refuses to submit with an unresolved secret and says which variable to export."""
    with pytest.raises(SubmitError) as caught:
        resolve_secrets("'password' = '${secret:orders-db}'", {"SW_SECRET_OTHER": "hunter2"})
    assert "SW_SECRET_ORDERS_DB" in str(caught.value) and "hunter2" not in str(caught.value)
