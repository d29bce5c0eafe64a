"""The metrics the alerts and the dashboard query, scraped from a running mesh.

One request goes to RUNNING through all five services (as processes, on the embedded broker); then
every service's /metrics (the supervisor's ports) is scraped and every series name that
compose/prometheus/alerts.yml and compose/grafana/dashboards/*.json select must be exposed by some
service, with the labels their matchers name. Series Flink or Prometheus make (tests/monitoring.py:
FLINK_METRICS, PROMETHEUS_SERIES, each with its reason) are not the mesh's to expose.

Values too: the router's run gauges (from its store, refreshed every second here), the phases the
run went through, the final state it reached, and the validator's score of its domain.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator

import pytest
from meshkit import MeshClient, example, running_mesh, scrape
from prometheus_client.parser import text_string_to_metric_families

from services.mesh.supervisor import Supervisor
from services.router.domain.run_stats import OPEN_STATES
from tests import monitoring

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.system]

DOMAIN = "orders_metrics"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    home = tmp_path_factory.mktemp("mesh")
    env = {
        "STREAMWRIGHT_ROUTER_OUTPUT_DIR": str(home / "out"),
        "STREAMWRIGHT_ROUTER_RUN_METRICS_INTERVAL_SECONDS": "1",
    }
    with running_mesh(home, env) as supervisor:
        yield supervisor


Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape_all(supervisor: Supervisor) -> dict[str, Samples]:
    """Service -> sample name -> (labels, value) of each series, from every child's /metrics."""
    found: dict[str, Samples] = {}
    for child in supervisor.children:
        samples: Samples = defaultdict(list)
        for family in text_string_to_metric_families(scrape(child.metrics_port)):
            for sample in family.samples:
                samples[sample.name].append((dict(sample.labels), sample.value))
        found[child.name] = samples
    return found


def value(samples: Samples, name: str, **labels: str) -> float | None:
    matching = [v for got, v in samples.get(name, []) if all(got.get(k) == w for k, w in labels.items())]
    return sum(matching) if matching else None


@pytest.mark.timeout(600)
async def test_every_queried_series_is_exposed_after_a_run(mesh: Supervisor) -> None:
    async with MeshClient(mesh) as client:
        submitted = await client.submit(example("orders").renamed(DOMAIN), key="metrics-orders")
        run = await client.settled(submitted.run_id, 420)
        assert run.state_name == "RUNNING", (run.state_name, run.reason)

    # The router's gauges are refreshed every second: wait until they show the run has ended.
    deadline = time.monotonic() + 30
    while True:
        scraped = scrape_all(mesh)
        router, validator = scraped["router"], scraped["validator"]
        open_runs = value(router, "streamwright_runs")
        ended = value(router, "streamwright_runs_ended_total", state="RUNNING")
        if (open_runs == 0 and ended == 1) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)

    exposed: dict[str, set[str]] = defaultdict(set)
    for samples in scraped.values():
        for name, series in samples.items():
            for labels, _ in series:
                exposed[name] |= set(labels)
    wanted = monitoring.mesh_series()
    missing = sorted(set(wanted) - set(exposed))
    assert missing == [], f"queried by alerts/dashboards, exposed by no service: {missing}"
    unlabelled = {
        name: sorted(labels - exposed[name] - monitoring.TARGET_LABELS)
        for name, labels in wanted.items()
        if labels - exposed[name] - monitoring.TARGET_LABELS
    }
    assert unlabelled == {}

    # The run's numbers. Gauges: every non-final state present, none holding a run now.
    for state in OPEN_STATES:
        assert value(router, "streamwright_runs", state=state.value) == 0, state
        assert value(router, "streamwright_runs_oldest_active_seconds", state=state.value) == 0, state
    assert ended == 1
    for phase in ("ingest", "generate", "validate", "gate", "knowledge", "start"):
        count = value(router, "streamwright_run_phase_seconds_count", phase=phase)
        assert count is not None and count >= 1, phase
    assert value(validator, "streamwright_validation_score_count", dimension="total") == 1
    assert (
        value(validator, "streamwright_validation_last_score", domain=DOMAIN, dimension="total") == run.score
    )
    # The failure counters exist (at zero) for every subscription, so the first one is an increase.
    assert value(router, "streamwright_events_dead_lettered_total") == 0
    assert value(validator, "streamwright_handler_failures_total", event_type="sw.sql.generated") is not None
