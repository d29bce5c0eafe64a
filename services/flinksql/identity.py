"""Physical identity: which physical table (topic, path, index) a table's connector options name.

Two DDLs name one physical table when their connector reaches the same place, whatever the
Flink table is called; two DDLs with one name may reach different places. The identity is
derived from a DDL's WITH clause (the knowledge base keeps it as `KbTable.options`) every time
it is needed and is never stored, so records written before it existed get one too, and a
better normalisation applies to all of them at once. It lives in the kernel because two
services name tables by it: the knowledge base (findings, impact) and the generator (the
OpenLineage dataset names of a job's lineage, services/flinksql/openlineage.py).

An identity is `system`, `servers`, `kind` and `path`, close to OpenLineage's dataset naming
(namespace `scheme://host:port`, name `database.schema.table`):

- jdbc: the URL's subprotocol (mariadb is mysql), its hosts (lower-case, default port
  added, user info dropped) and the table: mysql `database.table` (Flink's MySQL dialect
  quotes `table-name` whole, so a dot is part of the name); postgresql
  `database.schema.table` (schema: the one `table-name` names, else the URL's `currentSchema`,
  else `public`); sqlserver `database.schema.table` (schema `dbo`); oracle
  `service.schema.table`; db2 `database.schema.table`; others `database.<table-name>`.
  Query parameters are dropped except `currentSchema` (postgresql) and `databaseName`
  (sqlserver), the only ones that move the table.
- kafka and upsert-kafka (one system: the same topic either way): the bootstrap servers and
  the topics (`topic`, a `;` list) or `topic-pattern`.
- filesystem: `scheme://authority` and the normalised path.
- hologres is PostgreSQL-compatible: system postgresql, `endpoint`, `dbname.schema.table`.
- odps (MaxCompute): `endpoint`, `project.tableName`. elasticsearch-N / opensearch: `hosts`,
  `index`. hbase-N: `zookeeper.quorum` (+ `zookeeper.znode.parent`), `namespace:table`.
  mongodb: `uri` hosts, `database.collection`.
- anything else (datagen, print, blackhole, a connector not listed), or options that lack
  what identifies the table or hold a `${secret:...}` there: no identity, so the table is
  known by its name only and no identity finding is made for it.

Case: names are compared as the system compares them. Unquoted identifiers fold to lower case
in PostgreSQL (Flink's PostgreSQL dialect does not quote `table-name`) and to upper case in
Oracle and DB2; quoted ones keep their case. MySQL folds to lower case: table-name case
sensitivity is a server setting (`lower_case_table_names`, 1 on most managed servers), and
two tables whose names differ only by case are a mistake worth reporting either way.
SQL Server folds (default collations are case-insensitive). Kafka topics, file paths, HBase,
MongoDB and unknown JDBC systems (ClickHouse ...) keep their case. Host names are lower-case.

Credentials are never part of an identity: user info in a URL, `user`/`password` parameters
and `username`/`password` options are never read into it. An identity may be shown in
findings, reports and events, so it must hold nothing secret.

Matching (`same_place`): same system, kind and path, and the servers meet: equal, sharing an
endpoint (a broker or host belongs to one cluster, so `b1:9092` and `b1:9092,b2:9092` are
one Kafka cluster), or not named on one side (the connector's default). A path part that is
empty (a database the URL does not name, an Oracle schema left to the user) matches any.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PhysicalIdentity:
    system: str  # mysql, postgresql, sqlserver, oracle, db2, kafka, filesystem, odps, ...
    servers: tuple[str, ...]  # sorted endpoints; () = the connector's default (not named)
    kind: str  # table, topic, topic-pattern, path, index, collection
    path: tuple[str, ...]  # the object: database/schema/table parts, topics, one path

    @property
    def name(self) -> str:
        """The object's name as one text: `db.schema.table`, `topic-a;topic-b`, a path."""
        joiner = ";" if self.kind == "topic" else "."
        return joiner.join(part or "?" for part in self.path)

    @property
    def where(self) -> str:
        return ",".join(self.servers) if self.servers else "(default)"

    def __str__(self) -> str:
        """`mysql://db-1:3306 table trade_dim.dim_city`, `kafka://b1:9092 topic orders`."""
        return f"{self.system}://{self.where} {self.kind} {self.name}"


def _parts_match(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return len(a) == len(b) and all(x == y or not x or not y for x, y in zip(a, b, strict=True))


def _servers_meet(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return not a or not b or bool(set(a) & set(b))


def same_place(a: PhysicalIdentity, b: PhysicalIdentity) -> bool:
    """Whether two identities name one physical table (see the module docstring)."""
    return (
        a.system == b.system
        and a.kind == b.kind
        and _parts_match(a.path, b.path)
        and _servers_meet(a.servers, b.servers)
    )


def differences(a: PhysicalIdentity, b: PhysicalIdentity) -> list[str]:
    """What differs between two identities, `a`'s value first, for a finding's text."""
    if a.system != b.system:
        return [f"system {a.system} vs {b.system}"]
    found: list[str] = []
    if not _servers_meet(a.servers, b.servers):
        found.append(f"server {a.where} vs {b.where}")
    if a.kind != b.kind:
        found.append(f"{a.kind} {a.name} vs {b.kind} {b.name}")
    elif not _parts_match(a.path, b.path):
        found.append(f"{a.kind} {a.name} vs {b.name}")
    return found


# ---------------------------------------------------------------- reading options


def identity_of(options: Mapping[str, str]) -> PhysicalIdentity | None:
    """The identity a WITH clause names; None for connectors without one or missing options."""
    opts = {key.strip().lower(): value.strip() for key, value in options.items()}
    connector = opts.get("connector", "").lower()
    reader = _READERS.get(connector)
    if reader is None:
        reader = next((r for pattern, r in _FAMILIES if pattern.fullmatch(connector)), None)
    if reader is None:
        return None
    # A value that is a secret reference (or holds one) says nothing of the place: unknown.
    return reader({key: ("" if "${" in value else value) for key, value in opts.items()})


_DEFAULT_PORTS = {
    "mysql": "3306", "postgresql": "5432", "sqlserver": "1433", "oracle": "1521", "db2": "50000",
    "clickhouse": "8123", "kafka": "9092", "elasticsearch": "9200", "hbase": "2181",
    "mongodb": "27017",
}  # fmt: skip
_JDBC_SYSTEMS = {"mariadb": "mysql", "pgsql": "postgresql", "ch": "clickhouse"}
# How unquoted names compare: folded to lower or upper case, or kept (exact).
_FOLD: dict[str, Callable[[str], str]] = {
    "mysql": str.lower,
    "sqlserver": str.lower,
    "postgresql": str.lower,
    "oracle": str.upper,
    "db2": str.upper,
}
_QUOTED_KEEP_CASE = frozenset({"postgresql", "oracle", "db2"})  # quoted names keep their case
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+._-]*://")  # also Kafka listener names (SASL_SSL://)


def _endpoint(text: str, default_port: str | None) -> str:
    """`host[:port]` without scheme or user info, lower-case, with the default port."""
    host = _SCHEME.sub("", text.strip()).rsplit("@", 1)[-1].split("/", 1)[0].strip().lower()
    if not host:
        return ""
    bracket = host.rfind("]")
    has_port = ":" in host[bracket + 1 :] if bracket >= 0 else ":" in host
    return host if has_port or default_port is None else f"{host}:{default_port}"


def _endpoints(texts: list[str], default_port: str | None) -> tuple[str, ...]:
    return tuple(sorted({e for t in texts if (e := _endpoint(t, default_port))}))


def _split_identifier(text: str) -> list[tuple[str, bool]]:
    """`a."B".[c]` -> [(a, False), (B, True), (c, True)]: parts split on dots outside quotes."""
    parts: list[tuple[str, bool]] = []
    current, quoted, closing = "", False, ""
    for char in text.strip():
        if closing:
            if char == closing:
                closing = ""
            else:
                current += char
        elif char in '"`[':
            closing, quoted = ("]" if char == "[" else char), True
        elif char == ".":
            parts.append((current.strip(), quoted))
            current, quoted = "", False
        else:
            current += char
    parts.append((current.strip(), quoted))
    return parts


def _names(text: str, system: str) -> list[str]:
    fold = _FOLD.get(system)
    keep_quoted = system in _QUOTED_KEEP_CASE
    return [
        name if fold is None or (quoted and keep_quoted) else fold(name)
        for name, quoted in _split_identifier(text)
    ]


def _one_name(text: str, system: str) -> str:
    return _names(text, system)[0] if text else ""


# ---------------------------------------------------------------- jdbc


@dataclass(frozen=True, slots=True)
class _Url:
    servers: tuple[str, ...]
    database: str
    params: dict[str, str]  # lower-case keys; only the ones that move the table


_KEPT_PARAMS = frozenset({"currentschema", "databasename", "database"})


def _params(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in re.split(r"[&;]", text):
        key, sep, value = item.partition("=")
        if sep and key.strip().lower() in _KEPT_PARAMS:
            found[key.strip().lower()] = value.strip()
    return found


def _authority_url(system: str, rest: str) -> _Url:
    """`//hosts/database?params` (any `loadbalance:`-like word before `//` dropped)."""
    slashes = rest.find("//")
    if slashes < 0 or not re.fullmatch(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)*", rest[:slashes]):
        # `jdbc:postgresql:db` (local server) or a shape we do not read: no servers named.
        database = re.split(r"[?;]", rest, maxsplit=1)[0].strip("/")
        local = (f"localhost:{_DEFAULT_PORTS[system]}",) if system == "postgresql" else ()
        return _Url(local, database, {})
    body = rest[slashes + 2 :]
    end = len(body)
    for stop in "/?;#":
        index = body.find(stop)
        if 0 <= index < end:
            end = index
    authority, tail = body[:end], body[end:]
    servers = _endpoints(authority.rsplit("@", 1)[-1].split(","), _DEFAULT_PORTS.get(system))
    database, params = "", {}
    if tail.startswith("/"):
        database = re.split(r"[?;#]", tail[1:], maxsplit=1)[0]
    if system == "db2" and ":" in database:  # `db:prop=value;prop=value;`
        database, props = database.split(":", 1)
        params = _params(props + tail[len(database) + len(props) + 2 :])
    elif split := re.search(r"[?;]", tail):
        params = _params(tail[split.end() :])
    return _Url(servers, database, params)


def _oracle_url(rest: str) -> _Url:
    """`thin:@host:port:SID`, `thin:@//host:port/service`, `thin:user/x@...`, TNS descriptors."""
    target = rest.rsplit("@", 1)[1] if "@" in rest else rest.split(":", 1)[-1]
    target = target.split("?", 1)[0].strip()
    if target.startswith("(") or not re.search(r"[:/]", target):
        # A TNS descriptor or alias: the whole of it, without spaces, is the place.
        return _Url((re.sub(r"\s+", "", target).lower(),), "", {})
    target = _SCHEME.sub("", target.removeprefix("//"))
    host, sep, service = target.partition("/")
    if not sep:  # host:port:SID
        pieces = target.split(":")
        host, service = (":".join(pieces[:2]), pieces[2]) if len(pieces) >= 3 else (target, "")
    return _Url(_endpoints([host], _DEFAULT_PORTS["oracle"]), service.upper(), {})


def _jdbc_path(system: str, url: _Url, table: str) -> tuple[str, ...]:
    if system == "mysql":  # the dialect quotes `table-name` whole: one name in the URL's database
        return (url.database.lower(), table.strip("`").lower())
    parts = _names(table, system)
    name = parts[-1]
    if system == "postgresql":
        default = _one_name(url.params.get("currentschema", "").split(",")[0], system) or "public"
        return (url.database, parts[-2] if len(parts) > 1 else default, name)
    if system == "sqlserver":
        named = url.params.get("databasename") or url.params.get("database", "")
        database = parts[-3] if len(parts) > 2 else _one_name(named, system)
        return (database, parts[-2] if len(parts) > 1 else "dbo", name)
    if system == "oracle":  # an unqualified name is in the connecting user's schema: unknown here
        return (url.database, parts[-2] if len(parts) > 1 else "", name)
    if system == "db2":
        default = _one_name(url.params.get("currentschema", ""), system)
        return (url.database.upper(), parts[-2] if len(parts) > 1 else default, name)
    return (url.database, *parts)


def _jdbc(opts: dict[str, str]) -> PhysicalIdentity | None:
    url, table = opts.get("url", ""), opts.get("table-name", "")
    if not url.lower().startswith("jdbc:") or not table:
        return None
    subprotocol, _, rest = url[5:].partition(":")
    system = _JDBC_SYSTEMS.get(subprotocol.lower(), subprotocol.lower())
    if not system:
        return None
    parsed = _oracle_url(rest) if system == "oracle" else _authority_url(system, rest)
    return PhysicalIdentity(system, parsed.servers, "table", _jdbc_path(system, parsed, table))


# ---------------------------------------------------------------- other connectors


def _kafka(opts: dict[str, str]) -> PhysicalIdentity | None:
    servers = _endpoints(opts.get("properties.bootstrap.servers", "").split(","), _DEFAULT_PORTS["kafka"])
    topics = tuple(sorted({t.strip() for t in opts.get("topic", "").split(";") if t.strip()}))
    if topics:
        return PhysicalIdentity("kafka", servers, "topic", topics)
    pattern = opts.get("topic-pattern", "")
    return PhysicalIdentity("kafka", servers, "topic-pattern", (pattern,)) if pattern else None


def _filesystem(opts: dict[str, str]) -> PhysicalIdentity | None:
    path = opts.get("path", "")
    if not path:
        return None
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):(//[^/]*)?", path)
    servers: tuple[str, ...] = ()
    if match:
        servers = (f"{match.group(1).lower()}:{(match.group(2) or '').lower()}",)
        path = path[match.end() :]
    normal = posixpath.normpath(path or "/")
    normal = "/" + normal.lstrip("/") if normal.startswith("//") else normal  # normpath keeps a leading //
    return PhysicalIdentity("filesystem", servers, "path", (normal,))


def _hologres(opts: dict[str, str]) -> PhysicalIdentity | None:
    endpoint, database, table = opts.get("endpoint", ""), opts.get("dbname", ""), opts.get("tablename", "")
    if not table:
        return None
    parts = _names(table, "postgresql")
    schema = parts[-2] if len(parts) > 1 else "public"
    return PhysicalIdentity(
        "postgresql", _endpoints([endpoint], None), "table", (database, schema, parts[-1])
    )


def _odps(opts: dict[str, str]) -> PhysicalIdentity | None:
    project, table = opts.get("project", ""), opts.get("tablename", "")
    if not project or not table:
        return None
    endpoint = opts.get("endpoint", "")
    servers = (_SCHEME.sub("", endpoint).lower().rstrip("/"),) if endpoint else ()
    return PhysicalIdentity(
        "odps", servers, "table", (project.lower(), *(p.lower() for p in table.split(".")))
    )


def _elasticsearch(opts: dict[str, str]) -> PhysicalIdentity | None:
    index = opts.get("index", "")
    if not index:
        return None
    servers = _endpoints(opts.get("hosts", "").split(";"), _DEFAULT_PORTS["elasticsearch"])
    return PhysicalIdentity("elasticsearch", servers, "index", (index.lower(),))


def _hbase(opts: dict[str, str]) -> PhysicalIdentity | None:
    table = opts.get("table-name", "")
    if not table:
        return None
    parent = opts.get("zookeeper.znode.parent", "/hbase").rstrip("/") or "/hbase"
    quorum = _endpoints(opts.get("zookeeper.quorum", "").split(","), _DEFAULT_PORTS["hbase"])
    namespace, _, name = table.rpartition(":")
    return PhysicalIdentity(
        "hbase", tuple(f"{q}{parent}" for q in quorum), "table", (namespace or "default", name)
    )


def _mongodb(opts: dict[str, str]) -> PhysicalIdentity | None:
    database, collection = opts.get("database", ""), opts.get("collection", "")
    if not database or not collection:
        return None
    uri = opts.get("uri", "")
    hosts = re.split(r"[/?]", _SCHEME.sub("", uri).rsplit("@", 1)[-1], maxsplit=1)[0] if uri else ""
    srv = uri.lower().startswith("mongodb+srv://")
    servers = _endpoints(hosts.split(","), None if srv else _DEFAULT_PORTS["mongodb"])
    return PhysicalIdentity("mongodb", servers, "collection", (database, collection))


_READERS: dict[str, Callable[[dict[str, str]], PhysicalIdentity | None]] = {
    "jdbc": _jdbc,
    "kafka": _kafka,
    "upsert-kafka": _kafka,
    "filesystem": _filesystem,
    "hologres": _hologres,
    "odps": _odps,
    "mongodb": _mongodb,
}
_FAMILIES: tuple[tuple[re.Pattern[str], Callable[[dict[str, str]], PhysicalIdentity | None]], ...] = (
    (re.compile(r"elasticsearch-\d+|opensearch(-\d+)?"), _elasticsearch),
    (re.compile(r"hbase-[\d.]+"), _hbase),
)
