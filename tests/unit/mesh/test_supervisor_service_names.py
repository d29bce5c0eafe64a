"""`streamwright up` never gives its five services one service name: OTEL_SERVICE_NAME (or a
`service.name=` in OTEL_RESOURCE_ATTRIBUTES) set for `up` is kept out of the children's
environment, each child's resource names its own service, and `up` says so once when tracing is on."""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rich.console import Console

from services.mesh import supervisor
from services.mesh.embedded_broker import BrokerStartError
from services.mesh.service import DEFAULT_PORTS
from services.mesh.settings import MeshSettings
from services.mesh.tracing import ServiceTracing, without_service_name

SERVICES = {name: f"services.{name}.entrypoints.main" for name in DEFAULT_PORTS}
TRACED = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "PATH": "/usr/bin"}


@pytest.mark.parametrize(
    ("given", "left", "removed"),
    [
        ({"OTEL_SERVICE_NAME": "shared", "A": "1"}, {"A": "1"}, ["OTEL_SERVICE_NAME=shared"]),
        (
            {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=staging, service.name = shared,team=data"},
            {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=staging,team=data"},
            ["OTEL_RESOURCE_ATTRIBUTES service.name = shared"],
        ),
        (
            {"OTEL_RESOURCE_ATTRIBUTES": "service.name=shared"},
            {},
            ["OTEL_RESOURCE_ATTRIBUTES service.name=shared"],
        ),
        (
            {"OTEL_SERVICE_NAME": "a", "OTEL_RESOURCE_ATTRIBUTES": "service.name=b"},
            {},
            ["OTEL_SERVICE_NAME=a", "OTEL_RESOURCE_ATTRIBUTES service.name=b"],
        ),
        # An empty name names nothing (the SDK ignores it): dropped without a word.
        ({"OTEL_SERVICE_NAME": ""}, {}, []),
        # service.namespace, service.version and the rest are the user's to set.
        (
            {"OTEL_RESOURCE_ATTRIBUTES": "service.namespace=eu,service.name.suffix=x"},
            {"OTEL_RESOURCE_ATTRIBUTES": "service.namespace=eu,service.name.suffix=x"},
            [],
        ),
    ],
)
def test_a_service_name_is_taken_out_and_everything_else_kept(
    given: dict[str, str], left: dict[str, str], removed: list[str]
) -> None:
    before = dict(given)
    assert without_service_name(given) == (left, removed)
    assert given == before  # a copy: the caller's mapping is unchanged


def _spawned_environments(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str]
) -> dict[str, dict[str, str]]:
    """The environment each of the five services would be started with (Popen faked)."""
    spawned: dict[str, dict[str, str]] = {}

    class FakePopen:
        def __init__(self, args: list[str], **kwargs: Any) -> None:
            spawned[args[-1]] = kwargs["env"]

    # only the supervisor's view of subprocess: the unit tier's guard patches the real Popen
    fake = SimpleNamespace(Popen=FakePopen, DEVNULL=subprocess.DEVNULL, STDOUT=subprocess.STDOUT)
    monkeypatch.setattr(supervisor, "subprocess", fake)
    mesh = supervisor.Supervisor(MeshSettings(home=tmp_path), services=SERVICES, env=env)
    for instance in mesh.instances:
        mesh._spawn(instance, (1, 2)).log_file.close()
    return {name: spawned[module] for name, module in SERVICES.items()}


def test_each_child_reports_its_own_service_name_whatever_up_was_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The resource each child builds from its environment: five names, the user's other attributes."""
    given = {
        **TRACED,
        "OTEL_SERVICE_NAME": "shared",
        "OTEL_RESOURCE_ATTRIBUTES": "service.name=also-shared,deployment.environment=staging",
    }
    environments = _spawned_environments(monkeypatch, tmp_path, given)
    names = {}
    for service, env in environments.items():
        assert "OTEL_SERVICE_NAME" not in env
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == TRACED["OTEL_EXPORTER_OTLP_ENDPOINT"]  # still traced
        for variable in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
            monkeypatch.delenv(variable, raising=False)
            if variable in env:
                monkeypatch.setenv(variable, env[variable])
        provider = ServiceTracing.with_exporter(service, InMemorySpanExporter()).provider
        assert provider is not None
        attributes = provider.resource.attributes
        assert attributes["deployment.environment"] == "staging"
        names[service] = attributes["service.name"]
    assert names == {service: f"streamwright-{service}" for service in SERVICES}


def test_without_a_shared_name_the_given_environment_passes_as_it_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without a shared name, the children's environment is the given one (plus the supervisor's)."""
    environments = _spawned_environments(
        monkeypatch, tmp_path, {**TRACED, "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=eu"}
    )
    for env in environments.values():
        assert env["OTEL_RESOURCE_ATTRIBUTES"] == "service.namespace=eu"
        assert env["PATH"] == "/usr/bin" and "OTEL_SERVICE_NAME" not in env


@pytest.mark.parametrize(
    ("env", "warned"),
    [
        ({**TRACED, "OTEL_SERVICE_NAME": "shared"}, True),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_RESOURCE_ATTRIBUTES": "service.name=shared"}, True),
        ({"OTEL_SERVICE_NAME": "shared"}, False),  # tracing off: the name would change nothing
        ({**TRACED, "OTEL_SERVICE_NAME": "shared", "OTEL_SDK_DISABLED": "true"}, False),
        (TRACED, False),
    ],
)
def test_up_warns_once_when_tracing_would_have_used_the_shared_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], warned: bool
) -> None:
    out = io.StringIO()

    class NoBroker:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def start(self) -> None:
            raise BrokerStartError("no broker in a unit test")

    monkeypatch.setattr(supervisor, "EmbeddedBroker", NoBroker)
    mesh = supervisor.Supervisor(
        MeshSettings(home=tmp_path, grpc_auth="off"),
        services=SERVICES,
        env=env,
        console=Console(file=out, width=400, color_system=None),
    )
    with pytest.raises(supervisor.SupervisorError, match="no broker"):
        asyncio.run(mesh.start())
    lines = [line for line in out.getvalue().splitlines() if line.startswith("warning:")]
    if not warned:
        assert lines == []
        return
    [line] = lines
    assert "shared" in line and "streamwright-<service>" in line
    assert "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=<name>" in line
