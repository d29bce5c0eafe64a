"""The OpenLineage emitter's pure parts: its endpoint, what a log may name, its settings and wiring."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from services.router.adapters.openlineage import NoLineage, OpenLineageEmitter, endpoint
from services.router.bootstrap import make_lineage
from services.router.settings import RouterSettings


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("http://marquez:5000", "/api/v1/lineage"),
        ("http://marquez:5000/", "/api/v1/lineage"),
        ("https://gw.example.com/lineage/", "/lineage/api/v1/lineage"),
        ("https://gw.example.com/ol?tenant=a", "/ol/api/v1/lineage?tenant=a"),
    ],
)
def test_events_go_to_the_marquez_lineage_endpoint_of_the_url(url: str, target: str) -> None:
    assert endpoint(url).target == target


def test_the_host_is_all_a_log_may_name_and_bad_urls_are_not_quoted() -> None:
    emitter = OpenLineageEmitter("https://user:SECRET@marquez.example.com:5443/SECRET?k=SECRET")
    assert emitter.host == "marquez.example.com:5443"
    for url in ("file:///SECRET", "http://h/SECRET\r\nX: 1", "marquez:5000/SECRET"):
        with pytest.raises(ValueError, match="OpenLineage URL") as raised:
            OpenLineageEmitter(url)
        assert "SECRET" not in str(raised.value)
    with pytest.raises(ValueError, match="API key"):
        OpenLineageEmitter("http://marquez:5000", api_key="a\r\nX-Injected: 1")


class _Metrics:
    registry = CollectorRegistry()


class _Context:
    metrics = _Metrics()
    service = "router"


def test_settings_come_from_the_environment_and_choose_the_emitter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No URL, no emitter; with one, the key stays out of repr and the emitter gets the timeout."""
    assert isinstance(make_lineage(RouterSettings(home=tmp_path), _Context()), NoLineage)  # type: ignore[arg-type]
    monkeypatch.setenv("STREAMWRIGHT_ROUTER_OPENLINEAGE_URL", "http://marquez:5000/tenant-token")
    monkeypatch.setenv("STREAMWRIGHT_ROUTER_OPENLINEAGE_API_KEY", "k3y")
    monkeypatch.setenv("STREAMWRIGHT_ROUTER_OPENLINEAGE_TIMEOUT_SECONDS", "2.5")
    settings = RouterSettings(home=tmp_path)
    assert "k3y" not in repr(settings) and "tenant-token" not in repr(settings)
    assert (
        settings.openlineage_api_key is not None and settings.openlineage_api_key.get_secret_value() == "k3y"
    )
    emitter = make_lineage(settings, _Context())  # type: ignore[arg-type]
    assert isinstance(emitter, OpenLineageEmitter) and emitter.host == "marquez:5000"
    assert emitter._deadline == 2.5 and emitter._api_key == "k3y"
