"""`python -m services.router.entrypoints.main`: the router service process."""

from __future__ import annotations

from services.mesh.service import run_service
from services.mesh.settings import settings_or_exit
from services.router.bootstrap import build
from services.router.settings import RouterSettings


def main() -> None:
    # An invalid STREAMWRIGHT_* variable exits 2 here, naming it, before anything starts.
    run_service("router", build, settings_or_exit(RouterSettings, "router"))


if __name__ == "__main__":
    main()
