"""The `manifest` deployer: the job's FlinkDeployment manifests into a GitOps output directory.

Copies `deployment/*.yaml` of the run's artifacts (the generator's `job/<domain>/deployment/`)
to `<out>/job/<domain>/deployment/`, atomically, after checking each file parses as YAML and
that together they hold a FlinkDeployment; a GitOps controller (Argo CD, Flux) and the Flink
Kubernetes Operator take it from there (upgradeMode: savepoint upgrades the running job).
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

from services.mesh.events import Target
from services.router.ports import DeployError, StartRequest, StartResult

_DOMAIN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
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


def _sources(artifact_ref: str, domain: str) -> list[Path]:
    root = Path(artifact_ref)
    for folder in (root / "job" / domain / "deployment", root / "deployment"):
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
            if files:
                return files
    return []


class ManifestDeployer:
    target: Target = "manifest"

    def __init__(self, out_dir: Path) -> None:
        self._out = out_dir

    def _domain_dir(self, domain: str) -> Path:
        if not _DOMAIN.match(domain):
            raise DeployError(f"refusing to write manifests for domain {domain!r}: not a valid domain name")
        return self._out / "job" / domain / "deployment"

    async def start(self, request: StartRequest) -> StartResult:
        return await asyncio.to_thread(self._start, request)

    def _start(self, request: StartRequest) -> StartResult:
        dest = self._domain_dir(request.domain)
        if not request.artifact_ref:
            raise DeployError("the run has no artifact_ref: no manifests to write")
        files = _sources(request.artifact_ref, request.domain)
        if not files:
            raise DeployError(
                f"no deployment manifests under {request.artifact_ref} (job/{request.domain}/deployment/)"
            )
        texts: dict[str, str] = {}
        kinds: list[str] = []
        for path in files:
            text = path.read_text(encoding="utf-8")
            try:
                docs = [d for d in yaml.safe_load_all(text) if d is not None]
            except yaml.YAMLError as error:
                raise DeployError(f"{path.name} is not valid YAML: {error}") from None
            kinds += [str(d.get("kind")) for d in docs if isinstance(d, Mapping)]
            texts[path.name] = text
        if "FlinkDeployment" not in kinds:
            raise DeployError(f"no FlinkDeployment among {sorted(texts)} (kinds: {sorted(set(kinds))})")
        for name, text in texts.items():
            atomic_write(dest / name, text)
        record = {
            "run_id": request.run_id,
            "domain": request.domain,
            "revision": request.revision,
            "content_hash": request.content_hash,
            "files": sorted(texts),
        }
        atomic_write(dest / RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")
        return StartResult(target=self.target, deployment_ref=str(dest), detail={"files": sorted(texts)})

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
