"""Redaction at intake (services/ingest/domain/redact.py): every pattern, hostile values, no
false positives, idempotence, and the stored record."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.generator.domain.lower import SENSITIVE_OPTION
from services.generator.domain.lower import secret_name as generator_secret_name
from services.ingest.domain.checks import check_document
from services.ingest.domain.intake import RequestRecord
from services.ingest.domain.redact import (
    PLACEHOLDER,
    is_credential_key,
    redact_document,
    redact_value,
    secret_name,
)

ROOT = Path(__file__).resolve().parents[3]
ORDERS = (ROOT / "examples" / "orders" / "orders-request-v3.md").read_text(encoding="utf-8")
URL = "jdbc:mysql://mysql-trade.internal:3306/trade_dim"


def _with_option(key: str, value_sql: str) -> str:
    return ORDERS.replace(
        "'username' = 'flink_reader'", f"'username' = 'flink_reader',\n    '{key}' = {value_sql}", 1
    )


def _with_url(url: str) -> str:
    return ORDERS.replace(URL, url, 1)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("jdbc:mysql://app:S3cr3t@db:3306/shop", "S3cr3t"),
        ("jdbc:mysql://app:p@ss:w0rd@db/shop", "p@ss:w0rd"),
        ("jdbc:mysql://db/shop?user=app&password=S3cr3t&useSSL=true", "S3cr3t"),
        ("jdbc:mysql://db/shop?password=S3cr3t", "S3cr3t"),
        ("jdbc:postgresql://db/shop?sslpassword=S3cr3t", "S3cr3t"),
        ("jdbc:sqlserver://db:1433;user=app;pwd=S3cr3t;databaseName=x", "S3cr3t"),
        ("jdbc:oracle:thin:scott/S3cr3t@//db:1521/svc", "S3cr3t"),
        ("http://elastic:S3cr3t@es:9200", "S3cr3t"),
        ("jdbc:mysql://app:\u5bc6\u7801\u00e9@db/shop", "\u5bc6\u7801\u00e9"),
    ],
)
def test_a_url_password_is_redacted(url: str, secret: str) -> None:
    """It replaces the password of userinfo, Oracle's user/password@ and credential parameters."""
    assert secret not in redact_value(url)
    assert PLACEHOLDER in redact_value(url)


@pytest.mark.parametrize(
    "value",
    [
        "jdbc:mysql://mysql-trade.internal:3306/trade_dim",
        "jdbc:mysql://app@db/shop?user=app&useSSL=true",
        "jdbc:oracle:thin:@//db:1521/svc",
        "jdbc:mysql://[::1]:3306/shop",
        "kafka-1:9092,kafka-2:9092",
        "${secret:streamwright-jdbc-dim-shop-password}",
        "s3://bucket/path?versionId=3",
    ],
)
def test_a_url_without_credentials_is_kept(value: str) -> None:
    """It leaves URLs without a password, and secret references, as they are."""
    assert redact_value(value) == value


@pytest.mark.parametrize(
    ("key", "value_sql", "secret"),
    [
        ("password", "'Hunter2'", "Hunter2"),
        ("passwd", "'Hunter2'", "Hunter2"),
        ("pwd", "'Hunter2'", "Hunter2"),
        ("properties.ssl.truststore.password", "'Hunter2'", "Hunter2"),
        ("secret", "'Hunter2'", "Hunter2"),
        ("token", "'Hunter2'", "Hunter2"),
        ("s3.access-key", "'AKIAHunter2'", "AKIAHunter2"),
        ("s3.secret-key", "'Hunter2'", "Hunter2"),
        ("private-key", "'Hunter2'", "Hunter2"),
        ("credential", "'Hunter2'", "Hunter2"),
        (
            "properties.sasl.jaas.config",
            '\'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="Hunter2";\'',
            "Hunter2",
        ),
        ("password", "'it''s \"quoted\" -- /* x */ ; Hunter2'", "Hunter2"),
        ("password", "'\u5bc6\u7801Hunter2\U0001f511'", "Hunter2"),
        ("password", "U&'\\0048unter2'", "unter2"),
        ("password", "'ab${cd'", "ab${cd"),
    ],
)
def test_a_credential_option_becomes_a_secret_reference(key: str, value_sql: str, secret: str) -> None:
    """It redacts the option in the text, makes it the generator's reference in the spec and warns."""
    text = _with_option(key, value_sql)
    redaction = redact_document(text)
    assert secret not in redaction.text
    assert len(redaction.text.splitlines()) == len(text.splitlines())
    result = check_document(text)
    assert result.spec is not None, [e.render() for e in result.errors]
    assert secret not in result.spec.to_json()
    shop = result.spec.dimensions[0].table
    assert shop.options[key] == "${secret:" + secret_name("streamwright-jdbc", "dim_shop", key) + "}"
    warning = next(w for w in result.warnings if w.code == "secrets.redacted")
    assert warning.name == f"dim_shop.{key}"
    assert warning.line == next(n for n, line in enumerate(text.splitlines(), 1) if f"'{key}' =" in line)
    assert warning.block.endswith("dim_shop")


def test_a_multi_line_credential_keeps_the_lines_and_is_gone() -> None:
    """It keeps the line breaks of a literal that spans lines (the check then rejects the line
    break as for any option), and no error, warning or text holds the literal."""
    text = _with_option("password", "'Hunter2\nsecond line'")
    redaction = redact_document(text)
    assert "Hunter2" not in redaction.text and "second line" not in redaction.text
    assert len(redaction.text.splitlines()) == len(text.splitlines())
    result = check_document(text)
    assert "Hunter2" not in result.model_dump_json()
    assert [e.code for e in result.errors] == ["ddl.option_literal"]


def test_a_url_credential_moves_to_username_and_password_options() -> None:
    """It strips user:password@ and password= from the URL; the table gets 'password' as a reference."""
    text = _with_url("jdbc:mysql://app:S3cr3t@db:3306/shop?useSSL=true&password=P2")
    result = check_document(text)
    assert result.spec is not None
    options = result.spec.dimensions[0].table.options
    assert options["url"] == "jdbc:mysql://db:3306/shop?useSSL=true"
    assert options["username"] == "flink_reader"  # the table's own user wins over the URL's
    assert options["password"] == "${secret:streamwright-jdbc-dim-shop-password}"
    assert "S3cr3t" not in result.spec.to_json() and "P2" not in result.spec.to_json()
    assert [w.name for w in result.warnings if w.code == "secrets.redacted"] == ["dim_shop.url"]


def test_the_check_of_the_redacted_text_is_the_check_of_the_original() -> None:
    """It is idempotent: the stored text checks to the same spec, hash and warnings."""
    text = _with_url("jdbc:mysql://app:S3cr3t@db:3306/shop")
    text = text.replace("'username' = 'flink_reader'", "'username' = 'u',\n    'password' = 'x'", 1)
    first = redact_document(text)
    second = redact_document(first.text)
    assert second.text == first.text and second.findings == first.findings
    assert check_document(text) == check_document(first.text)


def test_a_reference_and_a_clean_document_are_left_alone() -> None:
    """It changes nothing in a document without credentials, nor a `${secret:...}` value (the
    secret-reference check still rejects that)."""
    assert redact_document(ORDERS).text == ORDERS
    assert not redact_document(ORDERS).findings
    text = _with_option("password", "'${secret:mine}'")
    assert redact_document(text).text == text
    assert any(e.code == "secrets.reference" for e in check_document(text).errors)


def test_a_url_in_prose_is_redacted_too() -> None:
    """It redacts a URL password outside the DDL (a note), with a warning naming the line."""
    text = ORDERS + "\n\nConnect with jdbc:mysql://admin:Pr0sePw@db/x for debugging.\n"
    result = check_document(text)
    assert "Pr0sePw" not in redact_document(text).text
    assert result.spec is not None and "Pr0sePw" not in result.spec.to_json()
    assert any(w.code == "secrets.redacted" and w.name is None for w in result.warnings)


def test_the_stored_record_never_holds_the_literal() -> None:
    """It keeps a RequestRecord's document and cases redacted (the store and RequestSubmitted)."""
    text = _with_option("password", "'Hunter2'")
    record = RequestRecord(
        request_id="r",
        run_id="u",
        idempotency_key="k",
        domain="orders",
        state="PENDING",
        submitted_at=datetime(2025, 1, 1, tzinfo=UTC),
        source="cli",
        document=text,
        cases_yaml="note: jdbc:mysql://a:CasePw@h/db\n",
    )
    assert "Hunter2" not in record.model_dump_json() and "CasePw" not in record.model_dump_json()


@pytest.mark.parametrize(
    "key", ["password", "s3.access-key", "accesskey", "x.token", "sasl.jaas.config", "credential"]
)
def test_every_key_the_generator_hides_is_redacted(key: str) -> None:
    """It redacts at least what the generator replaces by a reference, and names it the same."""
    assert SENSITIVE_OPTION.search(key) and is_credential_key(key)
    assert secret_name("p", "dim_Shop", key) == generator_secret_name("p", "dim_Shop", key)


@pytest.mark.parametrize("key", ["connector", "url", "username", "table-name", "lookup.cache.ttl", "topic"])
def test_ordinary_keys_are_not_credentials(key: str) -> None:
    assert not is_credential_key(key)
