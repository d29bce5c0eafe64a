"""Validator settings (env prefix STREAMWRIGHT_, like every service)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from services.mesh.settings import MeshSettings


class ValidatorSettings(MeshSettings):
    # YAML file of rule overrides (services/validator/domain/rules.py documents the shape).
    validator_rules_path: Path | None = None
    # Report language: auto = from the request (CJK in the job name/description -> zh).
    validator_language: Literal["auto", "en", "zh"] = "auto"
    # host:port of the knowledge service's gRPC; None = the mesh default port on grpc_host.
    validator_knowledge_target: str | None = None
    validator_knowledge_timeout_s: float = Field(default=5.0, gt=0, le=120)
    # While knowledge is unreachable (e.g. restarting), keep asking this long before the score is
    # marked provisional (knowledge not checked), which sends the run to review.
    validator_knowledge_wait_s: float = Field(default=30.0, ge=0, le=600)
    # Connector jars (scripts/fetch_flink_jars.py); None = the shared cache (connector_jars.default_jar_dir).
    validator_jar_dir: Path | None = None
    # Data-accuracy runs (request cases and generated edge cases) on/off; off = provisional.
    validator_run_cases: bool = True
    validator_run_edge_cases: bool = True
    validator_run_oracle: bool = True  # the job on spec-derived data against the oracles
    validator_use_postgres: bool = True
    # Start the JVM and PostgreSQL when the service starts, not on the first job.
    validator_warm_on_start: bool = True
    # streamwright_validation_last_score keeps the last score of at most this many domains (domains
    # are user input: a label per domain must stay bounded); 0 = no per-domain gauge.
    validator_metrics_max_domains: int = Field(default=100, ge=0, le=10_000)
    # How long a SqlGenerated waits for its run's RequestAccepted before it is retried.
    validator_spec_wait_s: float = Field(default=15.0, ge=0, le=600)
