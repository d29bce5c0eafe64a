"""The delivery counters shared by the webhook and the OpenLineage emitter."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from services.router.adapters.http_delivery import delivery_counters


def test_each_sender_keeps_its_own_counters_in_a_shared_registry() -> None:
    """The router registers both senders in one registry; a second notifier reuses the counters."""
    registry = CollectorRegistry()
    webhook = delivery_counters(
        registry, "webhook", sender="Webhook", items="notifications", reasons="failed"
    )
    lineage = delivery_counters(
        registry, "openlineage", sender="OpenLineage", items="events", reasons="failed"
    )
    again = delivery_counters(registry, "webhook", sender="Webhook", items="notifications", reasons="failed")
    assert again is webhook and lineage is not webhook
    webhook["delivered"].labels(service="router").inc()
    lineage["dropped"].labels(service="router", reason="no_lineage").inc()
    assert registry.get_sample_value("streamwright_webhook_delivered_total", {"service": "router"}) == 1
    assert (
        registry.get_sample_value("streamwright_openlineage_delivered_total", {"service": "router"}) is None
    )
    assert (
        registry.get_sample_value(
            "streamwright_openlineage_dropped_total", {"service": "router", "reason": "no_lineage"}
        )
        == 1
    )
