"""`python -m services.validator.entrypoints.main`: the validator service process."""

from __future__ import annotations

from services.mesh.service import run_service
from services.mesh.settings import settings_or_exit
from services.validator.bootstrap import build
from services.validator.settings import ValidatorSettings


def main() -> None:
    # An invalid STREAMWRIGHT_* variable exits 2 here, naming it, before anything starts.
    run_service("validator", build, settings_or_exit(ValidatorSettings, "validator"))


if __name__ == "__main__":
    main()
