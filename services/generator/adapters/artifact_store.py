"""ArtifactRepository: run specs and attempts in the DocumentStore, files under the service home.

Files live in `<home>/generator/artifacts/<run>/attempt-<n>/` in seed 000's layout, so the
router's manifest deployer and people can read them; `artifact_ref` is that directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from services.generator.ports import GeneratedAttempt, RunSpec, StoredArtifact
from services.mesh.events import Finding
from services.mesh.files import safe_target, write_files
from services.mesh.store import DocumentStore

RUNS = "runs"
ATTEMPTS = "attempts"
FINDINGS = "findings"
_SAFE_DIR = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MEDIA = {
    ".sql": "application/sql",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".md": "text/markdown",
    ".json": "application/json",
}


def run_dir_name(run_id: str) -> str:
    """A directory name for a run id; ids from Kafka are untrusted, so odd ones are hashed."""
    return run_id if _SAFE_DIR.match(run_id) else "h-" + hashlib.sha256(run_id.encode()).hexdigest()[:32]


def media_type(path: str) -> str:
    return _MEDIA.get(Path(path).suffix, "text/plain")


class StoreArtifactRepository:
    def __init__(self, store: DocumentStore, root: Path) -> None:
        self._store = store
        self._root = root

    async def save_run(self, run: RunSpec) -> None:
        await self._store.put(RUNS, run.run_id, run.model_dump(mode="json"))

    async def run(self, run_id: str) -> RunSpec | None:
        stored = await self._store.get(RUNS, run_id)
        return None if stored is None else RunSpec.model_validate(stored.doc)

    async def save_attempt(self, attempt: GeneratedAttempt, files: dict[str, str]) -> GeneratedAttempt:
        directory = self._root / run_dir_name(attempt.run_id) / f"attempt-{attempt.attempt}"
        if files:
            await asyncio.to_thread(write_files, files, directory)
        artifacts = tuple(
            StoredArtifact(
                path=path,
                sha256=hashlib.sha256(text.encode()).hexdigest(),
                media_type=media_type(path),
                size_bytes=len(text.encode()),
            )
            for path, text in files.items()
        )
        saved = attempt.model_copy(update={"artifacts": artifacts, "artifact_ref": str(directory)})
        await self._store.put(ATTEMPTS, f"{attempt.run_id}:{attempt.attempt}", saved.model_dump(mode="json"))
        return saved

    async def attempt(self, run_id: str, attempt: int | None) -> GeneratedAttempt | None:
        if attempt is not None:
            stored = await self._store.get(ATTEMPTS, f"{run_id}:{attempt}")
            return None if stored is None else GeneratedAttempt.model_validate(stored.doc)
        rows = await self._store.find(
            ATTEMPTS, where={"run_id": run_id}, order_by="attempt", descending=True, limit=1
        )
        return GeneratedAttempt.model_validate(rows[0].doc) if rows else None

    async def read_file(self, attempt: GeneratedAttempt, path: str) -> bytes:
        return await asyncio.to_thread(safe_target(Path(attempt.artifact_ref), path).read_bytes)

    async def save_findings(self, run_id: str, attempt: int, findings: Sequence[Finding]) -> None:
        await self._store.put(
            FINDINGS,
            f"{run_id}:{attempt}",
            {"run_id": run_id, "attempt": attempt, "findings": [f.model_dump(mode="json") for f in findings]},
        )

    async def findings(self, run_id: str, attempt: int) -> tuple[Finding, ...] | None:
        stored = await self._store.get(FINDINGS, f"{run_id}:{attempt}")
        if stored is None:
            return None
        return tuple(Finding.model_validate(f) for f in stored.doc.get("findings", []))
