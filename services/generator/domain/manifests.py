"""Deployment manifests and the job config, as plain Python data (YAML is rendered elsewhere).

The deployment is two Kubernetes documents: a ConfigMap holding the SQL script and a Flink
Kubernetes Operator `FlinkDeployment` (flink.apache.org/v1beta1, application mode) that runs
the script with the project's SQL runner as the operator's Python example runs a program
(`org.apache.flink.client.python.PythonDriver` from the image's flink-python jar,
`-pym services.runner --sql <mounted file> --digest <digest> --secret <name> ...`), mounts the
ConfigMap, and exposes each secret the script references as an environment variable
`SW_SECRET_<NAME>` from Kubernetes Secret `<name>`, key `value` (docs/generated-job.md,
"Secrets" and "The SQL runner").

The SQL the generator writes is the SQL the validator verifies, so the generator computes its
statement digest itself (`script_digest`) and puts it in the runner's `--digest` and in the
annotation `streamwright.io/sql-digest` of both documents: the runner refuses any other
statement list, and the router can compare the annotation with the validated digest.

Metrics: the FlinkDeployment configures Flink's Prometheus reporter (`metrics.reporter.prom.*`;
its jar is a plugin of the Flink distribution, /opt/flink/plugins/metrics-prometheus in the
runner image) on the profile's `prometheus_port`, declares that port as `metrics` on the main
container, and annotates the pods `prometheus.io/scrape`, `/port` and `/path` through the pod
template, which the operator applies to the JobManager and TaskManager pods alike. The
annotations are what Prometheus' usual Kubernetes pod discovery job keeps; no PodMonitor is
emitted, because applying one fails where the Prometheus Operator's CRDs are not installed
(docs/operations.md shows one to add where they are).

Upgrades: `upgradeMode: savepoint` with `allowNonRestoredState: false`, Kubernetes HA, and the
operator's upgrade rollback and cluster health check (`operator_safety`; docs/safe-upgrades.md).
"""

from __future__ import annotations

import re
from typing import Any

from services.flinksql.artifacts import ArtifactLayout
from services.flinksql.statements import script_digest
from services.generator.domain.ir import JobIR
from services.generator.domain.profiles import Profile
from services.generator.domain.target import Target

SQL_MOUNT = "/opt/flink/sql"
SECRET_KEY = "value"  # noqa: S105 - the key name inside a Secret
RUNNER_ENTRY_CLASS = "org.apache.flink.client.python.PythonDriver"
RUNNER_MODULE = "services.runner"
SQL_DIGEST_ANNOTATION = "streamwright.io/sql-digest"
METRICS_PATH = "/metrics"  # Flink's PrometheusReporter answers on any path


def scrape_annotations(profile: Profile) -> dict[str, str]:
    """The pods' Prometheus scrape annotations (the reporter's port from the profile)."""
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(profile.prometheus_port),
        "prometheus.io/path": METRICS_PATH,
    }


def k8s_name(domain: str) -> str:
    """`sw-<domain>-v3` with `_` as `-`: a valid DNS-1123 name for every valid domain."""
    return "sw-" + re.sub(r"[^a-z0-9-]", "-", domain) + "-v3"


def secret_env_var(secret: str) -> str:
    return "SW_SECRET_" + re.sub(r"[^A-Z0-9]", "_", secret.upper())


def runner_args(profile: Profile, sql_path: str, digest: str, secrets: tuple[str, ...]) -> list[str]:
    """PythonDriver's arguments: the image's Python runs `services.runner` on the mounted script."""
    args = [
        "-pyclientexec",
        profile.runner.python,
        "-pym",
        RUNNER_MODULE,
        "--sql",
        sql_path,
        "--digest",
        digest,
    ]
    for secret in secrets:
        args += ["--secret", secret]
    return args


def flink_configuration(ir: JobIR, target: Target, profile: Profile) -> dict[str, str]:
    """Flink options (strings, as the CRD requires) with the target version's key names."""
    v2 = target.config_keys_v2
    conf: dict[str, str] = {
        "taskmanager.numberOfTaskSlots": str(ir.sizing.slots_per_task_manager),
        "state.backend.type": profile.storage.state_backend,
        "execution.checkpointing.interval": ir.sizing.checkpoint_interval,
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.min-pause": "10 s",
        "execution.checkpointing.timeout": "10 min",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        ("execution.checkpointing.dir" if v2 else "state.checkpoints.dir"): profile.storage.checkpoint_dir,
        (
            "execution.checkpointing.savepoint-dir" if v2 else "state.savepoints.dir"
        ): profile.storage.savepoint_dir,
        ("execution.checkpointing.incremental" if v2 else "state.backend.incremental"): "true",
        "restart-strategy.type": "exponential-delay",
        "restart-strategy.exponential-delay.initial-backoff": "1 s",
        "restart-strategy.exponential-delay.max-backoff": "2 min",
        "restart-strategy.exponential-delay.backoff-multiplier": "2.0",
        "restart-strategy.exponential-delay.reset-backoff-threshold": "10 min",
        "metrics.reporter.prom.factory.class": "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
        "metrics.reporter.prom.port": str(profile.prometheus_port),
        **operator_safety(profile),
    }
    if ir.state_ttl is not None:
        conf["table.exec.state.ttl"] = ir.state_ttl
    return conf


# How the operator guards an upgrade (docs/safe-upgrades.md): Kubernetes HA (its
# rollback and health check need the HA metadata), rollback to the last stable spec when an
# upgraded job is not running within the readiness timeout, and the health check, which restarts
# a job that restarts RESTART_THRESHOLD times within RESTART_WINDOW or stops completing
# checkpoints (the operator derives that window from the checkpoint interval and timeout). The
# exponential-delay restart strategy above restarts a job that always fails about 10 times in
# 10 minutes, which the operator's default threshold (64 in 2 minutes) would never notice.
READINESS_TIMEOUT = "5 min"
RESTART_WINDOW = "10 min"
RESTART_THRESHOLD = 5


def operator_safety(profile: Profile) -> dict[str, str]:
    """The Flink Kubernetes Operator's HA, upgrade rollback and health-check options."""
    return {
        "high-availability.type": "kubernetes",
        "high-availability.storageDir": profile.storage.ha_storage_dir,
        "kubernetes.operator.jm-deployment-recovery.enabled": "true",
        "kubernetes.operator.deployment.rollback.enabled": "true",
        "kubernetes.operator.deployment.readiness.timeout": READINESS_TIMEOUT,
        "kubernetes.operator.cluster.health-check.enabled": "true",
        "kubernetes.operator.cluster.health-check.restarts.window": RESTART_WINDOW,
        "kubernetes.operator.cluster.health-check.restarts.threshold": str(RESTART_THRESHOLD),
        "kubernetes.operator.cluster.health-check.checkpoint-progress.enabled": "true",
    }


def deployment_documents(ir: JobIR, target: Target, profile: Profile, sql: str) -> list[dict[str, Any]]:
    domain = ir.header.domain
    name = k8s_name(domain)
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "streamwright",
        "app.kubernetes.io/managed-by": "streamwright-generator",
        "streamwright.io/domain": domain,
        "streamwright.io/revision": str(ir.header.revision),
        "streamwright.io/profile": profile.name,
    }
    digest = script_digest(sql)
    annotations = {SQL_DIGEST_ANNOTATION: digest}
    sql_file = ArtifactLayout(domain).sql_file_name
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{name}-sql",
            "namespace": profile.namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "data": {sql_file: sql},
    }
    env = [
        {"name": secret_env_var(s), "valueFrom": {"secretKeyRef": {"name": s, "key": SECRET_KEY}}}
        for s in ir.secrets
    ]
    container: dict[str, Any] = {
        "name": "flink-main-container",
        "volumeMounts": [{"name": "job-sql", "mountPath": SQL_MOUNT, "readOnly": True}],
        "ports": [{"name": "metrics", "containerPort": profile.prometheus_port, "protocol": "TCP"}],
    }
    if env:
        container["env"] = env
    deployment = {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {
            "name": name,
            "namespace": profile.namespace,
            "labels": labels,
            "annotations": dict(annotations),
        },
        "spec": {
            "image": profile.image,
            "flinkVersion": target.operator_flink_version,
            "serviceAccount": profile.service_account,
            "flinkConfiguration": flink_configuration(ir, target, profile),
            "podTemplate": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"labels": labels, "annotations": scrape_annotations(profile)},
                "spec": {
                    "containers": [container],
                    "volumes": [{"name": "job-sql", "configMap": {"name": f"{name}-sql"}}],
                },
            },
            "jobManager": {"replicas": 1, "resource": {"memory": ir.sizing.job_manager_memory, "cpu": 1.0}},
            "taskManager": {
                "replicas": ir.sizing.task_managers,
                "resource": {
                    "memory": ir.sizing.task_manager_memory,
                    "cpu": float(ir.sizing.slots_per_task_manager),
                },
            },
            "job": {
                "jarURI": profile.runner.jar_uri,
                "entryClass": RUNNER_ENTRY_CLASS,
                "args": runner_args(profile, f"{SQL_MOUNT}/{sql_file}", digest, ir.secrets),
                "parallelism": ir.sizing.parallelism,
                "upgradeMode": "savepoint",
                # Savepoint state that maps to no operator fails the start; the router's manifest
                # deployer sets it only for an upgrade whose dropped state was approved.
                "allowNonRestoredState": False,
                "state": "running",
            },
        },
    }
    return [config_map, deployment]


def job_config(ir: JobIR, target: Target, profile: Profile, files: list[str]) -> dict[str, Any]:
    h = ir.header
    return {
        "job": {
            "name": h.job_name,
            "domain": h.domain,
            "event_type": h.event_type,
            "revision": h.revision,
            "content_hash": h.content_hash,
            "generator_version": h.generator_version,
            "target": target.name,
            "profile": profile.name,
        },
        "deployment": {
            "kubernetes_name": k8s_name(h.domain),
            "namespace": profile.namespace,
            "parallelism": ir.sizing.parallelism,
            "task_managers": ir.sizing.task_managers,
            "task_manager_memory": ir.sizing.task_manager_memory,
            "job_manager_memory": ir.sizing.job_manager_memory,
            "checkpoint_interval": ir.sizing.checkpoint_interval,
            "sizing_rules": list(ir.sizing.reasons),
        },
        "sql": {
            "settings": {s.key: s.value for s in ir.settings},
            "on_conflict": ir.on_conflict,
            "state_ttl": ir.state_ttl,
            "source": {"table": ir.source.sql_name, "topic": profile.kafka.topic},
            "dimensions": [d.sql_name for d in ir.dimensions],
            "result": {"table": ir.result.sql_name, "primary_key": list(ir.result.primary_key)},
        },
        "secrets": [{"name": s, "env": secret_env_var(s), "key": SECRET_KEY} for s in ir.secrets],
        "artifacts": files,
    }
