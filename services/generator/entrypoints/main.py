"""`python -m services.generator.entrypoints.main`: the generator service process."""

from __future__ import annotations

from services.generator.bootstrap import build
from services.mesh.service import run_service


def main() -> None:
    run_service("generator", build)


if __name__ == "__main__":
    main()
