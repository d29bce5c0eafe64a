"""Probe: a literal password in a request is found in no store, artifact, export or event.

One request carries three literal credentials: a `'password'` WITH option, the password of a
JDBC URL's `user:password@` and a `?password=` URL parameter. It goes through ingest (the
request store and its events, on SQLite under STREAMWRIGHT_HOME), the generator (the job written
to the output directory, prod profile), the validator (its reports) and the knowledge base (its
markdown files and `kb export`). Afterwards no file under either directory, and no text produced
on the way, holds any of the three.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.flinksql.spec import RequestSpec
from services.generator.adapters.artifacts_fs import write_job
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.adapters.request_store import StoreRequestRepository
from services.ingest.handlers import IngestHandlers
from services.knowledge.adapters.kb_store import StoreKnowledgeRepository
from services.knowledge.adapters.memory_index import MemorySchemaIndex
from services.knowledge.adapters.reports_fs import FsKnowledgeFiles
from services.knowledge.domain.conflicts import Mode
from services.knowledge.domain.model import build_model
from services.knowledge.knowledge_base import CommitMeta, KnowledgeBase
from services.mesh.events import RequestAccepted, Source
from services.mesh.store.sqlite import SQLiteDocumentStore
from services.validator.domain import Inputs, assess
from services.validator.domain.model import JobConfig, KnowledgeFacts, PlanFacts
from services.validator.domain.report import render_json, render_markdown
from tests.fakes import RecordingPublisher

ROOT = Path(__file__).resolve().parents[2]
OPTION_SECRET = "Opt-Pw'x\u00e9\u4e2d7"  # a quote and non-ASCII: hostile to naive quoting
URL_SECRET = "Url9Pw\u00fc"
PARAM_SECRET = "ParamPw42"
# What must appear nowhere: each secret, as written (quote doubled) and as decoded, and its parts.
SECRETS = (
    OPTION_SECRET,
    OPTION_SECRET.replace("'", "''"),
    "Opt-Pw",
    "x\u00e9\u4e2d7",
    URL_SECRET,
    PARAM_SECRET,
)


def _document() -> str:
    text = (ROOT / "examples" / "orders" / "orders-request-v3.md").read_text(encoding="utf-8")
    option = OPTION_SECRET.replace("'", "''")
    text = text.replace(
        "'username' = 'flink_reader'", f"'username' = 'flink_reader',\n    'password' = '{option}'", 1
    )
    url = "jdbc:mysql://mysql-trade.internal:3306/trade_dim"
    first = text.index(url)
    second = text.index(url, first + 1)
    text = (
        text[:second]
        + f"jdbc:mysql://flink_reader:{URL_SECRET}@mysql-trade.internal:3306/trade_dim?password={PARAM_SECRET}"
        + text[second + len(url) :]
    )
    assert all(s in text for s in SECRETS if s != OPTION_SECRET)
    return text


def _files_holding_secrets(*roots: Path) -> list[str]:
    hits = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                hits += [f"{path}: {s!r}" for s in SECRETS if s.encode("utf-8") in data]
    return hits


def _assert_clean(text: str, what: str) -> None:
    held = [s for s in SECRETS if s in text]
    assert not held, f"{what} holds {held}"


async def _ingest(home: Path, document: str) -> tuple[RequestSpec, RecordingPublisher]:
    store = SQLiteDocumentStore(home / "ingest" / "store.sqlite")
    publisher = RecordingPublisher()
    handlers = IngestHandlers(requests=StoreRequestRepository(store), publisher=publisher)
    submission = await handlers.submit(document=document, source=Source.CLI, cases_yaml=None)
    submitted = publisher.events[0]
    await handlers.on_request_submitted(submitted)  # type: ignore[arg-type]
    accepted = publisher.of(RequestAccepted)
    assert accepted, [e.model_dump_json() for e in publisher.events]
    assert submission.request_id == accepted[0].envelope.request_id
    await store.close()
    return RequestSpec.model_validate_json(accepted[0].spec_json), publisher


async def _knowledge(home: Path, spec: RequestSpec) -> str:
    store = SQLiteDocumentStore(home / "knowledge" / "store.sqlite")
    kb = KnowledgeBase(
        repo=StoreKnowledgeRepository(store),
        index=MemorySchemaIndex(),
        files=FsKnowledgeFiles(home / "knowledge" / "files"),
        mode_for=lambda _: Mode.BACKWARD,
    )
    outcome = await kb.commit(build_model(spec, revision=1), CommitMeta(revision=1), base_version=None)
    assert outcome.committed, outcome.reason
    exported = (await kb.export()).model_dump_json()
    (home / "kb-export.json").write_text(exported, encoding="utf-8")
    await store.close()
    return exported


def test_a_literal_password_is_in_no_store_artifact_export_or_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    monkeypatch.setenv("STREAMWRIGHT_HOME", str(home))
    spec, publisher = asyncio.run(_ingest(home, _document()))

    redacted = [w for w in spec.warnings if w.code == "secrets.redacted"]
    assert {(w.name, w.line is not None) for w in redacted} == {
        ("dim_shop.password", True),
        ("dim_city.url", True),
    }
    for event in publisher.events:
        _assert_clean(event.model_dump_json(), type(event).__name__)
    options = {d.table.name: d.table.options for d in spec.dimensions}
    assert options["dim_shop"]["password"] == "${secret:streamwright-jdbc-dim-shop-password}"
    assert options["dim_city"]["url"] == "jdbc:mysql://mysql-trade.internal:3306/trade_dim"
    assert options["dim_city"]["password"] == "${secret:streamwright-jdbc-dim-city-password}"

    job = compile_job(spec, profile=load_profile("prod"), revision=1, generator_version="t")
    write_job(job, out)
    for name, text in job.files.items():
        _assert_clean(text, name)

    report = assess(
        Inputs(
            spec=spec,
            sql=job.sql,
            plan=PlanFacts(ran=True),
            knowledge=KnowledgeFacts(available=True),
            job_config=JobConfig(parallelism=2, checkpoint_interval="30 s"),
            cases_ran=True,
        ),
        created_at="2025-01-01T00:00:00+00:00",
    )
    assert not [f for f in report.findings if f.code.startswith("sql.credentials_in")]
    (home / "validator").mkdir()
    (home / "validator" / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (home / "validator" / "report.json").write_text(render_json(report), encoding="utf-8")

    _assert_clean(asyncio.run(_knowledge(home, spec)), "kb export")
    assert list((home / "knowledge" / "files").rglob("*.md")), "the knowledge base wrote no markdown"
    assert _files_holding_secrets(home, out) == []
