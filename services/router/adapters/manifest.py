"""The `manifest` deployer: the job's FlinkDeployment manifests into a GitOps output directory.

Copies `deployment/*.yaml` of the run's artifacts (the generator's `job/<domain>/deployment/`)
to `<out>/job/<domain>/deployment/`, atomically, after checking each file parses as YAML and
that together they hold a FlinkDeployment; a GitOps controller (Argo CD, Flux) and the Flink
Kubernetes Operator take it from there (upgradeMode: savepoint upgrades the running job).
Files the previous write recorded and this one does not have are removed, so a renamed
manifest never leaves a second job on the same sink.

`spec.job.allowNonRestoredState` is written as the start asks (true only for an upgrade whose
dropped state was approved; docs/safe-upgrades.md); a restore that fails is the
operator's to roll back (the generated manifests enable its rollback and health check).

Stop suspends the job in the manifests (the operator takes the savepoint). Rollback writes the
previous revision's recorded manifests back with upgradeMode savepoint, state running and, when a
savepoint is known, initialSavepointPath.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from services.flinksql.artifacts import ArtifactLayout, BadDomain
from services.mesh.events import Target
from services.router.ports import DeployError, StartRequest, StartResult

_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.ya?ml$")
RECORD = ".streamwright-deployment.json"


def atomic_write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".sw-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _layout(domain: str) -> ArtifactLayout:
    try:
        return ArtifactLayout(domain)
    except BadDomain:
        raise DeployError(f"refusing manifests for domain {domain!r}: not a valid domain name") from None


def _sources(artifact_ref: str, domain: str) -> list[Path]:
    root = Path(artifact_ref)
    for folder in (root / _layout(domain).deployment_dir, root / "deployment"):
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
            if files:
                return files
    return []


def _documents(name: str, text: str) -> list[Any]:
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise DeployError(f"{name} is not valid YAML: {error}") from None


def _resume(name: str, text: str, savepoint: str | None) -> str:
    """Set a FlinkDeployment to run from state: upgradeMode savepoint, running, initialSavepointPath.

    With upgradeMode savepoint the operator carries the running (or suspended) job's state into the
    changed spec; initialSavepointPath is what a newly created deployment starts from, so it is set
    to the known savepoint, and dropped when there is none (a stale one would restore old state).
    """
    docs = _documents(name, text)
    if not any(isinstance(d, dict) and d.get("kind") == "FlinkDeployment" for d in docs):
        return text
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "FlinkDeployment":
            spec = doc.get("spec")
            if not isinstance(spec, dict):
                spec = doc["spec"] = {}
            job = spec.get("job")
            if not isinstance(job, dict):
                job = spec["job"] = {}
            job["upgradeMode"] = "savepoint"
            job["state"] = "running"
            if savepoint:
                job["initialSavepointPath"] = savepoint
            else:
                job.pop("initialSavepointPath", None)
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)


def _allow_non_restored(name: str, text: str, allow: bool) -> str:
    """Set the FlinkDeployments' `job.allowNonRestoredState` to `allow` (the text unchanged when it is)."""
    docs = _documents(name, text)
    deployments = [d for d in docs if isinstance(d, dict) and d.get("kind") == "FlinkDeployment"]

    def current(doc: dict[str, Any]) -> bool:
        spec = doc.get("spec")
        job = spec.get("job") if isinstance(spec, dict) else None
        return bool(job.get("allowNonRestoredState", False)) if isinstance(job, dict) else False

    if all(current(d) is allow for d in deployments):
        return text
    for doc in deployments:
        spec = doc.get("spec")
        if not isinstance(spec, dict):
            spec = doc["spec"] = {}
        job = spec.get("job")
        if not isinstance(job, dict):
            job = spec["job"] = {}
        job["allowNonRestoredState"] = allow
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)


def _recorded_files(dest: Path) -> list[str]:
    """The file names the last write recorded in the domain's directory (plain names only)."""
    try:
        recorded = json.loads((dest / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = recorded.get("files") if isinstance(recorded, dict) else None
    return [str(f) for f in files or [] if _FILE.match(str(f))]


class ManifestDeployer:
    target: Target = "manifest"

    def __init__(self, out_dir: Path) -> None:
        self._out = out_dir

    def _domain_dir(self, domain: str) -> Path:
        return self._out / _layout(domain).deployment_dir

    async def start(self, request: StartRequest) -> StartResult:
        return await asyncio.to_thread(self._start, request)

    def _start(self, request: StartRequest) -> StartResult:
        dest = self._domain_dir(request.domain)
        texts = self._texts(request)
        kinds: list[str] = []
        for name, text in texts.items():
            kinds += [str(d.get("kind")) for d in _documents(name, text) if isinstance(d, Mapping)]
        if "FlinkDeployment" not in kinds:
            raise DeployError(f"no FlinkDeployment among {sorted(texts)} (kinds: {sorted(set(kinds))})")
        if request.manifests is not None or request.restore_from:
            texts = {name: _resume(name, text, request.restore_from) for name, text in texts.items()}
        # Dropped state only where the upgrade's loss was approved; never carried into a later start.
        allow = request.allow_non_restored_state
        texts = {name: _allow_non_restored(name, text, allow) for name, text in texts.items()}
        stale = set(_recorded_files(dest)) - set(texts)
        for name, text in texts.items():
            atomic_write(dest / name, text)
        for name in sorted(stale):  # the replaced revision's files: never two jobs on one sink
            (dest / name).unlink(missing_ok=True)
        record = {
            "run_id": request.run_id,
            "domain": request.domain,
            "revision": request.revision,
            "content_hash": request.content_hash,
            "files": sorted(texts),
            "restore_from": request.restore_from,
        }
        atomic_write(dest / RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")
        return StartResult(
            target=self.target,
            deployment_ref=str(dest),
            savepoint_restored=request.restore_from,
            detail={"files": sorted(texts)},
            manifests=texts,
        )

    @staticmethod
    def _texts(request: StartRequest) -> dict[str, str]:
        """The manifests to write: the recorded ones (rollback), else the run's artifacts."""
        if request.manifests is not None:
            if not request.manifests:
                raise DeployError(f"the deployment record of revision {request.revision} holds no manifests")
            bad = sorted(name for name in request.manifests if not _FILE.match(name))
            if bad:
                raise DeployError(f"refusing manifest file names {bad}: not plain YAML file names")
            return dict(request.manifests)
        if not request.artifact_ref:
            raise DeployError("the run has no artifact_ref: no manifests to write")
        files = _sources(request.artifact_ref, request.domain)
        if not files:
            raise DeployError(
                f"no deployment manifests under {request.artifact_ref} ({_layout(request.domain).deployment_dir}/)"
            )
        return {path.name: path.read_text(encoding="utf-8") for path in files}

    async def stop(self, deployment: Mapping[str, Any], *, savepoint: bool = True) -> str | None:
        """Suspend the job in the manifests (spec.job.state: suspended); the operator takes a savepoint."""
        await asyncio.to_thread(self._suspend, str(deployment.get("domain", "")))
        return None

    def _suspend(self, domain: str) -> None:
        dest = self._domain_dir(domain)
        changed = False
        for path in sorted(dest.glob("*.y*ml")):
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            for doc in docs:
                if isinstance(doc, dict) and doc.get("kind") == "FlinkDeployment":
                    doc.setdefault("spec", {}).setdefault("job", {})["state"] = "suspended"
                    changed = True
            atomic_write(path, yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True))
        if not changed:
            raise DeployError(f"no FlinkDeployment manifest for domain {domain!r} under {dest}")
