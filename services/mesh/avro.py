"""The wire format of the mesh: Avro schema files, schema registries, the codec, compatibility.

Messages use the Confluent Schema Registry framing (magic byte 0, 4-byte big-endian schema id,
Avro binary body) with TopicNameStrategy subjects (`<topic>-value`), so any Confluent-aware
consumer can read them. Schemas live in `schemas/` (see schemas/README.md): one file per
version, shared types inlined by the loader; the registered schema is the standalone result.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import sys
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any, Protocol

import httpx
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from pydantic import ValidationError

from services.mesh.events import EVENTS, Event
from services.mesh.httpclient import tls_context
from services.mesh.settings import MeshSettings

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
IDS_FILE = "ids.json"
EVENT_NAMESPACE = "streamwright.events"
MAGIC = 0
_HEADER = struct.Struct(">bI")
_NAMED = frozenset({"record", "error", "enum", "fixed"})
_PRIMITIVE = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_BUILTIN = _NAMED | _PRIMITIVE | {"array", "map"}
_PROMOTABLE = {"int": {"long", "float", "double"}, "long": {"float", "double"}, "float": {"double"}}
_PROMOTABLE |= {"string": {"bytes"}, "bytes": {"string"}}
_BY_NAME: dict[str, type[Event]] = {cls.__name__: cls for cls in EVENTS.values()}

Schema = dict[str, Any]


class SchemaError(Exception):
    """schemas/ is inconsistent: a bad file, a version without an id, an edited frozen version."""


class RegistryError(Exception):
    """A schema registry could not answer (network, HTTP status, or a schema it cannot hold)."""


class UnknownSchemaId(RegistryError):
    """The registry holds no schema with this id."""


class DecodeError(Exception):
    """Bytes that are not a valid event; `reason` says precisely why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- schema files ---------------------------------------------------------------------------


def _fullname(node: Mapping[str, Any], namespace: str | None = None) -> str:
    name = str(node["name"])
    ns = node.get("namespace", namespace)
    return name if "." in name or not ns else f"{ns}.{name}"


def _inline(node: Any, shared: Mapping[str, Any], defined: set[str], namespace: str | None) -> Any:
    """Replace references to shared types by their definition at first use only: Avro forbids
    defining a name twice, so later uses stay references."""
    if isinstance(node, str):
        if node in shared and node not in defined:
            return _inline(shared[node], shared, defined, namespace)
        return node
    if isinstance(node, list):
        return [_inline(branch, shared, defined, namespace) for branch in node]
    if not isinstance(node, dict):
        return node
    out = dict(node)
    kind = node.get("type")
    if kind in _NAMED:
        name = _fullname(node, namespace)
        defined.add(name)
        namespace = name.rpartition(".")[0] or None
    elif not (isinstance(kind, str) and kind in _BUILTIN):
        out["type"] = _inline(kind, shared, defined, namespace)
    if "fields" in node:
        out["fields"] = [
            {**f, "type": _inline(f["type"], shared, defined, namespace)} for f in node["fields"]
        ]
    for key in ("items", "values"):
        if key in node:
            out[key] = _inline(node[key], shared, defined, namespace)
    return out


def load_schema_file(path: Path, directory: Path = SCHEMA_DIR) -> Schema:
    """A schema file as a standalone schema, with the shared types of `directory/_shared` inlined."""
    shared: dict[str, Any] = {}
    for file in sorted((directory / "_shared").glob("*.avsc")):
        node = json.loads(file.read_text(encoding="utf-8"))
        shared[_fullname(node)] = node
    try:
        schema = _inline(json.loads(path.read_text(encoding="utf-8")), shared, set(), None)
        parse_schema(schema)  # validates: unknown names, bad defaults, duplicate definitions
    except Exception as exc:  # fastavro raises assorted types for bad schemas
        raise SchemaError(f"{path}: {exc}") from exc
    if not isinstance(schema, dict):
        raise SchemaError(f"{path}: not a record schema")
    return schema


def normalize(schema: Schema) -> str:
    """The exact text registered and fingerprinted. Not Avro's Parsing Canonical Form: that
    drops defaults and logical types, which schema resolution and readers need."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class SchemaVersion:
    event: str  # Avro record name == Python class name
    version: int
    schema: Schema
    text: str

    @property
    def key(self) -> str:
        return f"{self.event}/v{self.version}"

    @property
    def fingerprint(self) -> str:
        return "sha256:" + sha256(self.text.encode()).hexdigest()


class SchemaCatalog:
    """Every version of every event schema found under a schemas directory."""

    def __init__(self, versions: Iterable[SchemaVersion]) -> None:
        self._by_event: dict[str, list[SchemaVersion]] = {}
        for item in sorted(versions, key=lambda v: (v.event, v.version)):
            self._by_event.setdefault(item.event, []).append(item)

    @classmethod
    def load(cls, directory: Path = SCHEMA_DIR) -> SchemaCatalog:
        found: list[SchemaVersion] = []
        for folder in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("_")):
            files = {int(f.stem[1:]): f for f in folder.glob("v*.avsc") if f.stem[1:].isdigit()}
            if sorted(files) != list(range(1, len(files) + 1)):
                raise SchemaError(f"{folder}: versions must be v1..vN without gaps, found {sorted(files)}")
            for number, file in sorted(files.items()):
                schema = load_schema_file(file, directory)
                if _fullname(schema) != f"{EVENT_NAMESPACE}.{folder.name}":
                    raise SchemaError(f"{file}: record must be {EVENT_NAMESPACE}.{folder.name}")
                found.append(SchemaVersion(folder.name, number, schema, normalize(schema)))
        return cls(found)

    def __iter__(self) -> Iterator[SchemaVersion]:
        return (v for versions in self._by_event.values() for v in versions)

    def events(self) -> list[str]:
        return list(self._by_event)

    def versions(self, event: str) -> list[SchemaVersion]:
        if event not in self._by_event:
            raise SchemaError(f"no schema files for event {event!r}")
        return list(self._by_event[event])

    def latest(self, event: str) -> SchemaVersion:
        return self.versions(event)[-1]

    def get(self, key: str) -> SchemaVersion:
        """A version by key, e.g. "RequestSubmitted/v1"."""
        event, _, number = key.partition("/v")
        matches = [v for v in self.versions(event) if str(v.version) == number]
        if not matches:
            raise SchemaError(f"no schema {key!r}")
        return matches[0]


# --- stable ids -----------------------------------------------------------------------------


def read_ids(directory: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    path = directory / IDS_FILE
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}


def verify_ids(catalog: SchemaCatalog, ids: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Problems with the id file: it must cover every schema file, never reuse an id, only grow
    (ids increase in file order) and hold the fingerprint each version had when it got its id."""
    problems = [
        f"{v.key} has no id (run: python -m services.mesh.avro ids)" for v in catalog if v.key not in ids
    ]
    known = {v.key: v for v in catalog}
    owner: dict[int, str] = {}
    last = 0
    for key, entry in ids.items():
        number = entry.get("id")
        if not isinstance(number, int) or number < 1:
            problems.append(f"{key}: id must be a positive integer, got {number!r}")
            continue
        if number in owner:
            problems.append(f"id {number} reused by {owner[number]} and {key}")
        elif number <= last:
            problems.append(f"{key}: id {number} is not above the previous {last}; the file is append-only")
        owner[number], last = key, max(last, number)
        if key not in known:
            problems.append(f"{key}: id assigned but the schema file is gone; versions are never deleted")
        elif entry.get("sha256") != known[key].fingerprint:
            problems.append(f"{key}: schema changed after its id was assigned; add a new version instead")
    return problems


def append_ids(catalog: SchemaCatalog, ids: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """`ids` plus an entry for every version that has none; existing entries are untouched."""
    out = {key: dict(entry) for key, entry in ids.items()}
    next_id = max((int(e["id"]) for e in ids.values()), default=0) + 1
    flow = {cls.__name__: i for i, cls in enumerate(EVENTS.values())}
    for item in sorted(catalog, key=lambda v: (v.version, flow.get(v.event, len(flow)), v.event)):
        if item.key not in out:
            out[item.key] = {"id": next_id, "sha256": item.fingerprint}
            next_id += 1
    return out


# --- registries -----------------------------------------------------------------------------


def subject_for(event: type[Event]) -> str:
    """TopicNameStrategy: the value schema of topic T is registered under subject "T-value"."""
    return f"{event.TOPIC}-value"


class SchemaRegistry(Protocol):
    def register(self, subject: str, schema: str) -> int: ...

    def schema_by_id(self, schema_id: int) -> str: ...


class EmbeddedRegistry:
    """The registry built from schemas/: ids come from the checked-in, append-only ids.json."""

    def __init__(self, catalog: SchemaCatalog, ids: Mapping[str, Mapping[str, Any]]) -> None:
        problems = verify_ids(catalog, ids)
        if problems:
            raise SchemaError("schemas/ids.json does not match schemas/: " + "; ".join(problems))
        self.catalog = catalog
        self._by_id = {int(ids[v.key]["id"]): v for v in catalog}
        self._by_text = {v.text: number for number, v in self._by_id.items()}

    @classmethod
    def load(cls, directory: Path = SCHEMA_DIR) -> EmbeddedRegistry:
        return cls(SchemaCatalog.load(directory), read_ids(directory))

    def register(self, subject: str, schema: str) -> int:
        number = self._by_text.get(schema)
        if number is None:
            raise RegistryError(
                f"subject {subject}: the embedded registry holds only the schemas in schemas/"
            )
        expected = subject_for(_BY_NAME[self._by_id[number].event])
        if subject != expected:
            raise RegistryError(
                f"schema {self._by_id[number].key} belongs to subject {expected}, not {subject}"
            )
        return number

    def schema_by_id(self, schema_id: int) -> str:
        if schema_id not in self._by_id:
            raise UnknownSchemaId(f"embedded registry: no schema with id {schema_id}")
        return self._by_id[schema_id].text


class HttpRegistry:
    """A Confluent-compatible Schema Registry over its REST API (httpx, results cached).

    Basic auth may be given in the URL (https://user:secret@host); errors never show it.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"schema registry URL must be http(s)://host[:port][/path], got {url!r}")
        self._auth: str | None = None
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            secret = urllib.parse.unquote(parts.password or "")
            self._auth = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
        netloc = parts.netloc.rpartition("@")[2]
        self.url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self._timeout = timeout
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, str] = {}

    def register(self, subject: str, schema: str) -> int:
        if (subject, schema) not in self._ids:
            path = f"/subjects/{urllib.parse.quote(subject, safe='')}/versions"
            reply = self._call("POST", path, {"schema": schema})
            if not isinstance(reply.get("id"), int):
                raise RegistryError(f"schema registry POST {self.url}{path}: reply has no integer id")
            self._ids[subject, schema] = reply["id"]
        return self._ids[subject, schema]

    def schema_by_id(self, schema_id: int) -> str:
        if schema_id not in self._schemas:
            path = f"/schemas/ids/{schema_id}"
            reply = self._call("GET", path, None)
            if not isinstance(reply.get("schema"), str):
                raise RegistryError(f"schema registry GET {self.url}{path}: reply has no schema")
            self._schemas[schema_id] = reply["schema"]
        return self._schemas[schema_id]

    def _call(self, method: str, path: str, body: object) -> dict[str, Any]:
        url = self.url + path
        headers = {"Accept": "application/vnd.schemaregistry.v1+json, application/json"}
        if body is not None:
            headers["Content-Type"] = "application/vnd.schemaregistry.v1+json"
        if self._auth:
            headers["Authorization"] = self._auth
        data = None if body is None else json.dumps(body).encode()
        try:
            response = httpx.request(
                method, url, content=data, headers=headers, timeout=self._timeout, verify=tls_context()
            )
        except httpx.HTTPError as exc:  # connect, read or write failed, or timed out
            raise RegistryError(
                f"schema registry {method} {url} unreachable: {exc or type(exc).__name__}"
            ) from exc
        if response.is_error:
            detail = response.content[:300].decode(errors="replace")
            if response.status_code == 404 and method == "GET":
                raise UnknownSchemaId(f"schema registry GET {url} answered HTTP 404: {detail}")
            raise RegistryError(
                f"schema registry {method} {url} answered HTTP {response.status_code}: {detail}"
            )
        try:
            payload = json.loads(response.content or b"{}")
        except ValueError as exc:
            raise RegistryError(f"schema registry {method} {url} answered invalid JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise RegistryError(
                f"schema registry {method} {url} answered {type(payload).__name__}, not an object"
            )
        return payload


# --- codec ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    cls: type[Event]
    label: str
    writer: Any
    reader: Any


class EventCodec:
    """Events to Confluent-framed Avro and back. Writes the latest schema version; reads any
    version the registry knows, resolved to the latest (older data gets defaults filled)."""

    def __init__(self, registry: SchemaRegistry, catalog: SchemaCatalog | None = None) -> None:
        self.registry = registry
        self.catalog = catalog or getattr(registry, "catalog", None) or SchemaCatalog.load()
        for cls in EVENTS.values():
            if self.catalog.latest(cls.__name__).version != cls.SCHEMA_VERSION:
                raise SchemaError(f"{cls.__name__}.SCHEMA_VERSION is not its latest schema file's version")
        self._writers: dict[type[Event], tuple[int, Any]] = {}
        self._readings: dict[int, _Reading] = {}

    def schema_id(self, cls: type[Event]) -> int:
        """The id of `cls`'s latest schema (registered on first use)."""
        return self._writer(cls)[0]

    def _writer(self, cls: type[Event]) -> tuple[int, Any]:
        if cls not in self._writers:
            latest = self.catalog.latest(cls.__name__)
            number = self.registry.register(subject_for(cls), latest.text)
            self._writers[cls] = (number, parse_schema(latest.schema))
        return self._writers[cls]

    def encode(self, event: Event) -> bytes:
        number, schema = self._writer(type(event))
        out = io.BytesIO()
        out.write(_HEADER.pack(MAGIC, number))
        schemaless_writer(out, schema, event.model_dump(mode="python"))
        return out.getvalue()

    def decode(self, data: bytes | None) -> Event:
        if not data:
            raise DecodeError("empty message (no value bytes; a tombstone?)")
        if len(data) < _HEADER.size:
            raise DecodeError(f"message too short: {len(data)} bytes, the Confluent header alone is 5")
        if data[0] != MAGIC:
            raise DecodeError(f"wrong magic byte 0x{data[0]:02x}, expected 0x00 (Confluent framing)")
        number = int.from_bytes(data[1:5], "big")
        reading = self._reading(number)
        body = io.BytesIO(data[_HEADER.size :])
        try:
            record = schemaless_reader(body, reading.writer, reading.reader)
        except Exception as exc:  # fastavro raises many types on garbage; all mean "not this record"
            raise DecodeError(f"body does not parse as {reading.label}: {type(exc).__name__}: {exc}") from exc
        left = len(data) - _HEADER.size - body.tell()
        if left:
            raise DecodeError(f"{left} trailing bytes after the {reading.label} record")
        if isinstance(record, dict) and isinstance(record.get("envelope"), dict):
            # The model is the latest shape: schema resolution already upgraded the data.
            record["envelope"]["schema_version"] = reading.cls.SCHEMA_VERSION
        try:
            return reading.cls.model_validate(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            count = exc.error_count()
            raise DecodeError(
                f"{reading.label} fails validation ({count} errors): {where}: {first['msg']}"
            ) from exc

    def _reading(self, number: int) -> _Reading:
        if number in self._readings:
            return self._readings[number]
        try:
            text = self.registry.schema_by_id(number)
        except UnknownSchemaId as exc:
            raise DecodeError(f"unknown schema id {number}") from exc
        try:
            writer = json.loads(text)
            name = _fullname(writer) if isinstance(writer, dict) and writer.get("type") == "record" else None
        except (ValueError, KeyError):
            name = None
        if name is None:
            raise DecodeError(f"schema id {number} is not an Avro record schema")
        event, _, short = name.rpartition(".")
        cls = _BY_NAME.get(short) if event == EVENT_NAMESPACE else None
        if cls is None:
            raise DecodeError(f"schema id {number} is {name}, not a known event type")
        try:
            parsed = parse_schema(writer)
        except Exception as exc:  # fastavro raises assorted types for bad schemas
            raise DecodeError(f"schema id {number} is not a valid Avro schema: {exc}") from exc
        latest = self.catalog.latest(short)
        problems = check_backward_compatible(writer, latest.schema)
        if problems:
            raise DecodeError(f"schema id {number} cannot be read as {latest.key}: {problems[0]}")
        reading = _Reading(cls, f"{short} (schema id {number})", parsed, parse_schema(latest.schema))
        self._readings[number] = reading
        return reading


def codec_from_settings(settings: MeshSettings) -> EventCodec:
    """The Confluent-compatible registry when a URL is set, else the embedded one."""
    if settings.schema_registry_url:
        return EventCodec(HttpRegistry(settings.schema_registry_url), SchemaCatalog.load())
    return EventCodec(EmbeddedRegistry.load())


# --- compatibility --------------------------------------------------------------------------


def check_backward_compatible(old: Schema | str, new: Schema | str) -> list[str]:
    """Why a reader on `new` cannot read data written with `old` (Avro resolution); [] = fine."""
    return _Resolution(writer=old, reader=new).problems()


def check_forward_compatible(old: Schema | str, new: Schema | str) -> list[str]:
    """Why a reader still on `old` cannot read data written with `new`; [] = fine."""
    return _Resolution(writer=new, reader=old).problems()


def compatibility_problems(catalog: SchemaCatalog) -> list[str]:
    """Our policy, FULL_TRANSITIVE: every version reads every other version's data."""
    problems: list[str] = []
    for event in catalog.events():
        versions = catalog.versions(event)
        for i, old in enumerate(versions):
            for new in versions[i + 1 :]:
                problems += [
                    f"{new.key} reading {old.key}: {p}"
                    for p in check_backward_compatible(old.schema, new.schema)
                ]
                problems += [
                    f"{old.key} reading {new.key}: {p}"
                    for p in check_forward_compatible(old.schema, new.schema)
                ]
    return problems


def _named_types(node: Any, namespace: str | None, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(node, list):
        for branch in node:
            _named_types(branch, namespace, out)
    elif isinstance(node, dict):
        if node.get("type") in _NAMED:
            name = _fullname(node, namespace)
            out[name] = node
            namespace = name.rpartition(".")[0] or None
        for child in [node.get("type"), node.get("items"), node.get("values")]:
            _named_types(child, namespace, out)
        for field in node.get("fields", []):
            _named_types(field["type"], namespace, out)
    return out


class _Resolution:
    """Avro schema resolution rules, checked statically (reader vs writer)."""

    def __init__(self, writer: Schema | str, reader: Schema | str) -> None:
        self._writer = json.loads(writer) if isinstance(writer, str) else writer
        self._reader = json.loads(reader) if isinstance(reader, str) else reader
        self._names = (_named_types(self._writer, None, {}), _named_types(self._reader, None, {}))
        self._seen: set[tuple[str, str]] = set()

    def problems(self) -> list[str]:
        root = self._writer if isinstance(self._writer, dict) and "name" in self._writer else None
        return self._check(self._writer, self._reader, _fullname(root).rpartition(".")[2] if root else "$")

    @staticmethod
    def _deref(node: Any, names: Mapping[str, Any]) -> Any:
        if isinstance(node, str) and node not in _PRIMITIVE:
            short = (v for k, v in names.items() if k.rpartition(".")[2] == node)
            return names.get(node) or next(short, node)
        if isinstance(node, dict) and not (isinstance(node["type"], str) and node["type"] in _BUILTIN):
            return _Resolution._deref(node["type"], names)
        return node

    def _check(self, writer: Any, reader: Any, path: str) -> list[str]:
        w, r = self._deref(writer, self._names[0]), self._deref(reader, self._names[1])
        wk, rk = _kind(w), _kind(r)
        if wk == "union":
            return [p for branch in w for p in self._check(branch, r, path)]
        if rk == "union":
            if any(not self._check(w, branch, path) for branch in r):
                return []
            return [f"{path}: written as {wk}, which no branch of the reader's union accepts"]
        if wk != rk:
            return [] if rk in _PROMOTABLE.get(wk, set()) else [f"{path}: type changed from {wk} to {rk}"]
        return self._check_same_kind(w, r, wk, path)

    def _check_same_kind(self, w: Any, r: Any, kind: str, path: str) -> list[str]:
        if kind in _PRIMITIVE:
            wl, rl = _logical(w), _logical(r)
            return [] if wl == rl else [f"{path}: logical type changed from {wl} to {rl}"]
        if kind == "array":
            return self._check(w["items"], r["items"], f"{path}[]")
        if kind == "map":
            return self._check(w["values"], r["values"], f"{path}{{}}")
        return self._check_named(w, r, kind, path)

    def _check_named(self, w: Schema, r: Schema, kind: str, path: str) -> list[str]:
        wname, rname = _fullname(w).rpartition(".")[2], _fullname(r).rpartition(".")[2]
        if wname != rname and wname not in r.get("aliases", []):
            return [f"{path}: {kind} renamed from {wname} to {rname} without an alias"]
        if kind == "enum":
            missing = [s for s in w["symbols"] if s not in r["symbols"]]
            if missing and "default" not in r:
                return [f"{path}: symbols {missing} unknown to the reader's enum, which has no default"]
            return []
        if kind == "fixed":
            return [] if w["size"] == r["size"] else [f"{path}: fixed size changed"]
        if (wname, rname) in self._seen:  # recursive types: assume fine while in progress
            return []
        self._seen.add((wname, rname))
        fields = {f["name"]: f for f in w["fields"]}
        problems: list[str] = []
        for field in r["fields"]:
            names = [field["name"], *field.get("aliases", [])]
            source = next((fields[n] for n in names if n in fields), None)
            if source is not None:
                problems += self._check(source["type"], field["type"], f"{path}.{field['name']}")
            elif "default" not in field:
                problems.append(
                    f"{path}.{field['name']}: reader field missing from the data and has no default"
                )
        return problems


def _kind(node: Any) -> str:
    if isinstance(node, list):
        return "union"
    if isinstance(node, dict):
        return str(node["type"])
    return str(node)


def _logical(node: Any) -> str | None:
    return node.get("logicalType") if isinstance(node, dict) else None


# --- command line ---------------------------------------------------------------------------

_USAGE = """usage: python -m services.mesh.avro COMMAND
  ids                 give every new schema version an id in schemas/ids.json (append-only)
  expand EVENT/vN     print a version as the standalone schema (to freeze it; see schemas/README.md)
  check               check FULL_TRANSITIVE compatibility of all versions"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    catalog = SchemaCatalog.load()
    if args == ["ids"]:
        before = read_ids()
        after = append_ids(catalog, before)
        problems = verify_ids(catalog, after)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        (SCHEMA_DIR / IDS_FILE).write_text(json.dumps(after, indent=2) + "\n", encoding="utf-8")
        for key in [k for k in after if k not in before]:
            print(f"{key}: id {after[key]['id']}")
        return 0
    if len(args) == 2 and args[0] == "expand":
        print(json.dumps(catalog.get(args[1]).schema, indent=2))
        return 0
    if args == ["check"]:
        problems = compatibility_problems(catalog)
        print("\n".join(problems) or "all versions compatible (FULL_TRANSITIVE)")
        return 1 if problems else 0
    print(_USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
