"""Knowledge settings: compatibility modes, Qdrant and the optional embedding model.

STREAMWRIGHT_KB_COMPATIBILITY=BACKWARD             default mode of every domain
STREAMWRIGHT_KB_DOMAIN_MODES='{"orders": "FULL"}'  per-domain modes (JSON)
STREAMWRIGHT_QDRANT_URL=http://qdrant:6333         a Qdrant server; default: local mode under home
STREAMWRIGHT_KB_EMBEDDING_MODEL=...                dense vectors: `sentence-transformers/<model>`
                                                   (offline) or `litellm/<provider>/<model>`
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from services.knowledge.domain.conflicts import Mode
from services.mesh.settings import MeshSettings

SERVICE = "knowledge"


class KnowledgeSettings(MeshSettings):
    kb_compatibility: Mode = Mode.BACKWARD
    kb_domain_modes: dict[str, Mode] = Field(default_factory=dict)
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = Field(default="streamwright_schemas", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    kb_embedding_model: str | None = None
    kb_search_limit: int = Field(default=10, ge=1, le=100)

    def mode_for(self, domain: str) -> Mode:
        return self.kb_domain_modes.get(domain, self.kb_compatibility)

    @property
    def knowledge_dir(self) -> Path:
        return self.service_dir(SERVICE)

    @property
    def qdrant_path(self) -> Path:
        return self.knowledge_dir / "qdrant"

    @property
    def knowledge_base_dir(self) -> Path:
        """seed 000's `knowledge-base/` (er-schemas/, conflict-reports/)."""
        return self.knowledge_dir / "knowledge-base"


def knowledge_settings(settings: MeshSettings) -> KnowledgeSettings:
    """`settings` as KnowledgeSettings: mesh values kept, knowledge values from the environment."""
    if isinstance(settings, KnowledgeSettings):
        return settings
    values = {name: getattr(settings, name) for name in MeshSettings.model_fields}
    return KnowledgeSettings(**values)
