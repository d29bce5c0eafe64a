"""Environment profiles: everything about where a job runs that a request document never says.

A profile (config/profiles/<name>.yaml, loaded by `adapters.profiles_fs`) names the Kafka
cluster and topic of BusinessEvent, Kafka security, JDBC URL overrides, secret names,
checkpoint storage, the image and how it starts the SQL runner, and the namespace. It is
trusted configuration: its values are still escaped when they enter SQL or YAML, but they are
not checked against the document.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

# A Kubernetes object name (DNS-1123 subdomain), used for secrets, namespaces, config maps.
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
PROFILE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_RUNNER_JAR = re.compile(r"^local:///(?:[A-Za-z0-9_.-]+/)+flink-python[A-Za-z0-9_.-]*\.jar$")
_RUNNER_PYTHON = re.compile(r"^/(?:[A-Za-z0-9_.-]+/)+python3?(?:\.[0-9]+)?$")


def _check_k8s_name(value: str) -> str:
    if len(value) > 253 or not _K8S_NAME.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes object name (lowercase, digits, '-')")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaProfile(_Model):
    bootstrap_servers: str
    topic: str = "business-events"
    group_id_prefix: str = "streamwright"
    startup_mode: str = "group-offsets"
    # Extra Kafka client properties (without the `properties.` prefix), e.g. security.protocol.
    properties: dict[str, str] = {}
    # Secret holding the full `sasl.jaas.config` value; emitted as a secret reference.
    sasl_jaas_config_secret: str | None = None

    @field_validator("sasl_jaas_config_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        return None if value is None else _check_k8s_name(value)


class TableProfile(_Model):
    """Overrides for one dimension or result table, keyed by its table name."""

    options: dict[str, str] = {}
    # Connector option -> secret name, e.g. {"password": "trade-dim-reader"}.
    secret_options: dict[str, str] = {}

    @field_validator("secret_options")
    @classmethod
    def _secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value.values():
            _check_k8s_name(name)
        return value


class JdbcProfile(_Model):
    # Replaces the document's `url` of every JDBC table not listed in `Profile.tables`.
    default_url: str | None = None
    # Secret name of a JDBC table's password: `<password_secret_prefix>-<table>`.
    password_secret_prefix: str = "streamwright-jdbc"  # noqa: S105 - a name prefix

    @field_validator("password_secret_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _check_k8s_name(value)


class StorageProfile(_Model):
    checkpoint_dir: str
    savepoint_dir: str
    state_backend: str = "rocksdb"
    # Kubernetes HA metadata (`high-availability.storageDir`), which the operator's rollback and
    # health check need; default: `ha` next to the savepoint directory (`ha_storage_dir`).
    ha_dir: str | None = None

    @property
    def ha_storage_dir(self) -> str:
        if self.ha_dir:
            return self.ha_dir
        base = self.savepoint_dir.rstrip("/")
        _, sep, path = base.partition("://")
        if sep and "/" not in path:  # a bucket or host alone: `s3://bucket` -> `s3://bucket/ha`
            return f"{base}/ha"
        return base.rsplit("/", 1)[0] + "/ha"


class ResourceProfile(_Model):
    max_parallelism: int = Field(default=32, ge=1, le=4096)
    slots_per_task_manager: int = Field(default=2, ge=1, le=64)
    # Events per second one parallel subtask handles when the job has no lookups/aggregation.
    events_per_subtask: int = Field(default=5000, ge=1)


class RunnerProfile(_Model):
    """How the FlinkDeployment starts the project's SQL runner inside the image
    (compose/runner.Dockerfile): Flink's PythonDriver, from the image's flink-python jar, runs
    `python -m services.runner` with the image's Python (docs/generated-job.md, "The SQL runner")."""

    # The jar holding org.apache.flink.client.python.PythonDriver, inside the image (`local://`).
    jar_uri: str = "local:///opt/flink/opt/flink-python-2.3.0.jar"
    # The image's Python with PyFlink and the runner (PythonDriver's -pyclientexec).
    python: str = "/opt/venv/bin/python"

    @field_validator("jar_uri")
    @classmethod
    def _jar(cls, value: str) -> str:
        if not _RUNNER_JAR.match(value) or "/../" in value or "/./" in value:
            raise ValueError(
                f"runner.jar_uri {value!r} must be local:///<path>/flink-python-<version>.jar (PythonDriver's jar)"
            )
        return value

    @field_validator("python")
    @classmethod
    def _python(cls, value: str) -> str:
        if not _RUNNER_PYTHON.match(value) or "/../" in value or "/./" in value:
            raise ValueError(f"runner.python {value!r} must be the absolute path of a python executable")
        return value


class Profile(_Model):
    name: str
    namespace: str
    image: str
    service_account: str = "flink"
    runner: RunnerProfile = RunnerProfile()
    kafka: KafkaProfile
    jdbc: JdbcProfile = JdbcProfile()
    storage: StorageProfile
    resources: ResourceProfile = ResourceProfile()
    tables: dict[str, TableProfile] = {}
    prometheus_port: int = Field(default=9249, ge=1, le=65535)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PROFILE_NAME.match(value):
            raise ValueError(f"profile name {value!r} must match {PROFILE_NAME.pattern}")
        return value

    @field_validator("namespace", "service_account")
    @classmethod
    def _k8s(cls, value: str) -> str:
        return _check_k8s_name(value)
