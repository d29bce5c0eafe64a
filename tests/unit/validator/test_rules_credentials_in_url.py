"""sql.credentials_in_url: a URL's literal password is a Critical finding, like a literal option."""

from __future__ import annotations

import pytest

from services.validator.domain.checks_sql import url_credentials
from services.validator.domain.rules import CATALOGUE_VERSION, RULES


@pytest.mark.parametrize(
    ("url", "held"),
    [
        ("jdbc:mysql://app:S3cr3t@db/shop", ["password"]),
        ("jdbc:mysql://db/shop?user=app&password=S3cr3t", ["password"]),
        ("jdbc:sqlserver://db;user=a;pwd=S3cr3t", ["pwd"]),
        ("jdbc:oracle:thin:scott/tiger@//db:1521/svc", ["password"]),
        ("http://u:p\u00e9'x@es:9200", ["password"]),
    ],
)
def test_a_url_credential_is_found(url: str, held: list[str]) -> None:
    assert url_credentials(url) == held


@pytest.mark.parametrize(
    "value",
    [
        "jdbc:mysql://db:3306/shop",
        "jdbc:mysql://app@db/shop?user=app",
        "jdbc:mysql://app:${secret:x}@db/shop",
        "jdbc:mysql://db/shop?password=${secret:x}",
        "jdbc:oracle:thin:@//db:1521/svc",
        "${secret:streamwright-jdbc-url}",
    ],
)
def test_no_false_positive(value: str) -> None:
    assert url_credentials(value) == []


def test_the_rule_is_critical_and_the_catalogue_is_1_4() -> None:
    rule = RULES["sql.credentials_in_url"]
    assert rule.severity == "critical" and rule.points == RULES["sql.credentials_in_ddl"].points
    assert CATALOGUE_VERSION == "sw-rules-1.5"


def test_a_hand_written_job_with_a_url_password_is_flagged() -> None:
    """It reports the table and option of a JDBC URL that carries a password."""
    from services.ingest.domain.checks import check_document
    from tests.unit.validator.test_rules_static import FIXTURES, _run

    spec = check_document((FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")).spec
    assert spec is not None
    from services.generator.adapters.profiles_fs import load_profile
    from services.generator.domain import compile_job

    sql = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="t").sql
    url = next(line for line in sql.splitlines() if "'url'" in line).split("'")[3]
    broken = sql.replace(url, url.replace("://", "://app:S3cr3t@", 1) + "?password=P2", 1)
    found = [f for f in _run(spec, broken).findings if f.code == "sql.credentials_in_url"]
    assert found and found[0].severity == "critical" and found[0].name == "url"
    assert not [f for f in _run(spec, sql).findings if f.code == "sql.credentials_in_url"]
