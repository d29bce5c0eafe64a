"""Writes execution reports under the output directory (seed 000 layout)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.router.adapters.manifest import atomic_write


class FsReportWriter:
    def __init__(self, out_dir: Path) -> None:
        self._out = out_dir

    async def write(self, domain: str, relative_path: str, text: str) -> str:
        target = (self._out / relative_path).resolve()
        root = self._out.resolve()
        if root not in target.parents:
            raise ValueError(f"refusing to write {relative_path!r} outside {root}")
        await asyncio.to_thread(atomic_write, target, text)
        return str(target)
