"""ReportRepository over the DocumentStore, plus the report files under the service home.

Documents: `specs/<run_id>` (from RequestAccepted), `reports/<run_id>:<attempt>` (the JSON
report and its markdown) and `ended_runs/<run_id>` (from RunCompleted). Files: `<home>/validator/reports/<run>/attempt-<n>/job/<domain>/
validation/validation-report-<domain>-v3.{md,json}`; `report_ref` is the markdown path.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

from services.flinksql.artifacts import checked_domain
from services.mesh.files import write_files
from services.mesh.store import DocumentStore
from services.validator.domain.model import Report
from services.validator.domain.report import render_json, report_json_path, report_path
from services.validator.ports import RunSpec, StoredReport

SPECS = "specs"
REPORTS = "reports"
ENDED = "ended_runs"
_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def run_dir_name(run_id: str) -> str:
    """A directory name for a run id; ids from Kafka are untrusted, so odd ones are hashed."""
    return run_id if _SAFE.match(run_id) else "h-" + hashlib.sha256(run_id.encode()).hexdigest()[:32]


def write_report_files(report: Report, markdown: str, root: Path) -> Path:
    """Write the markdown and JSON under `root` in seed 000's layout; the markdown path.

    Through the shared safe writer: UnsafePathError (a ValueError) when a path would resolve
    outside `root` (a symlink in it), BadDomain (a ValueError) for an unsafe domain.
    """
    checked_domain(report.domain)
    files = {report_path(report.domain): markdown, report_json_path(report.domain): render_json(report)}
    return write_files(files, root)[0]


class StoreReportRepository:
    def __init__(self, store: DocumentStore, root: Path) -> None:
        self._store = store
        self._root = root

    async def save_spec(self, run: RunSpec) -> None:
        await self._store.put(SPECS, run.run_id, run.model_dump(mode="json"))

    async def spec(self, run_id: str) -> RunSpec | None:
        stored = await self._store.get(SPECS, run_id)
        return None if stored is None else RunSpec.model_validate(stored.doc)

    async def save_report(self, report: Report, markdown: str) -> StoredReport:
        directory = self._root / run_dir_name(report.run_id) / f"attempt-{report.attempt}"
        md = await asyncio.to_thread(write_report_files, report, markdown, directory)
        stored = StoredReport(report=report, markdown=markdown, report_ref=str(md))
        doc = {
            "run_id": report.run_id,
            "attempt": report.attempt,
            "report": report.model_dump(mode="json"),
            "markdown": markdown,
            "report_ref": stored.report_ref,
        }
        await self._store.put(REPORTS, f"{report.run_id}:{report.attempt}", doc)
        return stored

    async def report(self, run_id: str, attempt: int | None) -> StoredReport | None:
        if attempt is not None:
            found = await self._store.get(REPORTS, f"{run_id}:{attempt}")
            docs = [] if found is None else [found.doc]
        else:
            rows = await self._store.find(
                REPORTS, where={"run_id": run_id}, order_by="attempt", descending=True, limit=1
            )
            docs = [r.doc for r in rows]
        if not docs:
            return None
        doc = docs[0]
        return StoredReport(
            report=Report.model_validate(doc["report"]),
            markdown=doc["markdown"],
            report_ref=doc["report_ref"],
        )

    async def mark_ended(self, run_id: str, final_state: str) -> None:
        await self._store.put(ENDED, run_id, {"run_id": run_id, "final_state": final_state})

    async def ended(self, run_id: str) -> str | None:
        stored = await self._store.get(ENDED, run_id)
        return None if stored is None else str(stored.doc["final_state"])
