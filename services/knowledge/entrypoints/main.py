"""`python -m services.knowledge.entrypoints.main`: the knowledge service process."""

from __future__ import annotations

from services.knowledge.bootstrap import build
from services.knowledge.settings import KnowledgeSettings
from services.mesh.service import run_service


def main() -> None:
    run_service("knowledge", build, KnowledgeSettings())


if __name__ == "__main__":
    main()
