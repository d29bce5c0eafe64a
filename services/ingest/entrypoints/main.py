"""`python -m services.ingest.entrypoints.main`: the ingest service process."""

from __future__ import annotations

from services.ingest.bootstrap import build
from services.mesh.service import run_service


def main() -> None:
    run_service("ingest", build)


if __name__ == "__main__":
    main()
