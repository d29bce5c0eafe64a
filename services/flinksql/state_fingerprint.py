"""A job's state fingerprint: the operators that hold state, where Flink keeps that state, and its shape.

A savepoint stores state per *operator id*. A SQL job run from SQL (not from a compiled plan)
has no uids (`table.exec.uid.generation: PLAN_ONLY`, Flink 2's default), so Flink derives each
operator id from the stream graph's shape (StreamGraphHasherV2: the operator's position in a
breadth-first walk from the sources, its chained outputs, the ids of its inputs), never from
what the operator computes. Two consequences decide every upgrade:

- a change that keeps the graph's shape keeps every id: the new operator at an id gets the old
  operator's state, whether or not it is the same operator with the same state layout;
- a change of shape upstream of an operator (one more operator, one less, another exchange)
  changes its id: its state maps to nothing, and Flink refuses the start ("Cannot map
  checkpoint/savepoint state ... the operator is not available in the new program") unless the
  start allows non-restored state, which drops it.

The validator compiles the job's plan (`COMPILE PLAN`'s JSON: the ExecNodes, their state
metadata, types and edges) and the stream graph Flink generates from it with the runner's
settings, hashed as Flink hashes it (docs/safe-upgrades.md says how that is done and how it
was checked against a session cluster). `derive` joins the two: one `StateHolder` per stream
operator that holds state, with the id Flink will give it, its state (names, TTL), its key,
input and output types, a digest of its definition and one of everything upstream of it.
Pure: JSON and strings in, data out; `to_json`/`from_json` are its wire form.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

FORMAT = 1
# How the operator ids were obtained: Flink's own hasher over the job's stream graph, no uids set.
ID_SCHEME = "stream-graph-hash"

HolderKind = Literal["source", "sink", "operator"]

# ExecNode types (without their version suffix) that keep no state of their own. Every other
# type is taken to hold state (conservative: an unknown node is never assumed stateless).
STATELESS_NODES = frozenset(
    {
        "stream-exec-calc",
        "stream-exec-exchange",
        "stream-exec-watermark-assigner",
        "stream-exec-union",
        "stream-exec-correlate",
        "stream-exec-expand",
        "stream-exec-values",
        "stream-exec-mini-batch-assigner",
        "stream-exec-drop-update-before",
        "stream-exec-local-group-aggregate",
        "stream-exec-local-window-aggregate",
        "stream-exec-window-table-function",
        "stream-exec-python-calc",
        "stream-exec-python-correlate",
    }
)
# A lookup join keeps state only when it is asynchronous (in-flight lookups are checkpointed).
LOOKUP_JOIN = "stream-exec-lookup-join"
SOURCE_SCAN = ("stream-exec-table-source-scan", "stream-exec-legacy-table-source-scan")
SINK = ("stream-exec-sink", "stream-exec-legacy-sink")
# Sink connectors whose writers keep no state (they flush on checkpoint).
STATELESS_SINK_CONNECTORS = frozenset({"print", "blackhole", "jdbc"})
# Options that say where a connector reads or writes: changing one points restored positions
# (offsets, splits, pending files) at something else.
ORIGIN_OPTIONS = (
    "connector",
    "topic",
    "topic-pattern",
    "properties.bootstrap.servers",
    "path",
    "url",
    "table-name",
)
_NODE_ID = re.compile(r"\[(\d+)\]")
_VERSION = re.compile(r"_\d+$")
_SUMMARY_LIMIT = 300


class FingerprintError(ValueError):
    """The plan or the operator list cannot be read."""


@dataclass(frozen=True, slots=True)
class StreamOperator:
    """One operator of the job's stream graph, as Flink generated and hashed it."""

    name: str  # e.g. "GroupAggregate[4]", "Source: src[1]", "Sink: snk[6]"
    uid: str  # Flink's operator id, 32 hex digits
    parallelism: int = -1
    id: int = 0  # the stream node's id in its graph
    inputs: tuple[int, ...] = ()  # the ids of the stream nodes feeding it


@dataclass(frozen=True, slots=True)
class StateEntry:
    name: str
    ttl_ms: int


@dataclass(frozen=True, slots=True)
class StateHolder:
    """One operator that holds state, and what a restore into it depends on."""

    uid: str
    operator: str
    node: int  # the ExecNode's id in the compiled plan
    kind: HolderKind
    type: str  # the ExecNode type with its version, e.g. stream-exec-group-aggregate_1
    state: tuple[StateEntry, ...] = ()
    key: tuple[str, ...] = ()  # "name TYPE" of each key field; ("singleton",) for one global key
    inputs: tuple[tuple[str, ...], ...] = ()  # "name TYPE" fields of each input row
    output: tuple[str, ...] = ()
    table: str | None = None  # sources and sinks: the table's identifier
    origin: tuple[str, ...] = ()  # sources and sinks: "option=value" of ORIGIN_OPTIONS present
    logic: str = ""  # digest of the node's definition (names, ids and descriptions left out)
    upstream: str = ""  # digest of the definitions of everything upstream
    summary: str = ""  # Flink's description of the node, trimmed

    @property
    def label(self) -> str:
        """How explanations name it: the operator and what it does."""
        what = self.summary or self.type
        return f"{self.operator} ({what})" if what else self.operator


@dataclass(frozen=True, slots=True)
class StateFingerprint:
    flink_version: str
    parallelism: int
    holders: tuple[StateHolder, ...]
    sql_digest: str | None = None
    connector_swaps: tuple[str, ...] = ()  # tables planned on another connector than written
    format: int = FORMAT
    id_scheme: str = ID_SCHEME
    notes: tuple[str, ...] = field(default=())

    def by_uid(self) -> dict[str, StateHolder]:
        return {h.uid: h for h in self.holders}


# ---------------------------------------------------------------- types


def type_text(value: Any) -> str:
    """A logical type of the JSON plan (a string, or an object for types a string cannot say)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True)
    kind = str(value.get("type", ""))
    text: str
    if kind == "ROW":
        inner = ", ".join(f"`{n}` {t}" for n, t in row_fields(value))
        text = f"ROW<{inner}>"
    elif kind in ("TIMESTAMP_WITHOUT_TIME_ZONE", "TIMESTAMP_WITH_LOCAL_TIME_ZONE"):
        base = "TIMESTAMP" if kind == "TIMESTAMP_WITHOUT_TIME_ZONE" else "TIMESTAMP_LTZ"
        text = f"{base}({value.get('precision', 6)})"
        if value.get("kind") in ("ROWTIME", "PROCTIME"):
            text += f" *{value['kind']}*"
    else:
        return json.dumps(value, sort_keys=True)
    if value.get("nullable") is False:
        text += " NOT NULL"
    return text


def row_fields(value: Any) -> list[tuple[str, str]]:
    """(name, type) of each field of a ROW type, from either form the plan writes."""
    if isinstance(value, Mapping):
        return [(str(f.get("name")), type_text(f.get("fieldType"))) for f in value.get("fields") or []]
    if not isinstance(value, str):
        return []
    text = value.strip()
    if text.endswith(" NOT NULL"):
        text = text[: -len(" NOT NULL")].rstrip()
    if not (text.startswith("ROW<") and text.endswith(">")):
        return []
    return [_field(part) for part in _split_top(text[4:-1])]


def _split_top(text: str) -> list[str]:
    """`text` cut at the commas outside <>, (), backquotes and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                if i + 1 < len(text) and text[i + 1] == quote:  # a doubled quote inside
                    i += 1
                else:
                    quote = ""
        elif c in "`'":
            quote = c
        elif c in "<(":
            depth += 1
        elif c in ">)":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    if text[start:].strip():
        parts.append(text[start:].strip())
    return parts


def _field(part: str) -> tuple[str, str]:
    if part.startswith("`"):
        end = 1
        while end < len(part):
            if part[end] == "`":
                if end + 1 < len(part) and part[end + 1] == "`":
                    end += 2
                    continue
                break
            end += 1
        return part[1:end].replace("``", "`"), part[end + 1 :].strip()
    name, _, rest = part.partition(" ")
    return name, rest.strip()


def _described(fields: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(f"{name} {kind}" for name, kind in fields)


def field_types(described: Sequence[str]) -> tuple[str, ...]:
    """The types of "name TYPE" fields: what state serializers compare (names do not count)."""
    return tuple(d.split(" ", 1)[1] if " " in d else d for d in described)


# ---------------------------------------------------------------- derivation


def _ttl_ms(text: Any) -> int:
    """'0 ms', '3600000 ms', '1 h' ... -> milliseconds (-1 when it cannot be read)."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-z]*)\s*", str(text))
    if not match:
        return -1
    value, unit = int(match.group(1)), match.group(2) or "ms"
    scale = {"ms": 1, "s": 1000, "min": 60_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    return value * scale[unit] if unit in scale else -1


def _digest(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _definition(node: Mapping[str, Any]) -> dict[str, Any]:
    """The node as the digest sees it: no id, description or output names; aggregate call names
    (the SELECT's aliases) left out, since state does not depend on them; its state metadata
    (names, TTL) left out too: compared on its own."""
    out = {k: v for k, v in node.items() if k not in ("id", "description", "outputType", "state")}
    calls = out.get("aggCalls")
    if isinstance(calls, list):
        out["aggCalls"] = [
            {k: v for k, v in c.items() if k != "name"} for c in calls if isinstance(c, Mapping)
        ]
    out["outputTypes"] = list(field_types(_described(row_fields(node.get("outputType")))))
    return out


def _base_type(node_type: str) -> str:
    return _VERSION.sub("", node_type)


def _table_of(node: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    """The identifier and options of a source's or sink's table."""
    spec = node.get("scanTableSource") or node.get("dynamicTableSink") or {}
    table = spec.get("table") if isinstance(spec, Mapping) else None
    if not isinstance(table, Mapping):
        return None, {}
    resolved = table.get("resolvedTable") or {}
    options = resolved.get("options") if isinstance(resolved, Mapping) else None
    return (str(table["identifier"]) if table.get("identifier") else None), options or {}


def _short_name(identifier: str) -> str:
    """`default_catalog`.`default_database`.`src` -> src."""
    last = _split_identifier(identifier)
    return last[-1] if last else identifier


def _split_identifier(identifier: str) -> list[str]:
    return [p.replace("``", "`") for p in re.findall(r"`((?:[^`]|``)*)`", identifier)] or identifier.split(
        "."
    )


def _origin(options: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(f"{k}={options[k]}" for k in ORIGIN_OPTIONS if k in options)


def _key(
    node_id: int, nodes: Mapping[int, Mapping[str, Any]], inputs: Mapping[int, list[int]]
) -> tuple[str, ...]:
    """What the operator is keyed by: the hash keys of the exchange(s) before it (or its own)."""
    keys: list[str] = []
    sources = inputs.get(node_id, [])
    for position, source in enumerate(sources):
        feeder = nodes.get(source, {})
        if _base_type(str(feeder.get("type", ""))) == "stream-exec-exchange":
            described = _distribution(feeder, row_fields(feeder.get("outputType")))
        else:
            props = nodes[node_id].get("inputProperties") or []
            own = props[position] if position < len(props) and isinstance(props[position], Mapping) else {}
            described = _distribution({"inputProperties": [own]}, row_fields(feeder.get("outputType")))
        if described and len(sources) > 1:
            described = tuple(f"input {position + 1}: {d}" for d in described)
        keys.extend(described)
    return tuple(keys)


def _holder_key(
    node_id: int, nodes: Mapping[int, Mapping[str, Any]], inputs: Mapping[int, list[int]]
) -> tuple[str, ...]:
    node = nodes[node_id]
    if _base_type(str(node.get("type", ""))) in SINK:
        feeders = inputs.get(node_id, [])
        fields = row_fields(nodes[feeders[0]].get("outputType")) if feeders and feeders[0] in nodes else []
        upsert = node.get("inputUpsertKey")
        if (
            isinstance(upsert, list)
            and upsert
            and all(isinstance(i, int) and i < len(fields) for i in upsert)
        ):
            return tuple(f"{fields[i][0]} {fields[i][1]}" for i in upsert)
        return _sink_key(node) or _key(node_id, nodes, inputs)
    return _key(node_id, nodes, inputs)


def _sink_key(node: Mapping[str, Any]) -> tuple[str, ...]:
    """A sink's primary key ("name TYPE") from its table in the plan (when the plan holds it)."""
    spec = node.get("dynamicTableSink") or {}
    table = spec.get("table") if isinstance(spec, Mapping) else None
    resolved = table.get("resolvedTable") if isinstance(table, Mapping) else None
    schema = resolved.get("schema") if isinstance(resolved, Mapping) else None
    if not isinstance(schema, Mapping):
        return ()
    columns = {
        str(c.get("name")): type_text(c.get("dataType"))
        for c in schema.get("columns") or []
        if isinstance(c, Mapping)
    }
    key = (schema.get("primaryKey") or {}).get("columns") or []
    return tuple(f"{name} {columns.get(str(name), '?')}" for name in key)


def _distribution(node: Mapping[str, Any], fields: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    props = node.get("inputProperties") or []
    wanted = (props[0].get("requiredDistribution") if props and isinstance(props[0], Mapping) else None) or {}
    kind = str(wanted.get("type", ""))
    if kind == "SINGLETON":
        return ("singleton",)
    if kind != "HASH":
        return ()
    out = []
    for index in wanted.get("keys") or []:
        if isinstance(index, int) and 0 <= index < len(fields):
            out.append(f"{fields[index][0]} {fields[index][1]}")
        else:
            out.append(f"#{index}")
    return tuple(out)


def _plan_nodes(
    operators: Sequence[StreamOperator], nodes: Mapping[int, Mapping[str, Any]]
) -> dict[StreamOperator, int]:
    """The plan node each stream operator comes from.

    Flink names an operator after its node (`GroupAggregate[4]`), except where a connector names
    its own: a source then carries its table (`Source: KafkaSource-cat.db.table`), and an
    operator a sink adds after its writer (a committer) follows the operator feeding it.
    """
    scans: dict[str, list[int]] = {}
    for scan_id in sorted(nodes):
        scan = nodes[scan_id]
        identifier, _ = _table_of(scan)
        if identifier and _base_type(str(scan.get("type", ""))) in SOURCE_SCAN:
            scans.setdefault(".".join(_split_identifier(identifier)), []).append(scan_id)
    found: dict[StreamOperator, int] = {}
    by_id: dict[int, int] = {}
    for op in sorted(operators, key=lambda o: o.id):
        named = _NODE_ID.findall(op.name)
        node_id: int | None = int(named[-1]) if named and int(named[-1]) in nodes else None
        if node_id is None and not op.inputs:
            table = next((t for t in sorted(scans, key=len, reverse=True) if t in op.name and scans[t]), None)
            node_id = scans[table].pop(0) if table is not None else None
        elif node_id is None:
            node_id = by_id.get(op.inputs[0])
        if node_id is None:
            raise FingerprintError(f"stream operator {op.name!r} names no node of the compiled plan")
        found[op] = by_id[op.id] = node_id
    return found


def _renumbered(name: str, node: int) -> str:
    """`name` with its last `[n]` (the plan node's id) replaced by `[node]`."""
    found = list(_NODE_ID.finditer(name))
    if not found:
        return name
    last = found[-1]
    return f"{name[: last.start()]}[{node}]{name[last.end() :]}"


def _holder_kind(
    node: Mapping[str, Any], operator: str, written: Mapping[str, Mapping[str, str]]
) -> HolderKind | None:
    """Whether this stream operator of `node` holds state, and as what (None: it does not)."""
    base = _base_type(str(node.get("type", "")))
    if base in SOURCE_SCAN:
        return "source" if operator.startswith("Source:") else None
    if base in SINK:
        return _sink_part(node, operator, written)
    stateless = base in STATELESS_NODES or (base == LOOKUP_JOIN and not _is_async_lookup(node))
    return None if stateless else "operator"


def _sink_part(
    node: Mapping[str, Any], operator: str, written: Mapping[str, Mapping[str, str]]
) -> HolderKind | None:
    """A sink node's operators: its upsert materializer holds keyed state; its writer and committer
    hold the connector's (none for the connectors in STATELESS_SINK_CONNECTORS); the rest none."""
    if operator.startswith("SinkMaterializer"):
        return "operator"
    if operator.startswith("Sink:") or ": Writer" in operator or ": Committer" in operator:
        identifier, options = _table_of(node)
        connector = str(_options_as_written(identifier, options, written).get("connector", "")).lower()
        return None if connector in STATELESS_SINK_CONNECTORS else "sink"
    return None


def _is_async_lookup(node: Mapping[str, Any]) -> bool:
    options = node.get("asyncOptions")
    return bool(options) or node.get("async") is True


def _options_as_written(
    identifier: str | None, options: Mapping[str, Any], written: Mapping[str, Mapping[str, str]]
) -> Mapping[str, Any]:
    """A table's options as the job's DDL wrote them (the validator may have swapped the plan's)."""
    if identifier is not None:
        own = written.get(_short_name(identifier))
        if own is not None:
            return own
    return options


def derive(
    plan: Mapping[str, Any],
    operators: Sequence[StreamOperator],
    *,
    parallelism: int,
    sql_digest: str | None = None,
    written_options: Mapping[str, Mapping[str, str]] | None = None,
    connector_swaps: Sequence[str] = (),
) -> StateFingerprint:
    """The fingerprint of a job from its compiled plan and its hashed stream graph.

    `written_options`: each table's options as the job's DDL wrote them, by table name (the
    plan holds those it was planned with, which the validator may have swapped); they decide
    where a source or sink reads or writes and whether a sink keeps state.
    """
    raw_nodes = plan.get("nodes")
    if not isinstance(raw_nodes, list):
        raise FingerprintError("the compiled plan has no node list")
    nodes: dict[int, Mapping[str, Any]] = {}
    for node in raw_nodes:
        if not isinstance(node, Mapping) or not isinstance(node.get("id"), int):
            raise FingerprintError("a node of the compiled plan has no id")
        nodes[int(node["id"])] = node
    inputs: dict[int, list[int]] = {}
    for edge in plan.get("edges") or []:
        if (
            isinstance(edge, Mapping)
            and isinstance(edge.get("source"), int)
            and isinstance(edge.get("target"), int)
        ):
            inputs.setdefault(int(edge["target"]), []).append(int(edge["source"]))
    written = written_options or {}
    logic = {node_id: _digest(_definition(node)) for node_id, node in nodes.items()}
    upstream: dict[int, str] = {}

    def upstream_of(node_id: int, seen: frozenset[int] = frozenset()) -> str:
        if node_id not in upstream:
            if node_id in seen:
                raise FingerprintError(f"the compiled plan has a cycle through node {node_id}")
            feeders = inputs.get(node_id, [])
            upstream[node_id] = _digest(
                [[logic[f], upstream_of(f, seen | {node_id})] for f in feeders if f in logic]
            )
        return upstream[node_id]

    # The planner numbers nodes on from earlier plans in the same JVM: shown from 1, as in a fresh one.
    offset = min(nodes, default=1) - 1
    holders: list[StateHolder] = []
    for op, node_id in _plan_nodes(operators, nodes).items():
        node = nodes[node_id]
        kind = _holder_kind(node, op.name, written)
        if kind is None:
            continue
        identifier, options = _table_of(node)
        as_written = _options_as_written(identifier, options, written)
        own_state = node.get("state") if kind == "operator" else None
        holders.append(
            StateHolder(
                uid=op.uid,
                operator=_renumbered(op.name, node_id - offset),
                node=node_id - offset,
                kind=kind,
                type=str(node.get("type", "")),
                state=tuple(
                    StateEntry(str(s.get("name", "")), _ttl_ms(s.get("ttl", "0 ms")))
                    for s in own_state or []
                    if isinstance(s, Mapping)
                ),
                key=_holder_key(node_id, nodes, inputs) if kind == "operator" else (),
                inputs=tuple(
                    _described(row_fields(nodes[i].get("outputType")))
                    for i in inputs.get(node_id, [])
                    if i in nodes
                ),
                output=_described(row_fields(node.get("outputType"))),
                table=_short_name(identifier) if identifier else None,
                origin=_origin(as_written) if kind != "operator" else (),
                logic=logic[node_id],
                upstream=upstream_of(node_id),
                summary=str(node.get("description", ""))[:_SUMMARY_LIMIT],
            )
        )
    return StateFingerprint(
        flink_version=str(plan.get("flinkVersion", "")),
        parallelism=parallelism,
        holders=tuple(sorted(holders, key=lambda h: (h.node, h.operator))),
        sql_digest=sql_digest,
        connector_swaps=tuple(sorted(connector_swaps)),
    )


# ---------------------------------------------------------------- wire form


def to_json(fingerprint: StateFingerprint) -> str:
    """Compact JSON (what ValidationScored carries and the router stores)."""
    doc = {
        "format": fingerprint.format,
        "id_scheme": fingerprint.id_scheme,
        "flink_version": fingerprint.flink_version,
        "parallelism": fingerprint.parallelism,
        "sql_digest": fingerprint.sql_digest,
        "connector_swaps": list(fingerprint.connector_swaps),
        "notes": list(fingerprint.notes),
        "holders": [
            {
                "uid": h.uid,
                "operator": h.operator,
                "node": h.node,
                "kind": h.kind,
                "type": h.type,
                "state": [{"name": s.name, "ttl_ms": s.ttl_ms} for s in h.state],
                "key": list(h.key),
                "inputs": [list(i) for i in h.inputs],
                "output": list(h.output),
                "table": h.table,
                "origin": list(h.origin),
                "logic": h.logic,
                "upstream": h.upstream,
                "summary": h.summary,
            }
            for h in fingerprint.holders
        ],
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def from_json(text: str | Mapping[str, Any]) -> StateFingerprint:
    """The fingerprint from its JSON (text or parsed); FingerprintError for another shape."""
    try:
        doc = json.loads(text) if isinstance(text, str) else text
        if not isinstance(doc, Mapping):
            raise FingerprintError("a state fingerprint is a JSON object")
        holders = tuple(
            StateHolder(
                uid=str(h["uid"]),
                operator=str(h["operator"]),
                node=int(h["node"]),
                kind=h["kind"] if h["kind"] in ("source", "sink", "operator") else "operator",
                type=str(h["type"]),
                state=tuple(StateEntry(str(s["name"]), int(s["ttl_ms"])) for s in h.get("state") or []),
                key=tuple(str(k) for k in h.get("key") or []),
                inputs=tuple(tuple(str(f) for f in i) for i in h.get("inputs") or []),
                output=tuple(str(f) for f in h.get("output") or []),
                table=None if h.get("table") is None else str(h["table"]),
                origin=tuple(str(o) for o in h.get("origin") or []),
                logic=str(h.get("logic", "")),
                upstream=str(h.get("upstream", "")),
                summary=str(h.get("summary", "")),
            )
            for h in doc.get("holders") or []
        )
        return StateFingerprint(
            flink_version=str(doc.get("flink_version", "")),
            parallelism=int(doc.get("parallelism", -1)),
            holders=holders,
            sql_digest=None if doc.get("sql_digest") is None else str(doc["sql_digest"]),
            connector_swaps=tuple(str(s) for s in doc.get("connector_swaps") or []),
            format=int(doc.get("format", 0)),
            id_scheme=str(doc.get("id_scheme", "")),
            notes=tuple(str(n) for n in doc.get("notes") or []),
        )
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, FingerprintError):
            raise
        raise FingerprintError(f"not a state fingerprint: {error}") from None
