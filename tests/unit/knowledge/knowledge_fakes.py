"""Test helpers for knowledge: specs from the example requests, in-memory docs files, a KnowledgeBase on
fakes (the shared ones are in tests/fakes.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from services.flinksql.spec import RequestSpec
from services.ingest.domain.checks import check_document
from services.knowledge.adapters.kb_store import StoreKnowledgeRepository
from services.knowledge.adapters.memory_index import MemorySchemaIndex
from services.knowledge.domain.conflicts import Mode
from services.knowledge.domain.model import DomainModel, KbColumn, KbTable, build_model
from services.knowledge.knowledge_base import KnowledgeBase
from tests.fakes import MemoryStore

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
EXAMPLES = ("orders", "payments", "user-activity")


@cache
def document(name: str) -> str:
    return (FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8")


def spec_of(text: str) -> RequestSpec:
    result = check_document(text)
    assert result.spec is not None, [e.message for e in result.errors]
    return result.spec


@cache
def example_spec(name: str) -> RequestSpec:
    return spec_of(document(name))


def example_model(name: str) -> DomainModel:
    return build_model(example_spec(name))


def replace_table(model: DomainModel, table: KbTable) -> DomainModel:
    return model.model_copy(
        update={"tables": tuple(table if t.name == table.name else t for t in model.tables)}
    )


def edit_column(model: DomainModel, table: str, column: str, **changes: Any) -> DomainModel:
    found = model.table(table)
    assert found is not None
    columns = tuple(c.model_copy(update=changes) if c.name == column else c for c in found.columns)
    return replace_table(model, found.model_copy(update={"columns": columns}))


def drop_column(model: DomainModel, table: str, column: str) -> DomainModel:
    found = model.table(table)
    assert found is not None
    columns = tuple(c for c in found.columns if c.name != column)
    return replace_table(model, found.model_copy(update={"columns": columns}))


def add_column(model: DomainModel, table: str, column: KbColumn) -> DomainModel:
    found = model.table(table)
    assert found is not None
    return replace_table(model, found.model_copy(update={"columns": (*found.columns, column)}))


@dataclass
class MemoryFiles:
    files: dict[str, str] = field(default_factory=dict)

    def write_domain_docs(self, domain: str, documents: Mapping[str, str]) -> None:
        for name, text in documents.items():
            self.files[f"er-schemas/domains/{domain}/{name}"] = text

    def remove_domain_docs(self, domain: str) -> None:
        for key in [k for k in self.files if k.startswith(f"er-schemas/domains/{domain}/")]:
            del self.files[key]

    def write_global_docs(self, documents: Mapping[str, str]) -> None:
        for name, text in documents.items():
            self.files[f"er-schemas/global/{name}"] = text

    def write_conflict_report(self, name: str, text: str) -> str:
        self.files[f"conflict-reports/{name}"] = text
        return name


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def make_kb(
    store: MemoryStore | None = None, *, mode: Mode = Mode.BACKWARD, modes: Mapping[str, Mode] | None = None
) -> tuple[KnowledgeBase, MemoryFiles]:
    files = MemoryFiles()
    chosen = dict(modes or {})
    kb = KnowledgeBase(
        repo=StoreKnowledgeRepository(store or MemoryStore()),  # type: ignore[arg-type]
        index=MemorySchemaIndex(),
        files=files,
        mode_for=lambda domain: chosen.get(domain, mode),
        clock=Clock(),
    )
    return kb, files
