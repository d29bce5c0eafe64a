"""seed 000's knowledge-base directory on disk: er-schemas/ documents and conflict-reports/."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")


def _safe(name: str) -> str:
    if not _SAFE.match(name) or ".." in name:
        raise ValueError(f"unsafe file or directory name {name!r}")
    return name


def _write(path: Path, text: str) -> None:
    """Write atomically (temp file + rename), so a reader never sees half a document."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FsKnowledgeFiles:
    """`<root>/er-schemas/domains/<domain>/`, `<root>/er-schemas/global/`, `<root>/conflict-reports/`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def domain_dir(self, domain: str) -> Path:
        return self.root / "er-schemas" / "domains" / _safe(domain)

    def write_domain_docs(self, domain: str, documents: Mapping[str, str]) -> None:
        for name, text in documents.items():
            _write(self.domain_dir(domain) / _safe(name), text)

    def remove_domain_docs(self, domain: str) -> None:
        shutil.rmtree(self.domain_dir(domain), ignore_errors=True)

    def write_global_docs(self, documents: Mapping[str, str]) -> None:
        for name, text in documents.items():
            _write(self.root / "er-schemas" / "global" / _safe(name), text)

    def write_conflict_report(self, name: str, text: str) -> str:
        path = self.root / "conflict-reports" / _safe(name)
        _write(path, text)
        return str(path)
