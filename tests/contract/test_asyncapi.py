"""docs/asyncapi.yaml is what scripts/gen_asyncapi.py makes from the code now (regenerate: make it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import yaml

from services.mesh.events import ALL_TOPICS, EVENTS, dlq_topic

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "asyncapi.yaml"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_asyncapi", ROOT / "scripts" / "gen_asyncapi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checked_in_document_is_current(tmp_path: Path) -> None:
    out = tmp_path / "asyncapi.yaml"
    assert _generator().main(["--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8"), (
        "docs/asyncapi.yaml is stale: run `.venv/bin/python scripts/gen_asyncapi.py` and commit it"
    )


def test_every_event_topic_and_dead_letter_topic_is_described() -> None:
    doc = yaml.safe_load(DOC.read_text(encoding="utf-8"))
    assert doc["asyncapi"] == "3.0.0"
    messages = doc["components"]["messages"]
    assert {m["headers"]["properties"]["event_type"]["const"] for m in messages.values()} == set(EVENTS)
    for cls in EVENTS.values():
        message = messages[cls.__name__]
        assert message["payload"]["schemaFormat"] == "application/vnd.apache.avro;version=1.9.0"
        assert message["payload"]["schema"]["name"] == cls.__name__
        assert message["x-schema-registry"]["version"] == cls.SCHEMA_VERSION
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == {*ALL_TOPICS, *(dlq_topic(t) for t in ALL_TOPICS)}
    # Every event has a sender and a receiver among the services.
    operations = doc["operations"].values()
    for topic in ALL_TOPICS:
        actions = {op["action"] for op in operations if op["channel"]["$ref"] == f"#/channels/{topic}"}
        assert actions == {"send", "receive"}, topic
