"""`python -m services.generator.entrypoints.main`: the generator service process."""

from __future__ import annotations

from services.generator.bootstrap import build
from services.generator.settings import GeneratorSettings
from services.mesh.service import run_service
from services.mesh.settings import settings_or_exit


def main() -> None:
    # An invalid STREAMWRIGHT_* variable exits 2 here, naming it, before anything starts.
    run_service("generator", build, settings_or_exit(GeneratorSettings, "generator"))


if __name__ == "__main__":
    main()
