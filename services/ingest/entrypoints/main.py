"""`python -m services.ingest.entrypoints.main`: the ingest service process."""

from __future__ import annotations

from services.ingest.bootstrap import build
from services.mesh.service import run_service
from services.mesh.settings import MeshSettings, settings_or_exit


def main() -> None:
    # An invalid STREAMWRIGHT_* variable exits 2 here, naming it, before anything starts.
    run_service("ingest", build, settings_or_exit(MeshSettings, "ingest"))


if __name__ == "__main__":
    main()
