"""`streamwright doctor` and `streamwright dlq list|show|replay` over the real Tansu broker."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import typer
from confluent_kafka import Message, Producer
from typer.testing import CliRunner

from services.mesh.avro import codec_from_settings
from services.mesh.consumer import (
    H_ATTEMPTS,
    H_GROUP,
    H_KIND,
    H_REASON,
    H_SERVICE,
    H_SOURCE_OFFSET,
    H_SOURCE_PARTITION,
    H_SOURCE_TOPIC,
)
from services.mesh.entrypoints.ops_cli import java_major, register
from services.mesh.events import Envelope, RequestAccepted, RequestSubmitted, Source, dlq_topic
from services.mesh.kafka import HEADER_EVENT_ID, HEADER_EVENT_TYPE, client_config, provision_topics
from services.mesh.settings import MeshSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

TopicReader = Callable[..., list[Message]]
REASON = "handler failed 3 times: boom from the test"


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """The streamwright app, reduced to the ops commands."""

    register(app)
    return app


def _env(settings: MeshSettings) -> dict[str, str | None]:
    """The settings as environment variables; None unsets what the caller's environment may set."""
    return {
        "STREAMWRIGHT_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "STREAMWRIGHT_TOPIC_PREFIX": settings.topic_prefix,
        "STREAMWRIGHT_HOME": str(settings.home),
        "STREAMWRIGHT_SCHEMA_REGISTRY_URL": None,
        "STREAMWRIGHT_MONGODB_URL": None,
        "STREAMWRIGHT_ROUTER_FLINK_REST_URL": None,
        "STREAMWRIGHT_ROUTER_SQL_GATEWAY_URL": None,
        "STREAMWRIGHT_VALIDATOR_JAR_DIR": None,
    }


def _invoke(settings: MeshSettings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_app(), list(args), env=_env(settings))
    return result.exit_code, result.output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dead_letter(settings: MeshSettings) -> tuple[str, str, bytes, bytes]:
    """Put one dead letter (an encoded RequestSubmitted) in the DLQ; returns topics, value, key.

    RequestAccepted's topics are provisioned as well, so one DLQ is empty."""
    provision_topics(settings, [RequestSubmitted.TOPIC, RequestAccepted.TOPIC])
    source = settings.topic_prefix + RequestSubmitted.TOPIC
    domain = f"orders-{uuid.uuid4().hex[:8]}"
    event = RequestSubmitted(
        envelope=Envelope.new(
            event_type=RequestSubmitted.EVENT_TYPE,
            producer="test",
            run_id=f"run-{uuid.uuid4().hex[:8]}",
            request_id=f"req-{uuid.uuid4().hex[:8]}",
            domain=domain,
        ),
        document="# request\n",
        source=Source.CLI,
    )
    value = codec_from_settings(settings).encode(event)
    headers = {
        HEADER_EVENT_TYPE: event.envelope.event_type,
        HEADER_EVENT_ID: event.envelope.event_id,
        H_REASON: REASON,
        H_KIND: "handler",
        H_SOURCE_TOPIC: source,
        H_SOURCE_PARTITION: "1",
        H_SOURCE_OFFSET: "7",
        H_GROUP: "ingest",
        H_ATTEMPTS: "3",
        H_SERVICE: "ingest",
    }
    producer = Producer({**client_config(settings), "enable.idempotence": True, "acks": "all"})
    producer.produce(dlq_topic(source), value=value, key=domain.encode(), headers=list(headers.items()))
    assert producer.flush(15) == 0
    return source, dlq_topic(source), value, domain.encode()


def test_dlq_list_show_and_replay(mesh_settings: MeshSettings, topic_reader: TopicReader) -> None:
    """It lists the dead letter, shows its reason and type, and replays the original bytes and key."""
    source, dlq, value, key = _dead_letter(mesh_settings)

    code, out = _invoke(mesh_settings, "dlq", "list")
    assert code == 0, out
    lines = [line.split() for line in out.splitlines()]
    assert [dlq, "1", "record"] in lines
    assert [dlq_topic(mesh_settings.topic_prefix + RequestAccepted.TOPIC), "0", "records"] in lines

    code, out = _invoke(mesh_settings, "dlq", "show", dlq)
    assert code == 0, out
    assert f"reason:   {REASON}" in out
    assert f"source:   {source} p1@7" in out
    assert "RequestSubmitted" in out or "sw.request.submitted" in out
    assert f"size:     {len(value)} bytes" in out

    code, out = _invoke(mesh_settings, "dlq", "replay", dlq, "--all")
    assert code == 2, out
    assert "without --yes" in out
    assert topic_reader(mesh_settings, source, count=1, timeout=1.0) == []

    code, out = _invoke(mesh_settings, "dlq", "replay", dlq, "--all", "--yes")
    assert code == 0, out
    assert "1 of 1 record(s) replayed" in out
    [replayed] = topic_reader(mesh_settings, source, count=1)
    assert replayed.value() == value
    assert replayed.key() == key
    names = [name for name, _ in replayed.headers() or []]
    assert HEADER_EVENT_ID in names
    assert not [name for name in names if name.startswith("dlq.")]


def test_dlq_usage_errors_exit_2(mesh_settings: MeshSettings) -> None:
    """It exits 2 with a clear message for a missing topic, a non-DLQ topic and bad option sets."""
    provision_topics(mesh_settings, [RequestSubmitted.TOPIC])
    source = mesh_settings.topic_prefix + RequestSubmitted.TOPIC
    cases = {
        ("dlq", "show", "no.such.topic.dlq"): "no topic 'no.such.topic.dlq'",
        ("dlq", "show", source): "is not a dead-letter topic",
        ("dlq", "replay", dlq_topic(source)): "exactly one of --offset N or --all",
        ("dlq", "replay", dlq_topic(source), "--offset", "0", "--all"): "exactly one of --offset N or --all",
        ("dlq", "replay", dlq_topic(source), "--offset", "0", "--yes"): "no record at offset 0",
        ("dlq", "replay", dlq_topic(source), "--all", "--partition", "0"): "--partition goes with --offset",
    }
    for args, message in cases.items():
        code, out = _invoke(mesh_settings, *args)
        assert (code, message in out) == (2, True), (args, out)


def test_doctor_reports_broker_ok_and_fail(mesh_settings: MeshSettings) -> None:
    """It reports the fixture broker OK, and a closed port as FAIL with exit code 1."""
    code, out = _invoke(mesh_settings, "doctor")
    broker = next(line for line in out.splitlines() if " broker " in f" {line} ")
    assert broker.startswith("OK"), out
    assert mesh_settings.bootstrap_servers in broker
    assert "home" in out
    assert code == (1 if any(line.startswith("FAIL") for line in out.splitlines()) else 0)

    closed = mesh_settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{_closed_port()}"})
    code, out = _invoke(closed, "doctor")
    assert code == 1, out
    broker = next(line for line in out.splitlines() if " broker " in f" {line} ")
    assert broker.startswith("FAIL"), out
    assert "fix: start one" in out


def test_doctor_names_an_invalid_setting(mesh_settings: MeshSettings) -> None:
    """It reports an invalid STREAMWRIGHT_* value as a FAIL naming the variable, and exits 1."""
    result = CliRunner().invoke(
        _app(), ["doctor"], env={**_env(mesh_settings), "STREAMWRIGHT_TOPIC_PARTITIONS": "0"}
    )
    assert result.exit_code == 1, result.output
    [line] = [line for line in result.output.splitlines() if line.startswith("FAIL  settings")]
    assert "STREAMWRIGHT_TOPIC_PARTITIONS" in line


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("no version here", None),
    ],
)
def test_java_major_reads_java_version_output(output: str, major: int | None) -> None:
    """It reads the major version from `java -version`, old 1.x style included."""
    assert java_major(output) == major


def _json(settings: MeshSettings, *args: str) -> tuple[int, Any]:
    """Exit code and the JSON document on stdout (None when stdout is empty)."""
    result = CliRunner().invoke(_app(), [*args, "--json"], env=_env(settings))
    return result.exit_code, json.loads(result.stdout) if result.stdout else None


def test_dlq_list_show_and_replay_as_json(mesh_settings: MeshSettings, topic_reader: TopicReader) -> None:
    """The counts, each dead letter's headers typed and its event decoded, the dry run and the replay."""
    source, dlq, value, key = _dead_letter(mesh_settings)
    empty_dlq = dlq_topic(mesh_settings.topic_prefix + RequestAccepted.TOPIC)

    code, listed = _json(mesh_settings, "dlq", "list")
    assert code == 0 and listed["bootstrap_servers"] == mesh_settings.bootstrap_servers
    assert listed["topics"] == sorted(
        [{"topic": dlq, "records": 1}, {"topic": empty_dlq, "records": 0}], key=lambda t: str(t["topic"])
    )

    code, shown = _json(mesh_settings, "dlq", "show", dlq)
    assert code == 0 and shown["topic"] == dlq
    [record] = shown["records"]
    assert (record["reason"], record["kind"], record["attempts"]) == (REASON, "handler", 3)
    assert record["source"] == {"topic": source, "partition": 1, "offset": 7}
    assert (record["group"], record["service"], record["key"]) == ("ingest", "ingest", key.decode())
    assert record["size"] == len(value) and record["decode_error"] is None
    assert record["event"]["event_type"] == RequestSubmitted.EVENT_TYPE and record["event"]["run_id"]
    assert _json(mesh_settings, "dlq", "show", empty_dlq) == (0, {"topic": empty_dlq, "records": []})

    code, dry = _json(mesh_settings, "dlq", "replay", dlq, "--all")
    assert code == 2 and dry["published"] is False and dry["replayed"] == 0
    assert [(r["offset"], r["target"], r["replayed"]) for r in dry["records"]] == [
        (record["offset"], source, False)
    ]
    assert topic_reader(mesh_settings, source, count=1, timeout=1.0) == []

    code, done = _json(mesh_settings, "dlq", "replay", dlq, "--offset", str(record["offset"]), "--yes")
    assert code == 0, done
    assert (done["published"], done["replayed"], done["errors"]) == (True, 1, [])
    assert done["records"][0]["replayed"] is True and done["records"][0]["size"] == len(value)
    [replayed] = topic_reader(mesh_settings, source, count=1)
    assert replayed.value() == value


def test_doctor_as_json_and_an_unreachable_broker(mesh_settings: MeshSettings) -> None:
    """doctor --json: the broker check OK here, FAIL (ok false, exit 1) on a closed port, where
    `dlq list` exits 3: the broker it needs does not answer."""
    code, doc = _json(mesh_settings, "doctor")
    broker = next(c for c in doc["checks"] if c["name"] == "broker")
    assert broker["status"] == "OK" and mesh_settings.bootstrap_servers in broker["detail"]
    assert doc["ok"] is (code == 0) and doc["ok"] is not any(c["status"] == "FAIL" for c in doc["checks"])
    assert {c["name"] for c in doc["checks"]} >= {"python", "java", "home", "broker"}

    closed = mesh_settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{_closed_port()}"})
    code, doc = _json(closed, "doctor")
    broker = next(c for c in doc["checks"] if c["name"] == "broker")
    assert (code, doc["ok"], broker["status"]) == (1, False, "FAIL")
    assert broker["fix"].startswith("start one")

    result = CliRunner().invoke(_app(), ["dlq", "list", "--json"], env=_env(closed))
    assert (result.exit_code, result.stdout) == (3, ""), result.output
    assert "unreachable" in result.stderr
