"""Reads the generator's artifacts the validator uses from disk (at SqlGenerated.artifact_ref).

Only two files, at fixed relative paths built from the checked domain: the edge-case test
data and the job config. A missing or unreadable file is simply absent (None).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import yaml

from services.validator.domain.model import JobConfig

_DOMAIN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def test_data_path(domain: str) -> str:
    return f"job/{domain}/validation/test-data-{domain}-v3.yaml"


def job_config_path(domain: str) -> str:
    return f"job/{domain}/config/{domain}-job.yml"


def _load(path: Path) -> Any:
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


def read_artifacts(root: Path, domain: str) -> tuple[dict[str, Any] | None, JobConfig | None]:
    if not _DOMAIN.match(domain) or not root.is_dir():
        return None, None
    data = _load(root / test_data_path(domain))
    test_data = data.get("test_data") if isinstance(data, dict) else None
    config = job_config_from(_load(root / job_config_path(domain)), job_config_path(domain))
    return (test_data if isinstance(test_data, dict) else None), config


class FsArtifacts:
    async def read(self, artifact_ref: str, domain: str) -> tuple[dict[str, Any] | None, JobConfig | None]:
        return await asyncio.to_thread(read_artifacts, Path(artifact_ref), domain)
