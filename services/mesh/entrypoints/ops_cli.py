"""Operator commands: `streamwright doctor` and `streamwright dlq list|show|replay`.

`doctor` checks what the mesh needs on this machine and says how to fix what is missing.
`dlq` reads dead-letter topics with a plain consumer (assign from the beginning, no group
join, nothing committed) and republishes dead letters' original bytes to their source topic.

Records are counted by reading them: Tansu's high watermarks are wrong when one batch holds
several records, so a topic is read until it stays idle (or every partition reports EOF).

Cheap to import: Kafka, gRPC, pymongo, httpx and the codec are imported inside the commands.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer

from services import exit_codes
from services.cli_output import echo_json

if TYPE_CHECKING:
    from confluent_kafka import Consumer

    from services.mesh.settings import MeshSettings

Status = Literal["OK", "WARN", "FAIL"]
USAGE = exit_codes.USAGE
DLQ_SUFFIX = ".dlq"
DLQ_HEADER_PREFIX = "dlq."
REPLAYED_FROM = "replayed.from"
# Read a topic until no record arrived for IDLE_S (EOF_IDLE_S once every partition said EOF).
IDLE_S = 1.0
EOF_IDLE_S = 0.2
READ_TIMEOUT_S = 60.0
BROKER_TIMEOUT_S = 3.0
# Flink endpoints the router is configured with (services/router/settings.py), read from the env.
FLINK_REST_ENV = "STREAMWRIGHT_ROUTER_FLINK_REST_URL"
SQL_GATEWAY_ENV = "STREAMWRIGHT_ROUTER_SQL_GATEWAY_URL"
CONNECTOR_JARS_MODULE = "services.validator.adapters.connector_jars"
# The validator's jar directory setting (services/validator/settings.py); unset = <home>/flink-jars.
JAR_DIR_ENV = "STREAMWRIGHT_VALIDATOR_JAR_DIR"
POSTGRES_BINARIES = ("initdb", "pg_ctl", "postgres")


# --- doctor ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """The outcome of one doctor check: a status, what was found, and how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def check_python() -> Check:
    version = ".".join(str(part) for part in sys.version_info[:3])
    if sys.version_info[:2] != (3, 11):
        # Runs (requires-python >= 3.11), but requirements/lock.txt is resolved for 3.11.
        return Check(
            "python",
            "WARN",
            f"{version}: the lock is resolved for 3.11",
            "use Python 3.11 (PYTHON=python3.11)",
        )
    return Check("python", "OK", f"{version} ({sys.executable})")


def java_major(version_output: str) -> int | None:
    """The Java major version in `java -version` output ("1.8.0_402" -> 8, "17.0.15" -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> Check:
    fix = "install a Java 17+ runtime (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").is_file() else None
    java = java or shutil.which("java")
    if java is None:
        return Check("java", "FAIL", "no java on PATH or in JAVA_HOME", fix)
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Check("java", "FAIL", f"{java} -version failed: {error}", fix)
    output = proc.stderr + proc.stdout
    major = java_major(output)
    first = output.strip().splitlines()[0] if output.strip() else "no output"
    if major is None:
        return Check("java", "FAIL", f"{java}: cannot read the version ({first})", fix)
    if major < 17:
        return Check("java", "FAIL", f"{java} is Java {major}; PyFlink 2.x needs 17+", fix)
    return Check("java", "OK", f"Java {major} ({java})")


def check_pyflink() -> Check:
    # In a subprocess: the import is not free, and doctor itself must stay light.
    code = "import pyflink.table, pyflink.version; print(pyflink.version.__version__)"
    fix = "install the pinned set: scripts/bootstrap.sh (apache-flink from requirements/lock.txt)"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return Check("pyflink", "FAIL", f"import failed: {error}", fix)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return Check("pyflink", "FAIL", f"not importable: {last}", fix)
    return Check("pyflink", "OK", f"apache-flink {proc.stdout.strip()}")


def check_connector_jars(settings: MeshSettings) -> Check:
    import importlib

    try:
        jars: Any = importlib.import_module(CONNECTOR_JARS_MODULE)
    except ModuleNotFoundError:
        return Check("flink jars", "WARN", "not checked (no connector jar verifier installed)")
    configured = os.environ.get(JAR_DIR_ENV)
    jar_dir: Path = Path(configured).expanduser() if configured else jars.default_jar_dir()
    fix = ".venv/bin/python scripts/fetch_flink_jars.py (downloads and verifies the pinned jars)"
    try:
        paths: list[Path] = jars.verify_connector_jars(jar_dir)
        pins: dict[str, str] = jars.read_pins()
    except jars.ConnectorJarError as error:
        if (jar_dir / str(error.name)).is_file():
            return Check("flink jars", "FAIL", str(error), f"delete {jar_dir / str(error.name)}, then {fix}")
        return Check("flink jars", "WARN", f"{error} (exact Kafka/JDBC runs are skipped)", fix)
    sums = ", ".join(f"{p.name} sha256:{pins[p.name][:12]}" for p in paths)
    return Check("flink jars", "OK", f"{len(paths)} jars match their pins in {jar_dir}: {sums}")


def find_postgres(name: str) -> str | None:
    """A PostgreSQL binary from PATH, else from the newest /usr/lib/postgresql/<v>/bin."""
    found = shutil.which(name)
    if found is not None:
        return found
    dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    return next((str(d / name) for d in dirs if (d / name).is_file()), None)


def check_postgres() -> Check:
    found = {name: find_postgres(name) for name in POSTGRES_BINARIES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        return Check(
            "postgresql",
            "WARN",
            f"missing {', '.join(missing)} (data-accuracy runs with lookup joins are skipped)",
            "install PostgreSQL 14+ (apt-get install postgresql) or put its bin directory on PATH",
        )
    where = Path(str(found["postgres"])).parent
    return Check("postgresql", "OK", f"{', '.join(POSTGRES_BINARIES)} in {where}")


def quiet_client_config(settings: MeshSettings) -> dict[str, Any]:
    """client_config(settings) without librdkafka's connection-refused noise on stderr."""
    from services.mesh.kafka import client_config

    return {**client_config(settings), "log_level": 0, "socket.connection.setup.timeout.ms": 2000}


def check_broker(settings: MeshSettings) -> Check:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(quiet_client_config(settings))
    try:
        metadata = admin.list_topics(timeout=BROKER_TIMEOUT_S)
    except KafkaException as error:
        return Check(
            "broker",
            "FAIL",
            f"{settings.bootstrap_servers} unreachable ({error.args[0].str() if error.args else error})",
            "start one (streamwright broker, or streamwright up) or set STREAMWRIGHT_BOOTSTRAP_SERVERS",
        )
    mine = [t for t in metadata.topics if t.startswith(settings.topic_prefix)]
    return Check(
        "broker",
        "OK",
        f"{settings.bootstrap_servers}: {len(metadata.brokers)} broker(s), {len(mine)} mesh topics",
    )


def check_store(settings: MeshSettings) -> Check:
    fix = "set STREAMWRIGHT_HOME to a directory this user can write"
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.home, prefix=".doctor-") as handle:
            handle.write(b"ok")
            handle.flush()
    except OSError as error:
        return Check("home", "FAIL", f"{settings.home} is not writable: {error}", fix)
    return Check("home", "OK", f"{settings.home} writable")


def check_mongodb(settings: MeshSettings) -> Check:
    if settings.mongodb_url is None or not settings.mongodb_url.get_secret_value():
        return Check("mongodb", "OK", "not configured: stores are SQLite files under home")
    from services.mesh.extras import installed
    from services.mesh.settings import MONGODB_EXTRA_HINT

    if not installed("pymongo"):
        return Check("mongodb", "FAIL", MONGODB_EXTRA_HINT, "pip install 'streamwright[mongodb]'")
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    fix = "start MongoDB or correct STREAMWRIGHT_MONGODB_URL"
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(
            settings.mongodb_url.get_secret_value(), serverSelectionTimeoutMS=2000
        )
    except (PyMongoError, ValueError) as error:
        return Check("mongodb", "FAIL", f"bad STREAMWRIGHT_MONGODB_URL: {error}", fix)
    try:
        client.admin.command("ping")
    except PyMongoError as error:
        return Check("mongodb", "FAIL", f"unreachable: {str(error).splitlines()[0][:200]}", fix)
    finally:
        client.close()
    return Check("mongodb", "OK", f"reachable, database {settings.mongodb_database!r}")


def check_auth(settings: MeshSettings) -> Check:
    """gRPC auth: WARN when turned off, FAIL when the token file cannot be used."""
    from services.mesh.auth import auth_enabled, token_file
    from services.mesh.settings import SettingsError

    if not auth_enabled(settings):
        return Check(
            "grpc auth",
            "WARN",
            "OFF (STREAMWRIGHT_GRPC_AUTH=off): any local process can approve, reject, cancel, stop and roll back",
            "unset STREAMWRIGHT_GRPC_AUTH (auth is on by default)",
        )
    path = token_file(settings)
    if not path.exists():
        return Check("grpc auth", "OK", f"on; the installation token is created in {path} on first start")
    from services.mesh.auth import installation_token

    try:
        installation_token(settings)
    except SettingsError as error:
        return Check("grpc auth", "FAIL", str(error), f"chmod 600 {path}, or delete it to get a new token")
    extra = len(settings.grpc_tokens) + (1 if settings.grpc_token is not None else 0)
    return Check(
        "grpc auth",
        "OK",
        f"on; installation token {path} (0600){f', {extra} more token(s)' if extra else ''}",
    )


def check_services(settings: MeshSettings) -> Check:
    """gRPC health of each service on its default port: informative, never FAIL."""
    from services.mesh.grpc_client import check_health
    from services.mesh.service import DEFAULT_PORTS

    host = "127.0.0.1" if settings.grpc_host in ("0.0.0.0", "::", "") else settings.grpc_host  # noqa: S104

    async def probe_all() -> list[bool]:
        probes = [check_health(f"{host}:{grpc}", settings, timeout=1.0) for grpc, _ in DEFAULT_PORTS.values()]
        results = await asyncio.gather(*probes, return_exceptions=True)
        return [result is True for result in results]

    results = dict(zip(DEFAULT_PORTS, asyncio.run(probe_all()), strict=True))
    serving = [f"{name} :{DEFAULT_PORTS[name][0]}" for name, ok in results.items() if ok]
    down = [f"{name} :{DEFAULT_PORTS[name][0]}" for name, ok in results.items() if not ok]
    if not down:
        return Check("services", "OK", f"all SERVING on {host}: {', '.join(serving)}")
    detail = f"not serving on {host}: {', '.join(down)}" + (
        f"; SERVING: {', '.join(serving)}" if serving else ""
    )
    return Check("services", "WARN", detail, "start them: streamwright up (informative only)")


def http_json(url: str, timeout: float = 3.0) -> Any:
    """GET `url`'s JSON; OSError when it cannot be had (unreachable, not 2xx), ValueError when
    the answer is not JSON."""
    import httpx

    from services.mesh.httpclient import tls_context

    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    try:
        response = httpx.get(
            url,
            timeout=timeout,
            follow_redirects=True,
            headers={"Accept": "application/json"},
            verify=tls_context(),
        )
    except httpx.HTTPError as error:
        raise OSError(str(error) or type(error).__name__) from None
    if response.is_error:
        raise OSError(f"HTTP {response.status_code} {response.reason_phrase}")
    return json.loads(response.content)


def check_flink() -> list[Check]:
    endpoints = ((FLINK_REST_ENV, "flink rest", "/overview"), (SQL_GATEWAY_ENV, "sql gateway", "/v1/info"))
    checks = []
    for env, name, path in endpoints:
        base = os.environ.get(env, "").rstrip("/")
        if not base:
            checks.append(Check(name, "OK", f"not configured ({env})"))
            continue
        try:
            answer = http_json(base + path)
        except (OSError, ValueError) as error:
            checks.append(Check(name, "FAIL", f"{base}: {error}", f"start it or correct {env}"))
            continue
        version = answer.get("flink-version") or answer.get("version") if isinstance(answer, dict) else None
        checks.append(Check(name, "OK", f"{base}: Flink {version or '(version unknown)'}"))
    return checks


def run_checks(settings: MeshSettings | None, error: str | None) -> Iterator[Check]:
    yield check_python()
    yield check_java()
    yield check_pyflink()
    if settings is None:
        yield Check("settings", "FAIL", str(error), "correct the STREAMWRIGHT_* variable named above")
        return
    yield check_auth(settings)
    yield check_connector_jars(settings)
    yield check_postgres()
    yield check_broker(settings)
    yield check_store(settings)
    yield check_mongodb(settings)
    yield check_services(settings)
    yield from check_flink()


def doctor(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the checks as one JSON document (ok, checks).")
    ] = False,
) -> None:
    """Check this machine for what the mesh needs; exit 1 when anything FAILs."""
    settings, error = _try_settings()
    failed = False
    checks: list[Check] = []
    for check in run_checks(settings, error):
        checks.append(check)
        failed = failed or check.status == "FAIL"
        if as_json:
            continue  # printed at the end, as one document
        typer.echo(f"{check.status:<4}  {check.name:<14} {check.detail}")
        if check.fix and check.status != "OK":
            typer.echo(f"{'':<20} fix: {check.fix}")
    if as_json:
        echo_json(
            {
                "ok": not failed,
                "checks": [
                    {"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix or None}
                    for c in checks
                ],
            }
        )
    raise typer.Exit(exit_codes.FAILED if failed else exit_codes.OK)


# --- dead-letter topics ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, as read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        found = [raw for key, raw in self.headers if key == name]
        return found[-1].decode(errors="replace") if found else None

    @property
    def where(self) -> str:
        return f"p{self.partition}@{self.offset}"


def _try_settings() -> tuple[MeshSettings | None, str | None]:
    from pydantic import ValidationError

    from services.mesh.settings import MeshSettings

    try:
        return MeshSettings(), None
    except ValidationError as exc:
        problems = "; ".join(
            f"STREAMWRIGHT_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        return None, f"invalid settings: {problems}"


def _settings_or_exit() -> MeshSettings:
    settings, error = _try_settings()
    if settings is None:
        _die(str(error), USAGE)
    return settings


def _die(message: str, code: int = exit_codes.FAILED) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def reader_consumer(settings: MeshSettings) -> Consumer:
    from confluent_kafka import Consumer

    return Consumer(
        {
            **quiet_client_config(settings),
            # Never joined (assign only) and never committed: the id only has to be unique.
            "group.id": f"streamwright-dlq-reader-{os.getpid()}-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": settings.fetch_wait_max_ms,
        }
    )


def _topics(consumer: Consumer, settings: MeshSettings) -> dict[str, list[int]]:
    """Every topic on the cluster with its partition ids; exit 3 when the broker is unreachable."""
    from confluent_kafka import KafkaException

    try:
        metadata = consumer.list_topics(timeout=BROKER_TIMEOUT_S * 2)
    except KafkaException as error:
        _die(f"broker {settings.bootstrap_servers} unreachable: {error}", exit_codes.UNAVAILABLE)
    return {name: sorted(meta.partitions) for name, meta in metadata.topics.items()}


def read_records(
    consumer: Consumer, partitions: dict[str, list[int]], *, stop: Callable[[int], bool] | None = None
) -> list[DeadLetter]:
    """Every record of the given topic partitions, from the beginning, until they stay idle."""
    from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

    assignment = [TopicPartition(t, p, OFFSET_BEGINNING) for t, ps in partitions.items() for p in ps]
    if not assignment:
        return []
    consumer.assign(assignment)
    records: list[DeadLetter] = []
    at_eof: set[tuple[str, int]] = set()
    started = last = time.monotonic()
    while True:
        now = time.monotonic()
        idle = now - last
        if idle >= IDLE_S or (len(at_eof) == len(assignment) and idle >= EOF_IDLE_S):
            break
        if stop is not None and stop(len(records)):
            break
        if now - started > READ_TIMEOUT_S:
            typer.echo(f"warning: stopped reading after {READ_TIMEOUT_S:.0f} s; counts are partial", err=True)
            break
        message = consumer.poll(0.05)
        if message is None:
            continue
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                at_eof.add((message.topic() or "", message.partition() or 0))
            continue
        last = time.monotonic()
        at_eof.discard((message.topic() or "", message.partition() or 0))
        records.append(
            DeadLetter(
                topic=message.topic() or "",
                partition=message.partition() or 0,
                offset=message.offset() or 0,
                key=message.key(),
                value=message.value() or b"",
                headers=[(k, v) for k, v in (message.headers() or []) if isinstance(v, bytes)],
            )
        )
    return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))


def _resolve_dlq(name: str, settings: MeshSettings, topics: dict[str, list[int]]) -> str:
    """The DLQ topic named `name` (with or without the topic prefix); exit 2 when there is none."""
    for candidate in (name, settings.topic_prefix + name):
        if candidate in topics:
            if not candidate.endswith(DLQ_SUFFIX):
                _die(f"{candidate} is not a dead-letter topic (those end in {DLQ_SUFFIX})", USAGE)
            return candidate
    known = ", ".join(sorted(t for t in topics if t.endswith(DLQ_SUFFIX))) or "none"
    _die(f"no topic {name!r} on {settings.bootstrap_servers}; dead-letter topics: {known}", USAGE)


def decode_value(value: bytes, settings: MeshSettings) -> tuple[dict[str, str] | None, str | None]:
    """A mesh event's type and ids when the bytes decode as one, else None and why not."""
    from services.mesh.avro import DecodeError, RegistryError, codec_from_settings

    try:
        event = codec_from_settings(settings).decode(value)
    except DecodeError as error:
        return None, f"undecodable: {error.reason}"
    except RegistryError as error:
        return None, f"not decoded (schema registry: {error})"
    envelope = event.envelope
    return {"event_type": envelope.event_type, "event_id": envelope.event_id, "run_id": envelope.run_id}, None


def describe_value(value: bytes, settings: MeshSettings) -> str:
    """The event type of the bytes when they decode as a mesh event, else why they do not."""
    event, error = decode_value(value, settings)
    if event is None:
        return str(error)
    return f"{event['event_type']} (event_id {event['event_id']}, run {event['run_id']})"


_JSON_OPTION = typer.Option("--json", help="Print the result as one JSON document.")


def dlq_list(as_json: Annotated[bool, _JSON_OPTION] = False) -> None:
    """List dead-letter topics with their record counts (counted by reading them)."""
    settings = _settings_or_exit()
    consumer = reader_consumer(settings)
    try:
        topics = _topics(consumer, settings)
        dlqs = {
            t: ps
            for t, ps in topics.items()
            if t.endswith(DLQ_SUFFIX) and t.startswith(settings.topic_prefix)
        }
        records = read_records(consumer, dlqs)
    finally:
        consumer.close()
    counts = {t: 0 for t in dlqs}
    for record in records:
        counts[record.topic] += 1
    if as_json:
        echo_json(
            {
                "bootstrap_servers": settings.bootstrap_servers,
                "topics": [{"topic": t, "records": n} for t, n in sorted(counts.items())],
            }
        )
        return
    if not dlqs:
        typer.echo(f"no dead-letter topics on {settings.bootstrap_servers}")
        return
    width = max(len(t) for t in counts)
    for topic, count in sorted(counts.items()):
        typer.echo(f"{topic:<{width}}  {count:>6} record{'s' if count != 1 else ''}")


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def record_json(record: DeadLetter, settings: MeshSettings) -> dict[str, Any]:
    """One dead letter as `dlq show --json` prints it: the same facts as the text, typed."""
    from services.mesh import consumer as mesh_consumer

    h = record.header
    event, decode_error = decode_value(record.value, settings)
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "reason": h(mesh_consumer.H_REASON),
        "kind": h(mesh_consumer.H_KIND),
        "attempts": _int_or_none(h(mesh_consumer.H_ATTEMPTS)),
        "source": {
            "topic": h(mesh_consumer.H_SOURCE_TOPIC),
            "partition": _int_or_none(h(mesh_consumer.H_SOURCE_PARTITION)),
            "offset": _int_or_none(h(mesh_consumer.H_SOURCE_OFFSET)),
        },
        "group": h(mesh_consumer.H_GROUP),
        "service": h(mesh_consumer.H_SERVICE),
        "key": record.key.decode(errors="replace") if record.key is not None else None,
        "size": len(record.value),
        "event": event,
        "decode_error": decode_error,
    }


def _show_record(record: DeadLetter, settings: MeshSettings) -> None:
    from services.mesh import consumer as mesh_consumer

    h = record.header
    source = f"{h(mesh_consumer.H_SOURCE_TOPIC)} p{h(mesh_consumer.H_SOURCE_PARTITION)}@{h(mesh_consumer.H_SOURCE_OFFSET)}"
    key = record.key.decode(errors="replace") if record.key is not None else "(none)"
    typer.echo(f"{record.topic} {record.where}")
    typer.echo(f"  reason:   {h(mesh_consumer.H_REASON)}")
    typer.echo(f"  kind:     {h(mesh_consumer.H_KIND)}  attempts: {h(mesh_consumer.H_ATTEMPTS)}")
    typer.echo(f"  source:   {source}")
    typer.echo(f"  group:    {h(mesh_consumer.H_GROUP)}  service: {h(mesh_consumer.H_SERVICE)}")
    typer.echo(f"  key:      {key}")
    typer.echo(f"  size:     {len(record.value)} bytes")
    typer.echo(f"  event:    {describe_value(record.value, settings)}")


def dlq_show(
    topic: Annotated[str, typer.Argument(help="Dead-letter topic (e.g. sw.sql.generated.dlq).")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most N records.")] = 20,
    as_json: Annotated[bool, _JSON_OPTION] = False,
) -> None:
    """Show the records of a dead-letter topic: why, from where, and what they hold."""
    settings = _settings_or_exit()
    consumer = reader_consumer(settings)
    try:
        topics = _topics(consumer, settings)
        name = _resolve_dlq(topic, settings, topics)
        records = read_records(consumer, {name: topics[name]}, stop=lambda n: n >= limit)[:limit]
    finally:
        consumer.close()
    if as_json:
        echo_json({"topic": name, "records": [record_json(r, settings) for r in records]})
        return
    if not records:
        typer.echo(f"{name}: empty")
    for record in records:
        _show_record(record, settings)


def _select(records: list[DeadLetter], offset: int | None, partition: int | None) -> list[DeadLetter]:
    if offset is None:
        return records
    chosen = [r for r in records if r.offset == offset and partition in (None, r.partition)]
    if not chosen:
        _die(
            f"no record at offset {offset}{'' if partition is None else f' in partition {partition}'}", USAGE
        )
    if len(chosen) > 1:
        where = ", ".join(r.where for r in chosen)
        _die(f"offset {offset} exists in several partitions ({where}); add --partition", USAGE)
    return chosen


def _replay(
    records: list[DeadLetter], settings: MeshSettings, *, echo: bool = True
) -> tuple[list[DeadLetter], list[str]]:
    """Publish each record's original bytes, key and headers to its source topic.

    Returns the records that were acknowledged, and an error per record that was not."""
    from confluent_kafka import KafkaError, Message, Producer

    from services.mesh.consumer import H_SOURCE_TOPIC

    producer = Producer({**quiet_client_config(settings), "enable.idempotence": True, "acks": "all"})
    errors: list[str] = []
    done: list[DeadLetter] = []

    def delivered(record: DeadLetter) -> Callable[[KafkaError | None, Message], None]:
        def callback(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                errors.append(f"{record.where}: delivery failed: {error.str()}")
            else:
                done.append(record)
                if echo:
                    target = record.header(H_SOURCE_TOPIC)
                    typer.echo(f"replayed {record.where} -> {target} ({len(record.value)} bytes)")

        return callback

    for record in records:
        headers = [(k, v) for k, v in record.headers if not k.startswith(DLQ_HEADER_PREFIX)]
        headers.append((REPLAYED_FROM, f"{record.topic}/{record.where}".encode()))
        producer.produce(
            str(record.header(H_SOURCE_TOPIC)),
            value=record.value,
            key=record.key,
            headers=headers,
            on_delivery=delivered(record),
        )
        producer.poll(0)
    left = producer.flush(30)
    if left:
        errors.append(f"{left} record(s) not acknowledged within 30 s")
    return done, errors


def _replay_json(
    name: str, chosen: list[DeadLetter], replayed: list[DeadLetter] | None, errors: list[str]
) -> dict[str, Any]:
    """`dlq replay --json`: what was (or, with `published` false, would be) replayed where."""
    from services.mesh.consumer import H_SOURCE_TOPIC

    done = {(r.partition, r.offset) for r in replayed or ()}
    return {
        "topic": name,
        "published": replayed is not None,
        "records": [
            {
                "partition": r.partition,
                "offset": r.offset,
                "target": r.header(H_SOURCE_TOPIC),
                "size": len(r.value),
                "replayed": (r.partition, r.offset) in done,
            }
            for r in chosen
        ],
        "replayed": len(done),
        "errors": errors,
    }


def _list_replay(name: str, chosen: list[DeadLetter], as_json: bool) -> None:
    """Nothing to replay, or no --yes: list what would be replayed (exit 2 when not nothing)."""
    from services.mesh.consumer import H_SOURCE_TOPIC

    if as_json:  # the dry run's listing is the result; the refusal stays an error (exit 2)
        echo_json(_replay_json(name, chosen, None, []))
    elif not chosen:
        typer.echo(f"{name}: empty, nothing to replay")
    else:
        for record in chosen:
            typer.echo(f"would replay {record.where} -> {record.header(H_SOURCE_TOPIC)}")
    if not chosen:
        raise typer.Exit(exit_codes.OK)
    _die(f"refusing to publish {len(chosen)} record(s) without --yes", USAGE)


def dlq_replay(  # noqa: PLR0917 - typer options
    topic: Annotated[str, typer.Argument(help="Dead-letter topic to replay from.")],
    offset: Annotated[
        int | None, typer.Option("--offset", min=0, help="Replay the record at this offset.")
    ] = None,
    partition: Annotated[
        int | None, typer.Option("--partition", min=0, help="Partition of --offset (when ambiguous).")
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every record of the topic.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Really publish (else only list them).")] = False,
    as_json: Annotated[bool, _JSON_OPTION] = False,
) -> None:
    """Republish dead letters' original bytes and key to the topic they came from."""
    from services.mesh.consumer import H_SOURCE_TOPIC

    if (offset is None) == (not replay_all):
        _die("give exactly one of --offset N or --all", USAGE)
    if partition is not None and offset is None:
        _die("--partition goes with --offset", USAGE)
    settings = _settings_or_exit()
    consumer = reader_consumer(settings)
    try:
        topics = _topics(consumer, settings)
        name = _resolve_dlq(topic, settings, topics)
        chosen = _select(read_records(consumer, {name: topics[name]}), offset, partition)
    finally:
        consumer.close()
    unroutable = [r.where for r in chosen if r.header(H_SOURCE_TOPIC) not in topics]
    if unroutable:
        _die(f"no existing source topic in the {H_SOURCE_TOPIC} header of {', '.join(unroutable)}")
    if not chosen or not yes:
        _list_replay(name, chosen, as_json)
    replayed, errors = _replay(chosen, settings, echo=not as_json)
    for error in errors:
        typer.echo(f"error: {error}", err=True)
    if as_json:
        echo_json(_replay_json(name, chosen, replayed, errors))
    else:
        typer.echo(f"{len(replayed)} of {len(chosen)} record(s) replayed from {name}")
    if errors:
        raise typer.Exit(exit_codes.FAILED)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
    dlq = typer.Typer(help="Inspect and replay dead-letter topics.", no_args_is_help=True)
    dlq.command("list")(dlq_list)
    dlq.command("show")(dlq_show)
    dlq.command("replay")(dlq_replay)
    app.add_typer(dlq, name="dlq")
