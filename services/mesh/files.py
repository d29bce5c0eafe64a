"""Writing files under an output directory, never outside it: the one safe writer.

The generator's job files (`streamwright generate`, the generator service's attempts), the
validator's report files (`streamwright validate --out`, the validator service's reports) and
`streamwright run --out` all write through `write_files`. Paths are relative POSIX paths built
from a checked domain; this still refuses absolute paths, `..`, empty parts, and any path whose
resolved location (symlinks followed) leaves the output directory. Files are written atomically
(temporary file + rename, which replaces a symlink rather than following it) so a reader never
sees half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path, PurePosixPath

_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class UnsafePathError(ValueError):
    """A relative path that could escape the output directory."""


def safe_target(out_dir: Path, relative: str) -> Path:
    """The absolute path for `relative` under `out_dir`; raises UnsafePathError otherwise."""
    rel = PurePosixPath(relative)
    if rel.is_absolute() or not rel.parts or "\\" in relative:
        raise UnsafePathError(f"refusing path {relative!r}: not a relative POSIX path")
    for part in relative.split("/"):
        if part in (".", "..") or not _PART.match(part):
            raise UnsafePathError(f"refusing path {relative!r}: bad part {part!r}")
    root = out_dir.resolve()
    target = (root / Path(*rel.parts)).resolve()
    if target != root and root not in target.parents:
        raise UnsafePathError(f"refusing path {relative!r}: it resolves outside the output directory {root}")
    return target


def write_files(files: dict[str, str], out_dir: Path) -> list[Path]:
    """Write each relative path -> text under `out_dir`; return the written paths in order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = [(safe_target(out_dir, rel), text) for rel, text in files.items()]
    written: list[Path] = []
    for target, text in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        # re-check after creating directories: a symlinked directory must not lead outside
        root = out_dir.resolve()
        if root not in target.parent.resolve().parents and target.parent.resolve() != root:
            raise UnsafePathError(
                f"refusing {target}: its directory resolves outside the output directory {root}"
            )
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".sw-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
