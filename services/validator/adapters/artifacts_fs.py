"""Reads the generator's artifacts the validator uses from disk (at SqlGenerated.artifact_ref).

Two files, at the kernel's layout paths (`services.flinksql.artifacts`) for the checked domain:
the edge-case test data and the job config. A file that is missing, unreadable or not the
expected YAML is reported in `RunArtifacts.missing` (the report then carries a Critical
finding naming it): never silently skipped.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from services.flinksql.artifacts import ArtifactLayout, BadDomain
from services.validator.domain.model import JobConfig, RunArtifacts


def _load(path: Path) -> Any:
    """The YAML at `path`; None when it is missing or does not read (the caller lists it)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def job_config_from(data: Any, source: str) -> JobConfig | None:
    if not isinstance(data, dict):
        return None
    deployment = data.get("deployment")
    if not isinstance(deployment, dict):
        return None
    parallelism = deployment.get("parallelism")
    interval = deployment.get("checkpoint_interval")
    return JobConfig(
        parallelism=parallelism if isinstance(parallelism, int) else None,
        checkpoint_interval=None if interval is None else str(interval),
        source=source,
    )


def test_data_from(data: Any) -> dict[str, Any] | None:
    test_data = data.get("test_data") if isinstance(data, dict) else None
    return test_data if isinstance(test_data, dict) else None


def read_artifacts(root: Path, domain: str) -> RunArtifacts:
    try:
        layout = ArtifactLayout(domain)
    except BadDomain:
        return RunArtifacts(missing=(f"job/{domain!r} (not a valid domain)",))
    missing: list[str] = []
    test_data = test_data_from(_load(root / layout.test_data))
    if test_data is None:
        missing.append(layout.test_data)
    config = job_config_from(_load(root / layout.job_config), layout.job_config)
    if config is None:
        missing.append(layout.job_config)
    return RunArtifacts(test_data=test_data, job_config=config, missing=tuple(missing))


class FsArtifacts:
    async def read(self, artifact_ref: str, domain: str) -> RunArtifacts:
        return await asyncio.to_thread(read_artifacts, Path(artifact_ref), domain)
