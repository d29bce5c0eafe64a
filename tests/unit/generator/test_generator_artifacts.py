"""Artifacts: layout, FlinkDeployment against the operator schema, test data, safe writing, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from gen_support import EXAMPLES, HERE, REQUESTS
from typer.testing import CliRunner

from services.flinksql.spec import RequestSpec
from services.flinksql.statements import script_digest
from services.generator.adapters.artifacts_fs import write_job
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import Profile, compile_job, yamltext
from services.mesh.files import UnsafePathError, safe_target

SCHEMA = json.loads((HERE / "flinkdeployment.schema.json").read_text(encoding="utf-8"))


def _violations(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """A small JSON-schema subset: type, enum, pattern, required, properties, items, additionalProperties."""
    import re

    out: list[str] = []
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
    }
    if "type" in schema:
        want = kinds[schema["type"]]
        if not isinstance(value, want) or (
            schema["type"] in ("integer", "number") and isinstance(value, bool)
        ):
            return [f"{path}: expected {schema['type']}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} not in {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.match(schema["pattern"], value):
        out.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        out += [f"{path}: missing {key}" for key in schema.get("required", []) if key not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                out += _violations(value[key], sub, f"{path}.{key}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                if key not in schema.get("properties", {}):
                    out += _violations(item, extra, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += _violations(item, schema["items"], f"{path}[{i}]")
    return out


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("target", ["2.3", "1.20"])
def test_flinkdeployment_satisfies_operator_schema(
    name: str, target: str, specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """It writes a ConfigMap with the SQL and a FlinkDeployment the operator's CRD accepts."""
    job = compile_job(specs[name], target=target, profile=profile, revision=2, generator_version="0.1.0")
    docs = list(yaml.safe_load_all(job.files[job.paths.deployment]))
    assert [d["kind"] for d in docs] == ["ConfigMap", "FlinkDeployment"]
    config_map, deployment = docs
    assert _violations(deployment, SCHEMA) == []
    spec = deployment["spec"]
    assert spec["job"]["upgradeMode"] == "savepoint"
    assert spec["flinkVersion"] == ("v2_3" if target == "2.3" else "v1_20")
    conf = spec["flinkConfiguration"]
    savepoint_key = "execution.checkpointing.savepoint-dir" if target == "2.3" else "state.savepoints.dir"
    assert conf[savepoint_key] == profile.storage.savepoint_dir
    assert conf["metrics.reporter.prom.factory.class"].endswith("PrometheusReporterFactory")
    assert conf["restart-strategy.type"] == "exponential-delay"
    assert "execution.checkpointing.interval" in conf and "state.backend.type" in conf
    assert conf.get("table.exec.state.ttl") == job.ir.state_ttl
    sql_name = f"{specs[name].job.domain}_wide_table_v3.sql"
    assert config_map["data"][sql_name] == job.sql
    digest = script_digest(job.sql)
    assert spec["job"]["jarURI"] == "local:///opt/flink/opt/flink-python-2.3.0.jar"
    assert spec["job"]["entryClass"] == "org.apache.flink.client.python.PythonDriver"
    secret_args = [arg for name in job.ir.secrets for arg in ("--secret", name)]
    assert spec["job"]["args"] == [
        *("-pyclientexec", "/opt/venv/bin/python", "-pym", "services.runner"),
        *("--sql", f"/opt/flink/sql/{sql_name}", "--digest", digest),
        *secret_args,
    ]
    for doc in docs:
        assert doc["metadata"]["annotations"] == {"streamwright.io/sql-digest": digest}
    env = spec["podTemplate"]["spec"]["containers"][0]["env"]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in env} == set(job.ir.secrets)


@pytest.mark.parametrize("target", ["2.3", "1.20"])
def test_flinkdeployment_guards_upgrades_with_the_operators_rollback_and_health_check(
    target: str, specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """It upgrades with a savepoint that must map completely, and turns on Kubernetes HA, the
    operator's rollback of an upgrade that does not become ready, and its health check with a
    restart threshold the exponential-delay restart strategy can reach."""
    job = compile_job(specs["orders"], target=target, profile=profile, revision=1, generator_version="0.1.0")
    _, deployment = yaml.safe_load_all(job.files[job.paths.deployment])
    spec = deployment["spec"]
    assert spec["job"]["upgradeMode"] == "savepoint"
    assert spec["job"]["allowNonRestoredState"] is False
    conf = spec["flinkConfiguration"]
    assert conf["high-availability.type"] == "kubernetes"
    assert conf["high-availability.storageDir"] == profile.storage.ha_storage_dir
    assert conf["kubernetes.operator.deployment.rollback.enabled"] == "true"
    assert conf["kubernetes.operator.deployment.readiness.timeout"] == "5 min"
    assert conf["kubernetes.operator.jm-deployment-recovery.enabled"] == "true"
    assert conf["kubernetes.operator.cluster.health-check.enabled"] == "true"
    assert conf["kubernetes.operator.cluster.health-check.checkpoint-progress.enabled"] == "true"
    window = conf["kubernetes.operator.cluster.health-check.restarts.window"]
    threshold = int(conf["kubernetes.operator.cluster.health-check.restarts.threshold"])
    assert window == "10 min"
    # A job that fails on every start, restarted 1 s, 2 s, 4 s ... apart (capped), reaches the
    # threshold inside the window.
    initial = float(conf["restart-strategy.exponential-delay.initial-backoff"].split()[0])
    factor = float(conf["restart-strategy.exponential-delay.backoff-multiplier"])
    assert sum(initial * factor**i for i in range(threshold)) < 10 * 60
    assert _violations(deployment, SCHEMA) == []


@pytest.mark.parametrize(
    ("savepoints", "ha_dir", "expected"),
    [
        ("s3://streamwright-prod/savepoints", None, "s3://streamwright-prod/ha"),
        ("file:///tmp/streamwright/savepoints/", None, "file:///tmp/streamwright/ha"),
        ("s3://bucket", None, "s3://bucket/ha"),
        ("s3://bucket/savepoints", "s3://other/ha-meta", "s3://other/ha-meta"),
    ],
)
def test_the_ha_directory_defaults_next_to_the_savepoints(
    savepoints: str, ha_dir: str | None, expected: str, profile: Profile
) -> None:
    """It keeps the HA metadata beside the savepoints unless the profile names a directory."""
    storage = profile.storage.model_copy(update={"savepoint_dir": savepoints, "ha_dir": ha_dir})
    assert storage.ha_storage_dir == expected


@pytest.mark.parametrize("target", ["2.3", "1.20"])
@pytest.mark.parametrize("port", [9249, 9300])
def test_flinkdeployment_exposes_the_prometheus_reporter_for_scraping(
    target: str, port: int, specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """It runs Flink's Prometheus reporter (the plugin's factory) on the profile's port, declares
    that port as the main container's `metrics` port, and annotates the pod template (which the
    operator applies to JobManager and TaskManager pods) for Prometheus' pod discovery."""
    chosen = profile.model_copy(update={"prometheus_port": port})
    job = compile_job(specs["orders"], target=target, profile=chosen, revision=1, generator_version="0.1.0")
    _, deployment = yaml.safe_load_all(job.files[job.paths.deployment])
    spec = deployment["spec"]
    conf = spec["flinkConfiguration"]
    assert conf["metrics.reporter.prom.factory.class"] == (
        "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
    )
    assert conf["metrics.reporter.prom.port"] == str(port)
    pod = spec["podTemplate"]
    assert pod["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    [container] = pod["spec"]["containers"]
    assert container["name"] == "flink-main-container"
    assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in container["ports"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "streamwright"


def test_sizing_follows_sla_and_hints(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It sizes parallelism from the peak rate in the notes and keeps every reason."""
    job = compile_job(specs["orders"], profile=profile, revision=1, generator_version="0.1.0")
    assert job.ir.sizing.parallelism == 2  # 3000/s x 1.5 / 2500 per subtask
    assert job.ir.sizing.checkpoint_interval == "30 s"
    assert any("peak 3000" in r for r in job.ir.sizing.reasons)


def test_layout_and_readme(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It uses seed 000's layout and documents lineage, hints, ON CONFLICT and secrets."""
    job = compile_job(specs["orders"], profile=profile, revision=1, generator_version="0.1.0")
    assert sorted(job.files) == sorted(
        [
            "job/orders/sql/orders_wide_table_v3.sql",
            "job/orders/deployment/deploy-orders-v3.yaml",
            "job/orders/validation/test-data-orders-v3.yaml",
            "job/orders/config/orders-job.yml",
            "job/orders/docs/README-AI-Generated-v3.md",
            "job/orders/lineage/openlineage.json",
        ]
    )
    readme = job.files["job/orders/docs/README-AI-Generated-v3.md"]
    assert "| `pay_amount` |" in readme and "payload.orderAmount, payload.discountAmount" in readme
    assert "dim_city.city_name (dim2)" in readme
    assert "ON CONFLICT DO DEDUPLICATE" in readme
    assert "${secret:<name>}" in readme and "SW_SECRET_STREAMWRIGHT_JDBC_DIM_SHOP" in readme
    assert "recorded, not machine-applicable" in readme
    config = yaml.safe_load(job.files["job/orders/config/orders-job.yml"])
    assert config["sql"]["on_conflict"] == "DEDUPLICATE" and config["job"]["revision"] == 1


@pytest.mark.parametrize("name", (*EXAMPLES, "hostile"))
def test_test_data_covers_edge_cases(name: str, specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It writes loadable edge-case events, dimension rows and invariants for every job."""
    job = compile_job(specs[name], profile=profile, revision=1, generator_version="0.1.0")
    data = yaml.safe_load(job.files[job.paths.test_data])["test_data"]
    purposes = [e["purpose"] for e in data["events"]]
    assert "other domain" in purposes and "other event type" in purposes and "NULL payload" in purposes
    assert any(p.endswith("missing") for p in purposes)
    assert any("boundary" in p for p in purposes)
    for j in specs[name].joins:
        if j.source_kind == "event":
            assert f"lookup {j.name} misses ({j.join_type})" in purposes
    for event in data["events"]:
        payload = event["event"]["payload"]
        assert payload is None or isinstance(payload, str)
    assert {i["name"] for i in data["invariants"]} >= {"no_failure", "event_filter", "not_null_columns"}
    assert set(data["dimensions"]) == {d.table.name for d in specs[name].dimensions}


def test_filter_drop_events_are_derived(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It derives an event each simple filter must drop (IS NOT NULL, IN, comparisons)."""
    job = compile_job(specs["orders"], profile=profile, revision=1, generator_version="0.1.0")
    events = yaml.safe_load(job.files[job.paths.test_data])["test_data"]["events"]
    drops = {
        e["purpose"]: json.loads(e["event"]["payload"]) for e in events if e["purpose"].startswith("fails")
    }
    assert "orderId" not in drops["fails predicate payload.orderId IS NOT NULL"]
    assert drops["fails predicate payload.orderStatus IN (1, 2, 3)"]["orderStatus"] == -987654
    assert drops["fails predicate payload.orderAmount >= 0"]["orderAmount"] == "-1"


def test_plain_yaml_round_trips() -> None:
    """It emits YAML that a YAML 1.1 safe loader reads back to the same data."""
    data = {
        "a": [1, {"b": 1e300, "c": -0.0, "d": 1e-7, "yes": "on", "e": [], "f": {}}],
        "s": "x\u2028y\x85'\"\\",
        "n": None,
    }
    assert yaml.safe_load(yamltext.dump_plain(data)) == data


def test_writer_refuses_to_escape(tmp_path: Path) -> None:
    """It refuses absolute paths, '..' and symlinks out of the output directory."""
    for bad in ("/etc/passwd", "../x", "job/../../x", "job//x", "a\\b"):
        with pytest.raises(UnsafePathError):
            safe_target(tmp_path, bad)
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "job").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        safe_target(out, "job/orders/sql/x.sql")


def test_writer_writes_layout(tmp_path: Path, specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It writes every file under the output directory with the compiled text."""
    job = compile_job(specs["payments"], profile=profile, revision=1, generator_version="0.1.0")
    written = write_job(job, tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == list(job.files)
    assert (tmp_path / job.paths.sql).read_text(encoding="utf-8") == job.sql


@pytest.mark.parametrize("name", ["dev", "test", "prod"])
def test_shipped_profiles_load(name: str) -> None:
    """It loads each shipped environment profile."""
    prof = load_profile(name)
    assert prof.name == name and prof.kafka.bootstrap_servers


def test_cli_generate(tmp_path: Path) -> None:
    """It writes the layout and prints it (0), rejects a bad document (1) and bad usage (2)."""
    from services.cli import app

    runner = CliRunner()
    doc = REQUESTS / "payments-request-v3.md"
    ok = runner.invoke(app, ["generate", str(doc), "--out", str(tmp_path), "--profile", "test"])
    assert ok.exit_code == 0, ok.output
    assert "job/payments/sql/payments_wide_table_v3.sql" in ok.output
    assert (tmp_path / "job/payments/deployment/deploy-payments-v3.yaml").is_file()
    bad = tmp_path / "bad.md"
    bad.write_text("# nothing here\n", encoding="utf-8")
    rejected = runner.invoke(app, ["generate", str(bad), "--out", str(tmp_path)])
    assert rejected.exit_code == 1
    usage = runner.invoke(app, ["generate", str(doc), "--out", str(tmp_path), "--profile", "staging"])
    assert usage.exit_code == 2
    usage = runner.invoke(app, ["generate", str(doc), "--out", str(tmp_path), "--target", "9.9"])
    assert usage.exit_code == 2


def test_the_runner_entry_of_a_profile_is_strict(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """It starts the runner as the profile's `runner` section says, and refuses anything else there
    (the old `sql_runner_jar`/`sql_runner_class` keys included)."""
    from pydantic import ValidationError

    base = profile.model_dump()
    for old in ({"sql_runner_jar": "local:///opt/flink/usrlib/sql-runner.jar"}, {"sql_runner_class": "x.Y"}):
        with pytest.raises(ValidationError):
            Profile.model_validate({**base, **old})
    for bad in (
        {"jar_uri": "file:///opt/flink/opt/flink-python-2.3.0.jar"},
        {"jar_uri": "local:///opt/flink/usrlib/sql-runner.jar"},
        {"jar_uri": "local:///opt/flink/../flink-python-2.3.0.jar"},
        {"python": "python3"},
        {"python": "/bin/sh"},
        {"module": "services.other"},
    ):
        with pytest.raises(ValidationError):
            Profile.model_validate({**base, "runner": bad})
    custom = Profile.model_validate({**base, "runner": {"python": "/usr/local/bin/python3.11"}})
    job = compile_job(specs["orders"], profile=custom, revision=1, generator_version="0.1.0")
    deployment = list(yaml.safe_load_all(job.files[job.paths.deployment]))[1]
    assert deployment["spec"]["job"]["args"][:2] == ["-pyclientexec", "/usr/local/bin/python3.11"]
