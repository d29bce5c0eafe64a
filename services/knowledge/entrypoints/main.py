"""`python -m services.knowledge.entrypoints.main`: the knowledge service process."""

from __future__ import annotations

from services.knowledge.bootstrap import build
from services.knowledge.settings import KnowledgeSettings
from services.mesh.service import run_service
from services.mesh.settings import settings_or_exit


def main() -> None:
    # An invalid STREAMWRIGHT_* variable exits 2 here, naming it, before anything starts.
    run_service("knowledge", build, settings_or_exit(KnowledgeSettings, "knowledge"))


if __name__ == "__main__":
    main()
