"""`python -m services.validator.entrypoints.main`: the validator service process."""

from __future__ import annotations

from services.mesh.service import run_service
from services.validator.bootstrap import build


def main() -> None:
    run_service("validator", build)


if __name__ == "__main__":
    main()
