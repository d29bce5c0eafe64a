"""A job's declared secrets, read from its job config (for the router's deployers).

The generator lists every secret a job references in `job/<domain>/config/<domain>-job.yml`
(`ArtifactLayout(domain).job_config`; `services.generator.domain.manifests.job_config`):
`secrets: [{name, env, key}, ...]`. A deployer passes these names to the runner (`--secret`) or
to `services.flinksql.job_policy.check_statements`, so only a declared secret is ever resolved.
Not used inside the image (it needs PyYAML, which the runner itself does not).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from services.flinksql.artifacts import ArtifactLayout, BadDomain, MissingArtifact
from services.flinksql.job_policy import RunnerError, declared_secret_names


class JobConfigError(ValueError):
    """The job config is missing or does not list its secrets as the generator writes them."""


def secrets_from_job_config(document: object, where: str = "the job config") -> tuple[str, ...]:
    """The `secrets[].name` values of a loaded job config; JobConfigError for another shape."""
    if not isinstance(document, dict):
        raise JobConfigError(f"{where} is not a mapping")
    entries = document.get("secrets", [])
    if entries is None:
        return ()
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) for e in entries
    ):
        raise JobConfigError(f"{where}: 'secrets' must be a list of {{name, env, key}} entries")
    try:
        return declared_secret_names(e["name"] for e in entries)
    except RunnerError as error:
        raise JobConfigError(f"{where}: {error}") from None


def read_declared_secrets(artifact_ref: str, domain: str) -> tuple[str, ...]:
    """The declared secrets of the job under `artifact_ref` (the generator's output directory)."""
    try:
        relative = ArtifactLayout(domain).job_config
    except BadDomain as error:
        raise JobConfigError(str(error)) from None
    path = Path(artifact_ref) / relative
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JobConfigError(str(MissingArtifact(relative, artifact_ref))) from None
    except OSError as error:
        raise JobConfigError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise JobConfigError(f"{relative} is not valid YAML: {error}") from None
    return secrets_from_job_config(document, relative)
