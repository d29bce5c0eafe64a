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
