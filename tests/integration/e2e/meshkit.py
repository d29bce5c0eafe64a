"""What the whole-mesh tests share: a running mesh, its clients, examples under new domains, topics.

    with running_mesh(home, {"STREAMWRIGHT_ROUTER_OUTPUT_DIR": str(out)}) as supervisor:
        ...                                   # a module fixture yields the supervisor
    async with MeshClient(supervisor) as mesh:
        job = example("orders").renamed("orders_a")
        sub = await mesh.submit(job, key="orders-a")
        run = await mesh.settled(sub.run_id, 300)
    completed = await completions(mesh.wire, [sub.run_id])   # RunCompleted records by run

Every wait polls with a deadline and fails with what it last saw; nothing sleeps in place of
an assertion. Records are read from the beginning of a topic with a plain consumer (assign, no
group, nothing committed) until every partition reports its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import urllib.request
import uuid
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import grpc
import pytest
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from rich.console import Console

from services.mesh.avro import DecodeError, codec_from_settings
from services.mesh.entrypoints.ops_cli import read_records, reader_consumer
from services.mesh.events import Event, RunCompleted
from services.mesh.grpc_client import open_channel
from services.mesh.kafka import client_config
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc, router_pb2, router_pb2_grpc
from services.mesh.settings import MeshSettings
from services.mesh.supervisor import Supervisor

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
EXAMPLE_NAMES = ("orders", "payments", "user-activity")
SETTLED = frozenset({"RUNNING", "REJECTED", "FAILED", "TIMED_OUT", "CANCELLED", "SUPERSEDED", "IN_REVIEW"})
_DOMAIN_LINE = re.compile(r'^(\s*domain:\s*")([^"]+)(")', re.MULTILINE)
_RESULT_TABLE = re.compile(r"^### 表名: (\w+)\s*$", re.MULTILINE)  # the request format's result-table heading
# The embedded broker decides which broker a mesh uses: a variable from the caller's shell must not.
_NOT_INHERITED = (
    "STREAMWRIGHT_BOOTSTRAP_SERVERS",
    "STREAMWRIGHT_TOPIC_PREFIX",
    "STREAMWRIGHT_MONGODB_URL",
    "STREAMWRIGHT_SCHEMA_REGISTRY_URL",
    "STREAMWRIGHT_PEERS",
    "STREAMWRIGHT_GRPC_PORT",
    "STREAMWRIGHT_METRICS_PORT",
    "STREAMWRIGHT_ROUTER_DEPLOYER",
    # Tracing (services/mesh/tracing.py): a collector configured in the shell is not the test's.
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
)
# A restarted service comes back on the same port: reconnect within a second, not gRPC's up-to-2-min backoff.
_CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
)
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


# --- examples --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """A request document, its data-accuracy cases, and its domain (job_info.domain)."""

    domain: str
    document: str
    cases: str | None

    def renamed(self, domain: str) -> Example:
        """The same job under another domain, so its runs neither supersede nor duplicate others.

        The cases' events carry the domain as well (the job filters on it): renamed too, or every
        case would filter to nothing. So is the result table: two domains writing one table is an
        ER conflict (knowledge: result_written_elsewhere), which sends the run to review.
        """
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,63}", domain), domain
        document = _DOMAIN_LINE.sub(lambda m: f"{m[1]}{domain}{m[3]}", self.document, count=1)
        result = _RESULT_TABLE.search(document)
        assert result is not None, "no result table heading"
        document = re.sub(rf"\b{re.escape(result[1])}\b", f"{result[1]}_{domain}", document)
        cases = self.cases
        if cases is not None:
            cases = re.sub(rf'(domain:\s*"){re.escape(self.domain)}"', rf'\g<1>{domain}"', cases)
        return Example(domain, document, cases)

    def with_cases(self, cases: str) -> Example:
        return Example(self.domain, self.document, cases)


def example(name: str) -> Example:
    """examples/<name>/: its *-request-v3.md and cases.yaml."""
    folder = EXAMPLES / name
    document = next(folder.glob("*-request-v3.md")).read_text(encoding="utf-8")
    match = _DOMAIN_LINE.search(document)
    assert match is not None, f"no domain line in {folder}"
    cases = folder / "cases.yaml"
    return Example(match[2], document, cases.read_text(encoding="utf-8") if cases.is_file() else None)


def partition_of(key: str, partitions: int) -> int:
    """The partition a key goes to: librdkafka's default partitioner (consistent_random) is CRC-32."""
    return zlib.crc32(key.encode()) % partitions


def spread_domains(bases: Sequence[str], partitions: int) -> list[str]:
    """One domain per base, `<base>_<n>`, cycling through the partitions (so every consumer gets work)."""
    chosen: list[str] = []
    for i, base in enumerate(bases):
        want = i % partitions
        n = 1
        while partition_of(f"{base}_{n}", partitions) != want or f"{base}_{n}" in chosen:
            n += 1
        chosen.append(f"{base}_{n}")
    return chosen


# --- the mesh --------------------------------------------------------------------------------


@contextlib.contextmanager
def running_mesh(
    home: Path,
    env: Mapping[str, str],
    *,
    replicas: Mapping[str, int] | None = None,
    health_timeout: float = 240.0,
) -> Iterator[Supervisor]:
    """The embedded broker and every service as processes (free ports), `env` in their environment.

    Synchronous, for module fixtures: one mesh serves every test of a module. The environment
    stays set while the mesh runs, because `Supervisor.restart` spawns with it again.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name in _NOT_INHERITED:
            patch.delenv(name, raising=False)
        patch.setenv("STREAMWRIGHT_HOME", str(home))
        for name, value in env.items():
            patch.setenv(name, value)
        supervisor = Supervisor(
            MeshSettings(home=home),
            broker_port=0,
            free_ports=True,
            health_timeout=health_timeout,
            console=Console(quiet=True),
            replicas=replicas,
        )
        try:
            asyncio.run(supervisor.start())
            yield supervisor
        finally:
            supervisor.stop()


def wire_settings(supervisor: Supervisor) -> MeshSettings:
    """Client settings for this mesh: its broker and the environment's token."""
    return MeshSettings(home=supervisor.settings.home, bootstrap_servers=supervisor.bootstrap_servers)


class MeshClient:
    """gRPC stubs of ingest and router (with the mesh's token), and waits on runs."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.wire = wire_settings(supervisor)
        self._channels: list[grpc.aio.Channel] = []
        self.ingest = ingest_pb2_grpc.IngestServiceStub(self._channel("ingest"))  # type: ignore[no-untyped-call]
        self.router = router_pb2_grpc.RouterServiceStub(self._channel("router"))  # type: ignore[no-untyped-call]

    def target(self, service: str) -> str:
        return f"127.0.0.1:{self.supervisor.child(service).grpc_port}"

    def _channel(self, service: str, settings: MeshSettings | None = None) -> grpc.aio.Channel:
        channel = open_channel(self.target(service), settings or self.wire, options=_CHANNEL_OPTIONS)
        self._channels.append(channel)
        return channel

    def router_as(self, token: str) -> router_pb2_grpc.RouterServiceStub:
        """The router's stub calling with `token` (a person's token: their identity decides)."""
        settings = self.wire.model_copy(update={"grpc_token": SecretStr(token)})
        return router_pb2_grpc.RouterServiceStub(self._channel("router", settings))  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for channel in self._channels:
            await channel.close()

    async def submit(
        self, job: Example, *, key: str | None = None, limit_s: float = 90.0
    ) -> ingest_pb2.SubmitRequestResponse:
        """Submit `job`; while ingest is unreachable (restarting), retry under the same idempotency key."""
        request = ingest_pb2.SubmitRequestRequest(
            document=job.document, idempotency_key=key or f"test-{uuid.uuid4().hex}"
        )
        if job.cases is not None:
            request.cases_yaml = job.cases
        deadline = time.monotonic() + limit_s
        while True:
            try:
                response: ingest_pb2.SubmitRequestResponse = await self.ingest.SubmitRequest(
                    request, timeout=10
                )
                return response
            except grpc.aio.AioRpcError as error:
                if error.code() not in _RETRYABLE or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.5)

    async def get(self, run_id: str) -> router_pb2.Run | None:
        """The run, or None while the router does not know it yet or is unreachable."""
        try:
            run: router_pb2.Run = await self.router.GetRun(
                router_pb2.GetRunRequest(run_id=run_id), timeout=10
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (*_RETRYABLE, grpc.StatusCode.NOT_FOUND):
                return None
            raise
        return run

    async def until(self, run_id: str, states: Iterable[str], limit_s: float) -> router_pb2.Run:
        """Poll GetRun until the run is in one of `states`; AssertionError with its last state if not."""
        wanted = frozenset(states)
        deadline = time.monotonic() + limit_s
        last: router_pb2.Run | None = None
        while time.monotonic() < deadline:
            last = await self.get(run_id) or last
            if last is not None and last.state_name in wanted:
                return last
            await asyncio.sleep(0.5)
        seen = "unknown to the router" if last is None else f"{last.state_name}: {last.reason}"
        raise AssertionError(f"run {run_id} not {sorted(wanted)} after {limit_s:.0f} s ({seen})")

    async def settled(self, run_id: str, limit_s: float) -> router_pb2.Run:
        """Until the run is final or waits for review."""
        return await self.until(run_id, SETTLED, limit_s)

    async def all_settled(self, run_ids: Sequence[str], limit_s: float) -> dict[str, router_pb2.Run]:
        runs = await asyncio.gather(*(self.settled(r, limit_s) for r in run_ids))
        return dict(zip(run_ids, runs, strict=True))


def manifest_record(out: Path, domain: str) -> dict[str, Any]:
    """The manifest deployer's record of a domain (run_id, revision, files) after checking the files."""
    import json

    folder = out / "job" / domain / "deployment"
    record: dict[str, Any] = json.loads(
        (folder / ".streamwright-deployment.json").read_text(encoding="utf-8")
    )
    texts = [(folder / name).read_text(encoding="utf-8") for name in record["files"]]
    assert any("kind: FlinkDeployment" in text for text in texts), (folder, record["files"])
    return record


# --- topics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    event: Event | None  # None: the bytes do not decode as a mesh event


def read_topic(settings: MeshSettings, topic: str) -> list[Record]:
    """Every record of `topic` (prefixed by the caller), from the beginning to the end of each
    partition: the `dlq` commands' reader (plain consumer, no group, nothing committed)."""
    codec = codec_from_settings(settings)
    consumer = reader_consumer(settings)
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        read = read_records(consumer, {topic: sorted(metadata.topics[topic].partitions)})
    finally:
        consumer.close()
    records: list[Record] = []
    for r in read:
        try:
            event: Event | None = codec.decode(r.value)
        except DecodeError:
            event = None
        headers = {k: v.decode(errors="replace") for k, v in r.headers}
        records.append(Record(r.topic, r.partition, r.offset, r.key, r.value, headers, event))
    return records


def events_of(settings: MeshSettings, event_cls: type[Event], run_ids: Iterable[str]) -> dict[str, list[Any]]:
    """The events of `event_cls` of each run (every record, repeats included), by run id."""
    wanted = set(run_ids)
    found: dict[str, list[Any]] = {r: [] for r in wanted}
    for record in read_topic(settings, settings.topic_prefix + event_cls.TOPIC):
        event = record.event
        if isinstance(event, event_cls) and event.envelope.run_id in wanted:
            found[event.envelope.run_id].append(event)
    return found


async def completions(
    settings: MeshSettings, run_ids: Sequence[str], limit_s: float = 30.0
) -> dict[str, list[RunCompleted]]:
    """Every RunCompleted record of each run, once each run has at least one (or the deadline passed).

    The router publishes RunCompleted right after storing the final state GetRun shows, so the
    record may trail the state by a moment: poll for it.
    """
    deadline = time.monotonic() + limit_s
    while True:
        found = await asyncio.to_thread(events_of, settings, RunCompleted, run_ids)
        if all(found.values()) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


def per_attempt(events: Iterable[Any]) -> dict[tuple[str, int], list[str]]:
    """(run id, attempt) -> the event ids of every record (a repeat shows up twice)."""
    out: dict[tuple[str, int], list[str]] = defaultdict(list)
    for event in events:
        out[event.envelope.run_id, event.attempt].append(event.envelope.event_id)
    return dict(out)


async def wait_groups_stable(settings: MeshSettings, groups: Sequence[str], limit_s: float = 60.0) -> None:
    """Until every consumer group is STABLE on two looks 1.5 s apart (its members have joined).

    Tansu reports a group's state but not its members, so "stable twice in a row" is the sign
    that no join is still under way.
    """
    admin = AdminClient(client_config(settings))
    prefixed = [settings.topic_prefix + g for g in groups]
    deadline = time.monotonic() + limit_s
    stable_since: float | None = None
    states: dict[str, Any] = {}
    while time.monotonic() < deadline:
        futures = admin.describe_consumer_groups(prefixed, request_timeout=5)
        states = {}
        for name, future in futures.items():
            try:
                states[name] = future.result(timeout=10).state
            except Exception as error:
                states[name] = error
        if all(state == ConsumerGroupState.STABLE for state in states.values()):
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= 1.5:
                return
        else:
            stable_since = None
        await asyncio.sleep(0.5)
    raise AssertionError(f"consumer groups not stable after {limit_s:.0f} s: {states}")


# --- metrics ---------------------------------------------------------------------------------


def scrape(metrics_port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as reply:
        body: bytes = reply.read()
        return body.decode()


def metric_sum(exposition: str, sample: str, **labels: str) -> float:
    """The sum of `sample` (e.g. streamwright_events_consumed_total) over series matching `labels`.

    A label value ending in `*` matches as a suffix (topics carry the mesh's prefix).
    """

    def matches(actual: Mapping[str, str]) -> bool:
        for name, want in labels.items():
            got = actual.get(name, "")
            if want.startswith("*") and not got.endswith(want[1:]):
                return False
            if not want.startswith("*") and got != want:
                return False
        return True

    return sum(
        s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == sample and matches(s.labels)
    )
