"""Schema evolution: every version reads every other, the checker catches breaks, ids are stable."""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.utils import generate_many

from services.mesh.avro import (
    SCHEMA_DIR,
    EmbeddedRegistry,
    SchemaCatalog,
    SchemaError,
    append_ids,
    check_backward_compatible,
    check_forward_compatible,
    compatibility_problems,
    load_schema_file,
    read_ids,
    verify_ids,
)
from services.mesh.events import EVENTS

FIXTURES = Path(__file__).parent / "fixtures"
CATALOG = SchemaCatalog.load()
PAIRS = [
    (old, new)
    for event in CATALOG.events()
    for i, old in enumerate(CATALOG.versions(event))
    for new in CATALOG.versions(event)[i:]
]


def _wire(node: Any) -> Any:
    """The schema without logical types: random longs are not all valid datetimes, and logical
    types do not change the binary encoding (the static checker compares them instead)."""
    if isinstance(node, dict):
        return {k: _wire(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_wire(v) for v in node]
    return node


def read_samples(writer: dict[str, Any], reader: dict[str, Any], count: int = 25) -> int:
    """Write `count` random records with `writer`, read each back with `reader` as reader schema."""
    random.seed(f"{writer['name']}:{count}")
    w, r = parse_schema(_wire(writer)), parse_schema(_wire(reader))
    for record in generate_many(w, count):
        out = io.BytesIO()
        schemaless_writer(out, w, record)
        out.seek(0)
        schemaless_reader(out, w, r)
    return count


def test_repo_holds_more_than_one_version() -> None:
    """It keeps every version on disk: RequestSubmitted has v1 and v2, and every event has a v1."""
    assert [v.version for v in CATALOG.versions("RequestSubmitted")] == [1, 2]
    assert sorted(CATALOG.events()) == sorted(cls.__name__ for cls in EVENTS.values())
    assert any(old.version < new.version for old, new in PAIRS)


def test_all_versions_are_full_transitive_compatible() -> None:
    """It finds no problem when every version of every event reads every other version's data."""
    assert compatibility_problems(CATALOG) == []


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=lambda v: v.key)
def test_newer_reads_random_data_of_older_and_back(old: Any, new: Any) -> None:
    """It reads random records written with each older version using each newer one, and vice versa."""
    assert check_backward_compatible(old.schema, new.schema) == []
    assert check_forward_compatible(old.schema, new.schema) == []
    assert read_samples(old.schema, new.schema) == 25
    assert read_samples(new.schema, old.schema) == 25


def test_required_field_without_default_is_caught() -> None:
    """It reports a new field without a default, which fastavro then also fails to resolve."""
    latest = CATALOG.latest("RequestSubmitted").schema
    broken = load_schema_file(FIXTURES / "RequestSubmitted.required_field.avsc")
    problems = check_backward_compatible(latest, broken)
    assert problems == ["RequestSubmitted.priority: reader field missing from the data and has no default"]
    assert check_forward_compatible(latest, broken) == []  # old readers just skip the new field
    with pytest.raises(SchemaResolutionError):
        read_samples(latest, broken)


def test_changed_type_is_caught_in_both_directions() -> None:
    """It reports a field whose type changed, whichever side reads."""
    latest = CATALOG.latest("RequestSubmitted").schema
    broken = load_schema_file(FIXTURES / "RequestSubmitted.changed_type.avsc")
    assert check_backward_compatible(latest, broken) == [
        "RequestSubmitted.document: type changed from string to int"
    ]
    assert check_forward_compatible(latest, broken) == [
        "RequestSubmitted.document: type changed from int to string"
    ]
    with pytest.raises(SchemaResolutionError):
        read_samples(latest, broken)


def _record(*fields: dict[str, Any], name: str = "R") -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields)}


ENUM = {"type": "enum", "name": "E", "symbols": ["a", "b"]}


@pytest.mark.parametrize(
    ("old", "new", "backward", "forward"),
    [
        (
            {"name": "n", "type": "int"},
            {"name": "n", "type": "long"},
            [],
            ["R.n: type changed from long to int"],
        ),
        ({"name": "n", "type": "string"}, {"name": "n", "type": "bytes"}, [], []),
        (
            {"name": "s", "type": "string"},
            {"name": "s", "type": ["null", "string"], "default": None},
            [],
            ["R.s: type changed from null to string"],
        ),
        (
            {"name": "e", "type": ENUM},
            {"name": "e", "type": {**ENUM, "symbols": ["a", "b", "c"]}},
            [],
            ["R.e: symbols ['c'] unknown to the reader's enum, which has no default"],
        ),
        (
            {"name": "e", "type": ENUM},
            {"name": "e", "type": {**ENUM, "symbols": ["a"], "default": "a"}},
            [],
            [],
        ),
        (
            {"name": "old_name", "type": "int"},
            {"name": "new_name", "type": "int", "aliases": ["old_name"]},
            [],
            ["R.old_name: reader field missing from the data and has no default"],
        ),
        (
            {"name": "xs", "type": {"type": "array", "items": "long"}},
            {"name": "xs", "type": {"type": "array", "items": "int"}},
            ["R.xs[]: type changed from long to int"],
            [],
        ),
        (
            {"name": "m", "type": {"type": "map", "values": "string"}},
            {"name": "m", "type": {"type": "map", "values": "boolean"}},
            ["R.m{}: type changed from string to boolean"],
            ["R.m{}: type changed from boolean to string"],
        ),
        (
            {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "t", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            ["R.t: logical type changed from timestamp-millis to timestamp-micros"],
            ["R.t: logical type changed from timestamp-micros to timestamp-millis"],
        ),
    ],
    ids=[
        "promote",
        "string-bytes",
        "nullable",
        "enum-symbol",
        "enum-default",
        "alias",
        "array",
        "map",
        "logical",
    ],
)
def test_checker_follows_avro_resolution_rules(
    old: dict[str, Any], new: dict[str, Any], backward: list[str], forward: list[str]
) -> None:
    """It applies Avro's resolution rules: promotions, unions, enum defaults, aliases, containers."""
    assert check_backward_compatible(_record(old), _record(new)) == backward
    assert check_forward_compatible(_record(old), _record(new)) == forward


def test_renamed_record_needs_an_alias() -> None:
    """It reports a renamed record unless the reader lists the old name as an alias."""
    assert check_backward_compatible(_record(name="Old"), _record(name="New")) == [
        "Old: record renamed from Old to New without an alias"
    ]
    assert check_backward_compatible(_record(name="Old"), {**_record(name="New"), "aliases": ["Old"]}) == []


# --- stable ids -----------------------------------------------------------------------------


def test_ids_cover_every_schema_file_and_match_fingerprints() -> None:
    """It finds an id for every schema file on disk, no reused id, and unchanged fingerprints."""
    ids = read_ids()
    on_disk = {f"{p.parent.name}/{p.stem}" for p in SCHEMA_DIR.glob("[!_]*/v*.avsc")}
    assert on_disk == set(ids) == {v.key for v in CATALOG}
    assert len({entry["id"] for entry in ids.values()}) == len(ids)
    assert verify_ids(CATALOG, ids) == []


def test_ids_already_committed_never_change() -> None:
    """It keeps every id entry of the last commit unchanged (ids.json is append-only)."""
    try:
        committed = subprocess.run(
            ["git", "show", "HEAD:schemas/ids.json"],
            check=False,
            cwd=SCHEMA_DIR,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        pytest.skip("git not available")
    if committed.returncode != 0:
        pytest.skip("schemas/ids.json is not committed yet")
    current = read_ids()
    for key, entry in json.loads(committed.stdout).items():
        assert current.get(key) == entry, key


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, copy, ignore=shutil.ignore_patterns("*.md"))
    return copy


def test_edited_frozen_version_is_refused(schemas: Path) -> None:
    """It reports a version whose content changed after it got an id, and the registry will not start."""
    path = schemas / "RequestSubmitted" / "v1.avsc"
    path.write_text(path.read_text().replace("request-v3 markdown", "markdown"))
    assert verify_ids(SchemaCatalog.load(schemas), read_ids(schemas)) == [
        "RequestSubmitted/v1: schema changed after its id was assigned; add a new version instead"
    ]
    with pytest.raises(SchemaError, match="RequestSubmitted/v1: schema changed"):
        EmbeddedRegistry.load(schemas)


def test_changing_a_shared_type_needs_frozen_versions(schemas: Path) -> None:
    """It flags every version when a shared type changes, and none once versions hold their expanded form."""
    expanded = {v.key: v.schema for v in SchemaCatalog.load(schemas)}
    envelope = schemas / "_shared" / "Envelope.avsc"
    grown = json.loads(envelope.read_text())
    grown["fields"].append({"name": "tenant", "type": ["null", "string"], "default": None})
    envelope.write_text(json.dumps(grown))
    assert len(verify_ids(SchemaCatalog.load(schemas), read_ids(schemas))) == len(expanded)
    for key, schema in expanded.items():  # the freeze step of schemas/README.md
        (schemas / f"{key}.avsc").write_text(json.dumps(schema, indent=2))
    assert verify_ids(SchemaCatalog.load(schemas), read_ids(schemas)) == []


def test_new_version_gets_the_next_id(schemas: Path) -> None:
    """It asks for an id for a new version file, then appends exactly one entry with the next id."""
    v2 = json.loads((schemas / "RequestSubmitted" / "v2.avsc").read_text())
    v2["fields"].append({"name": "labels", "type": {"type": "array", "items": "string"}, "default": []})
    (schemas / "RequestSubmitted" / "v3.avsc").write_text(json.dumps(v2))
    catalog, ids = SchemaCatalog.load(schemas), read_ids(schemas)
    assert verify_ids(catalog, ids) == [
        "RequestSubmitted/v3 has no id (run: python -m services.mesh.avro ids)"
    ]
    grown = append_ids(catalog, ids)
    assert {k: v for k, v in grown.items() if k in ids} == ids
    assert grown["RequestSubmitted/v3"]["id"] == max(e["id"] for e in ids.values()) + 1
    assert verify_ids(catalog, grown) == []
    assert compatibility_problems(catalog) == []


def test_reused_out_of_order_and_orphaned_ids_are_reported() -> None:
    """It reports a reused id, an id below its predecessor and an id whose schema file is gone."""
    ids = read_ids()
    reused = {**ids, "RunCompleted/v1": {**ids["RunCompleted/v1"], "id": ids["RequestSubmitted/v1"]["id"]}}
    assert any(
        "id 1 reused by RequestSubmitted/v1 and RunCompleted/v1" in p for p in verify_ids(CATALOG, reused)
    )
    shuffled = dict(reversed(list(ids.items())))
    assert any("the file is append-only" in p for p in verify_ids(CATALOG, shuffled))
    orphan = {**ids, "Gone/v1": {"id": 99, "sha256": "sha256:00"}}
    assert verify_ids(CATALOG, orphan) == [
        "Gone/v1: id assigned but the schema file is gone; versions are never deleted"
    ]


def test_standalone_schemas_define_each_shared_type_once() -> None:
    """It inlines a shared type at its first use only, as Avro forbids redefining a name."""
    text = CATALOG.latest("RequestRejected").text
    assert text.count('"name":"Issue"') == 1
    assert '"items":"streamwright.common.Issue"' in text
    assert text.count('"name":"Envelope"') == 1
