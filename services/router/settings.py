"""Router settings: environment variables STREAMWRIGHT_ROUTER_* on top of the mesh's STREAMWRIGHT_*."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.mesh.settings import MeshSettings

DeployTarget = Literal["manifest", "sql-gateway", "flink-session"]


def _split_paths(value: str) -> list[str]:
    return [part.strip() for part in value.split(os.pathsep) if part.strip()]


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"STREAMWRIGHT_ROUTER_{name.upper()}", name)


class RouterSettings(MeshSettings):
    """What the router needs besides the mesh: gate config, deployer, timeouts, notifications."""

    model_config = SettingsConfigDict(
        env_prefix="STREAMWRIGHT_", extra="ignore", frozen=True, populate_by_name=True
    )

    # The gate/routing YAML (config/gate.yaml format); None = built-in defaults.
    gate_config: Path | None = Field(default=None, validation_alias=_env("gate_config"))
    # Where jobs start: manifests into output_dir (GitOps), a SQL Gateway, or a session cluster.
    deployer: DeployTarget = Field(default="manifest", validation_alias=_env("deployer"))
    # The GitOps output directory (seed 000 layout job/<domain>/...); default <home>/router/out.
    output_dir: Path | None = Field(default=None, validation_alias=_env("output_dir"))
    sql_gateway_url: str | None = Field(default=None, validation_alias=_env("sql_gateway_url"))
    flink_rest_url: str | None = Field(default=None, validation_alias=_env("flink_rest_url"))
    # How long a started job must stay RUNNING before the run counts as RUNNING.
    start_check_seconds: float = Field(
        default=10.0, ge=0, le=3600, validation_alias=_env("start_check_seconds")
    )
    # Wait for a completed checkpoint too (where the job checkpoints).
    require_checkpoint: bool = Field(default=False, validation_alias=_env("require_checkpoint"))
    http_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, validation_alias=_env("http_timeout_seconds")
    )
    savepoint_dir: str | None = Field(default=None, validation_alias=_env("savepoint_dir"))
    # flink-session: connector jars shipped with each job (pipeline.jars), separated by the OS
    # path separator like $PATH; empty = the cluster's lib/ holds them.
    flink_jars: str = Field(default="", validation_alias=_env("flink_jars"))
    # How often the timeout sweeper looks for overdue runs.
    sweep_interval_seconds: float = Field(
        default=15.0, gt=0, le=3600, validation_alias=_env("sweep_interval_seconds")
    )
    # How often the run gauges (streamwright_runs, streamwright_runs_oldest_active_seconds) are
    # read from the runs store: one query over the open runs; ages are computed at scrape time.
    run_metrics_interval_seconds: float = Field(
        default=10.0, gt=0, le=3600, validation_alias=_env("run_metrics_interval_seconds")
    )
    # A webhook (e.g. a chat channel's incoming webhook) told when a run needs review or fails.
    # Not in repr: most chat webhooks keep their token in the URL.
    webhook_url: str | None = Field(default=None, repr=False, validation_alias=_env("webhook_url"))
    # With a secret, each POST carries X-Streamwright-Signature: sha256=<HMAC-SHA256 of the body>.
    webhook_secret: SecretStr | None = Field(default=None, validation_alias=_env("webhook_secret"))
    # One total deadline per notification: connect, send and read, over every attempt.
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, le=120, validation_alias=_env("webhook_timeout_seconds")
    )
    # An OpenLineage endpoint (Marquez-compatible: POST {url}/api/v1/lineage) sent each started
    # job's RunEvent START with its column lineage. Not in repr (a URL may carry a token).
    openlineage_url: str | None = Field(default=None, repr=False, validation_alias=_env("openlineage_url"))
    # Sent as `Authorization: Bearer <key>` (Marquez behind a proxy, DataHub, OpenMetadata).
    openlineage_api_key: SecretStr | None = Field(default=None, validation_alias=_env("openlineage_api_key"))
    # One total deadline per event: connect, send and read, over every attempt.
    openlineage_timeout_seconds: float = Field(
        default=5.0, gt=0, le=120, validation_alias=_env("openlineage_timeout_seconds")
    )
    # Review audit trail (JSON lines); default <home>/router/review-audit.jsonl.
    audit_log: Path | None = Field(default=None, validation_alias=_env("audit_log"))
    # With auth on, approving, rejecting, stopping and rolling back need the "approver" role (the
    # installation token has it) or a subject or role listed here.
    approvers: frozenset[str] = Field(default=frozenset(), validation_alias=_env("approvers"))
    # The LLM classifier (litellm model name); None = no classifier.
    llm_model: str | None = Field(default=None, validation_alias=_env("llm_model"))
    llm_timeout_seconds: float = Field(
        default=20.0, gt=0, le=600, validation_alias=_env("llm_timeout_seconds")
    )
    # The generator repairs jobs with an LLM, so a regenerate can change something.
    llm_repair: bool = Field(default=False, validation_alias=_env("llm_repair"))

    @field_validator("flink_jars")
    @classmethod
    def _jars_exist(cls, value: str) -> str:
        missing = [p for p in _split_paths(value) if not Path(p).is_file()]
        if missing:
            raise ValueError(f"not a file: {', '.join(missing)}")
        return value

    def flink_jar_paths(self) -> list[str]:
        return _split_paths(self.flink_jars)

    def resolved_output_dir(self) -> Path:
        return self.output_dir or self.service_dir("router") / "out"

    def resolved_audit_log(self) -> Path:
        return self.audit_log or self.service_dir("router") / "review-audit.jsonl"
