"""Writing a `CompiledJob`'s files under an output directory, never outside it.

Paths come from `CompiledJob.files`, which the domain builds only from the re-checked domain;
the shared writer (`services/mesh/files.py`, which the validator's report files use too) still
refuses any path that could leave the output directory, symlinks followed, and writes each file
atomically.
"""

from __future__ import annotations

from pathlib import Path

from services.generator.domain.compile import CompiledJob
from services.mesh.files import write_files


def write_job(job: CompiledJob, out_dir: Path) -> list[Path]:
    """Write every file of `job` under `out_dir`; return the written paths in file order."""
    return write_files(job.files, out_dir)
