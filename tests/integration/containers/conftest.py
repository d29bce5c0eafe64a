"""The testcontainers tier: integration scenarios re-run on real Apache Kafka and a Qdrant server.

Where a Docker engine answers, one Kafka broker (Confluent Platform image, KRaft) and one Qdrant
server are started per session; the tests of this directory get `mesh_settings` pointing at that
Kafka instead of the embedded Tansu broker. Where none answers (as on the development machine),
every module here is skipped with `NO_DOCKER`'s reason, after one short ping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from services.mesh.settings import MeshSettings

# testcontainers-python's KafkaContainer drives Confluent images (their /etc/confluent/docker
# scripts, which cp-kafka 8 changed); 7.6.0 (Apache Kafka 3.6) is its default, the version its
# own with_kraft() test runs on. The compose stack runs apache/kafka and qdrant at
# the pins in compose/docker-compose.yml; Qdrant here is the same pin.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
QDRANT_IMAGE = "qdrant/qdrant:v1.18.2"
QDRANT_HTTP_PORT = 6333
START_TIMEOUT = 180  # seconds; the first run also pulls the images
PING_TIMEOUT = 3  # seconds: skipping must be quick, not hang on an unreachable engine

NO_DOCKER = "no Docker engine answers (testcontainers tier: real Apache Kafka and Qdrant server)"


def docker_unreachable() -> str | None:
    """Why no Docker engine answers, or None when one does.

    It pings the engine testcontainers would use (TC_HOST / DOCKER_HOST / docker context, else
    docker-py's default socket) with a short timeout.
    """
    try:
        import docker  # type: ignore[import-untyped]
        from testcontainers.core.docker_client import get_docker_host
    except ImportError as error:
        return f"{NO_DOCKER}: {error}"
    host = get_docker_host()
    environment = {**os.environ, "DOCKER_HOST": host} if host else None
    where = (
        host or os.environ.get("DOCKER_HOST") or docker.constants.DEFAULT_UNIX_SOCKET.removeprefix("http+")
    )
    try:
        client = docker.from_env(
            timeout=PING_TIMEOUT,
            environment=environment,
            use_ssh_client=bool(host and host.startswith("ssh://")),
        )
    except Exception as error:
        return _unreachable(where, error)
    try:
        client.ping()
    except Exception as error:
        return _unreachable(where, error)
    finally:
        client.close()
    return None


def _unreachable(where: str, error: Exception) -> str:
    detail = " ".join(str(error).split())
    return f"{NO_DOCKER} at {where}: {type(error).__name__}: {detail[:160]}"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skips (once per session, the outcome is cached) when no Docker engine answers."""
    reason = docker_unreachable()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module", autouse=True)
def _skip_module_without_docker(docker_engine: None) -> None:
    """Every module of this directory needs Docker: skipped as a whole, before any container starts."""


@pytest.fixture(scope="session")
def kafka_bootstrap(docker_engine: None) -> Iterator[str]:
    """bootstrap.servers of a single-node KRaft Kafka in a container."""
    from testcontainers.kafka import KafkaContainer

    container = KafkaContainer(KAFKA_IMAGE).with_kraft()
    container.start(timeout=START_TIMEOUT)
    try:
        yield container.get_bootstrap_server()
    finally:
        container.stop()


@pytest.fixture(scope="session")
def qdrant_url(docker_engine: None) -> Iterator[str]:
    """The HTTP URL of a Qdrant server in a container, once it reports ready."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy

    ready = HttpWaitStrategy(QDRANT_HTTP_PORT, "/readyz").for_status_code(200)
    container = (
        DockerContainer(QDRANT_IMAGE)
        .with_exposed_ports(QDRANT_HTTP_PORT)
        .waiting_for(ready.with_startup_timeout(START_TIMEOUT))
    )
    with container:
        host = container.get_container_host_ip()
        yield f"http://{host}:{container.get_exposed_port(QDRANT_HTTP_PORT)}"


@pytest.fixture
def mesh_settings(kafka_bootstrap: str, mesh_settings_for) -> MeshSettings:  # type: ignore[no-untyped-def]
    """The integration tests' settings, on the Kafka container instead of the embedded Tansu broker."""
    settings: MeshSettings = mesh_settings_for(kafka_bootstrap)
    return settings
