"""Generator settings (env prefix STREAMWRIGHT_, like every service)."""

from __future__ import annotations

from pathlib import Path

from services.mesh.settings import MeshSettings


class GeneratorSettings(MeshSettings):
    # Which Flink the SQL targets ("2.3" default; "1.18"…"2.2", "vvr-8", "vvr-11").
    target_flink: str = "2.3"
    # Environment profile (config/profiles/<name>.yaml): topics, brokers, JDBC URLs, storage.
    profile: str = "dev"
    profile_dir: Path | None = None
    # Optional LLM assist (litellm model name, e.g. "openai/gpt-4o-mini"); None: deterministic only.
    # When set, a GateDecided(regenerate) asks it to repair the job from the validator's findings.
    generator_llm_model: str | None = None
    generator_llm_timeout_s: float = 60.0
    generator_llm_max_tokens: int = 8192
    # Largest repaired script accepted from the model.
    generator_llm_max_sql_kb: int = 64
