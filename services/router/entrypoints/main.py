"""`python -m services.router.entrypoints.main`: the router service process."""

from __future__ import annotations

from services.mesh.service import run_service
from services.router.bootstrap import build
from services.router.settings import RouterSettings


def main() -> None:
    run_service("router", build, RouterSettings())


if __name__ == "__main__":
    main()
