"""The webhook's pure parts: what its logs may name, the signature, and its settings."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from services.router.adapters.webhook import WebhookNotifier, signature
from services.router.settings import RouterSettings


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://hooks.example.com/services/T0/B0/SECRET", "hooks.example.com"),
        ("http://chat.example.com:8065/hooks/SECRET?token=SECRET", "chat.example.com:8065"),
        ("https://user:SECRET@example.com/x", "example.com"),
        ("http://[::1]:9000/SECRET", "[::1]:9000"),
    ],
)
def test_the_host_is_all_a_log_may_name(url: str, host: str) -> None:
    notifier = WebhookNotifier(url)
    assert notifier.host == host
    assert "SECRET" not in notifier.host


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/SECRET",
        "http:///SECRET",
        "http://example.com:99999/SECRET",
        "http://example.com/SECRET\r\nX-Injected: 1",
    ],
)
def test_an_unusable_url_is_refused_without_quoting_it(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        WebhookNotifier(url)
    assert "SECRET" not in str(raised.value)


def test_the_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"kind": "review"}'
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert signature(b"k", body) == f"sha256={expected}"


def test_webhook_settings_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWRIGHT_ROUTER_WEBHOOK_URL", "https://hooks.example.com/x")
    monkeypatch.setenv("STREAMWRIGHT_ROUTER_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("STREAMWRIGHT_ROUTER_WEBHOOK_TIMEOUT_SECONDS", "2.5")
    settings = RouterSettings(home=tmp_path)
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert "hooks.example.com" not in repr(settings)  # the URL carries the token of most chat webhooks
    assert settings.webhook_timeout_seconds == 2.5
    monkeypatch.delenv("STREAMWRIGHT_ROUTER_WEBHOOK_TIMEOUT_SECONDS")
    defaults = RouterSettings(home=tmp_path)
    assert defaults.webhook_timeout_seconds == 5.0
