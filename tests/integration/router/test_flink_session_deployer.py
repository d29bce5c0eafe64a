"""The flink-session deployer against a real local Flink session cluster (issue 8, part 6).

A standalone session cluster (JobManager + one TaskManager, 2 slots) is started from the
PyFlink 2.3 distribution's `bin/start-cluster.sh` with its own conf, log and pid directories
and free ports. The generated orders job is compiled with a sandbox profile: its Kafka source
reads the embedded broker (Tansu), its JDBC lookups read a private PostgreSQL holding the
case's dimension rows, and its result table (ODPS in the request) becomes a JDBC upsert sink
into the same PostgreSQL. The router's FlinkSessionDeployer submits it through the project's
SQL runner (`python -m services.runner --remote ...`: the validated statement digest checked,
connector jars shipped as `pipeline.jars`, the JDBC passwords' `${secret:...}` references,
declared in the job config, resolved from `SW_SECRET_*`); Flink's REST API must show it
RUNNING; BusinessEvent records published to the topic must reach the result table;
stop-with-savepoint through the deployer must end it with a savepoint on disk. The streaming
(unbounded) job is what is deployed anyway; it also avoids Tansu's wrong high watermark, which
ends bounded Kafka reads early.

The runner's other mode, inside Flink through PythonDriver (what the FlinkDeployment starts),
runs against the same cluster through Flink's own CLI: `flink run -pym services.runner`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from services.flinksql.job_policy import secret_variable
from services.flinksql.statements import script_digest
from services.generator.domain import CompiledJob, Profile, compile_job
from services.ingest.domain.checks import check_document
from services.mesh.embedded_broker import EmbeddedBroker
from services.router.adapters.flink_rest import FlinkRest
from services.router.adapters.flink_session import FlinkSessionDeployer
from services.router.ports import DeployError, StartRequest
from services.validator.adapters.connector_jars import (
    ConnectorJarError,
    default_jar_dir,
    ensure_connector_jars,
)
from services.validator.adapters.postgres import PostgresUnavailable, PrivatePostgres, literal

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.system, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[3]
REQUESTS = ROOT / "tests" / "fixtures" / "requests"
CASE = "enriched_orders"
RESULT_COLUMNS = (
    "order_id",
    "user_id",
    "shop_id",
    "shop_name",
    "city_name",
    "province_name",
    "order_amount",
    "discount_amount",
    "pay_amount",
    "item_count",
    "order_status",
    "channel",
    "order_time",
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class SessionCluster:
    """A standalone Flink session cluster from the PyFlink distribution, in its own directories."""

    root: Path
    rest_port: int = field(default_factory=_free_port)
    start_seconds: float = 0.0

    @property
    def home(self) -> Path:
        import pyflink  # type: ignore[import-untyped]

        return Path(pyflink.__file__).resolve().parent

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FLINK_CONF_DIR": str(self.root / "conf"),
            "FLINK_LOG_DIR": str(self.root / "log"),
            "FLINK_PID_DIR": str(self.root / "pid"),
            "FLINK_IDENT_STRING": "sw-it",
        }

    def _write_conf(self) -> None:
        dist = self.home / "conf"
        conf = self.root / "conf"
        conf.mkdir(parents=True)
        for name in dist.iterdir():
            if name.name.startswith(("log4j", "logback")):
                shutil.copy(name, conf / name.name)
        config = yaml.safe_load((dist / "config.yaml").read_text(encoding="utf-8")) or {}
        config.update(
            {
                "jobmanager": {
                    "bind-host": "localhost",
                    "rpc": {"address": "localhost", "port": _free_port()},
                    "memory": {"process": {"size": "1024m"}},
                    "execution": {"failover-strategy": "region"},
                },
                "taskmanager": {
                    "bind-host": "localhost",
                    "host": "localhost",
                    "numberOfTaskSlots": 2,
                    "memory": {"process": {"size": "1280m"}},
                },
                "rest": {"address": "127.0.0.1", "bind-address": "127.0.0.1", "port": self.rest_port},
                "parallelism": {"default": 1},
                "io": {"tmp": {"dirs": str(self.root / "tmp")}},
            }
        )
        for directory in ("tmp", "log", "pid"):  # the daemon scripts create none of them
            (self.root / directory).mkdir()
        (conf / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        (conf / "masters").write_text(f"localhost:{self.rest_port}\n", encoding="utf-8")
        (conf / "workers").write_text("localhost\n", encoding="utf-8")

    def start(self, timeout: float = 90.0) -> None:
        started = time.monotonic()
        self._write_conf()
        subprocess.run(
            ["bash", str(self.home / "bin" / "start-cluster.sh")],
            env=self.env,
            capture_output=True,
            check=True,
            timeout=timeout,
        )
        while time.monotonic() - started < timeout:
            with contextlib.suppress(OSError, ValueError):
                overview = _get_json(f"{self.rest_url}/overview", timeout=2)
                if overview.get("taskmanagers", 0) >= 1 and overview.get("slots-available", 0) >= 1:
                    self.start_seconds = time.monotonic() - started
                    return
            time.sleep(0.5)
        raise RuntimeError(f"the session cluster did not come up in {timeout:g}s; logs: {self.log_tail()}")

    def _pids(self) -> list[int]:
        pids = []
        for pid_file in (self.root / "pid").glob("*.pid"):
            pids += [int(p) for p in pid_file.read_text().split() if p.strip().isdigit()]
        return pids

    def stop(self) -> None:
        pids = self._pids()
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                ["bash", str(self.home / "bin" / "stop-cluster.sh")],
                env=self.env,
                capture_output=True,
                check=False,
                timeout=60,
            )
        deadline = time.monotonic() + 15
        for pid in pids:  # only the daemons this fixture started (their pid files)
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.2)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def log_tail(self, chars: int = 3000) -> str:
        logs = sorted((self.root / "log").glob("*.log"))
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-chars:]}" for p in logs)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def flink_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionCluster]:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime for the Flink session cluster")
    cluster = SessionCluster(tmp_path_factory.mktemp("flink-session"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def connector_jars() -> list[str]:
    try:
        return [str(p) for p in ensure_connector_jars(default_jar_dir())]
    except ConnectorJarError as error:
        pytest.skip(f"Kafka/JDBC connector jars unavailable: {error}")


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    try:
        server = PrivatePostgres().start()
    except PostgresUnavailable as error:
        pytest.skip(f"PostgreSQL unavailable: {error}")
    try:
        yield server
    finally:
        server.stop()


def _case() -> dict[str, Any]:
    cases = yaml.safe_load((REQUESTS / "orders.cases.yaml").read_text(encoding="utf-8"))["cases"]
    found: dict[str, Any] = next(c for c in cases if c["name"] == CASE)
    return found


def _load_postgres(pg: PrivatePostgres, case: dict[str, Any]) -> None:
    """The dimension tables with the case's rows (readable by the job's JDBC user), the result table."""
    statements = [
        "CREATE ROLE flink_reader LOGIN",  # the request's JDBC username; trust auth, any password
        "CREATE TABLE dim_shop (shop_id text PRIMARY KEY, shop_name text, city_id text, shop_status int)",
        "CREATE TABLE dim_city (city_id text PRIMARY KEY, city_name text, province_name text, city_tier int)",
        "GRANT SELECT ON dim_shop, dim_city TO flink_reader",
        """CREATE TABLE dwd_order_wide (
            order_id text PRIMARY KEY, user_id text, shop_id text, shop_name text, city_name text,
            province_name text, order_amount numeric(12, 2), discount_amount numeric(12, 2),
            pay_amount numeric(12, 2), item_count int, order_status int, channel text,
            order_time timestamp(3))""",
    ]
    for table, rows in case["dimensions"].items():
        for row in rows:
            columns = ", ".join(row)
            values = ", ".join(literal(None if v is None else str(v)) for v in row.values())
            statements.append(f"INSERT INTO {table} ({columns}) VALUES ({values})")
    pg.execute(";\n".join(statements) + ";")


def _with_options(sql: str, table: str, options: dict[str, str]) -> str:
    """The script with `table`'s WITH (...) replaced: the sandbox sink instead of the request's."""
    start = sql.index(f"CREATE TEMPORARY TABLE `{table}`")
    with_at = sql.index("WITH (", start)
    end = sql.index("\n);", with_at)
    body = ",\n".join(f"    '{k}' = '{v}'" for k, v in options.items())
    return sql[:with_at] + "WITH (\n" + body + sql[end:]


def _sandbox_job(broker: EmbeddedBroker, pg: PrivatePostgres, topic: str) -> tuple[CompiledJob, str]:
    text = (REQUESTS / "orders-request-v3.md").read_text(encoding="utf-8")
    result = check_document(text)
    assert result.spec is not None, [e.render() for e in result.errors]
    profile = Profile.model_validate(
        {
            "name": "sandbox",
            "namespace": "streamwright-it",
            "image": "flink-sql-runner:2.3.0",
            "kafka": {
                "bootstrap_servers": broker.bootstrap_servers,
                "topic": topic,
                "group_id_prefix": f"sw-it-{uuid.uuid4().hex[:8]}",
                "startup_mode": "earliest-offset",
            },
            # The lookups keep the request's username (and its ${secret:...} password).
            "jdbc": {"default_url": f"jdbc:postgresql://127.0.0.1:{pg.port}/streamwright"},
            "storage": {"checkpoint_dir": "file:///tmp/cp", "savepoint_dir": "file:///tmp/sp"},
        }
    )
    job = compile_job(result.spec, target="2.3", profile=profile, revision=1, generator_version="0.1.0")
    # The request's ODPS result table has no connector here: the same upsert table in PostgreSQL.
    sql = _with_options(
        job.sql,
        "dwd_order_wide",
        {"connector": "jdbc", "url": pg.jdbc_url(), "table-name": "dwd_order_wide"},
    )
    return job, sql


def _write_artifacts(job: CompiledJob, sql: str, root: Path) -> str:
    """The job's artifacts as the generator stores them (`artifact_ref`), the sandboxed SQL in place."""
    for relative, text in {**job.files, job.paths.sql: sql}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return str(root)


def _create_topic(broker: EmbeddedBroker, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]).values():
        future.result(timeout=15)


def _publish(broker: EmbeddedBroker, topic: str, case: dict[str, Any]) -> None:
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    for event in case["events"]:
        record = {
            "domain": event["domain"],
            "type": event["type"],
            "payload": event["payload"],
            "create_time": event.get("create_time"),
        }
        producer.produce(topic, json.dumps(record, ensure_ascii=False).encode())
    assert producer.flush(15) == 0


def _result_rows(pg: PrivatePostgres) -> dict[str, dict[str, str | None]]:
    columns = [c if c != "order_time" else "order_time_text" for c in RESULT_COLUMNS]
    rows = pg.query_text(
        "SELECT *, to_char(order_time, 'YYYY-MM-DD HH24:MI:SS.MS') AS order_time_text FROM dwd_order_wide",
        columns,
    )
    return {str(row[0]): dict(zip(RESULT_COLUMNS, row, strict=True)) for row in rows}


def _job_state(cluster: SessionCluster, job_id: str) -> str:
    return str(_get_json(f"{cluster.rest_url}/jobs/{job_id}")["state"])


def test_deploys_generated_orders_job_to_a_session_cluster(
    flink_cluster: SessionCluster,
    connector_jars: list[str],
    postgres: PrivatePostgres,
    kafka_broker: EmbeddedBroker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It submits the sandboxed orders job, which runs, enriches published events into PostgreSQL,
    and stops with a savepoint through the deployer."""
    case = _case()
    _load_postgres(postgres, case)
    topic = f"sw-it-business-events-{uuid.uuid4().hex[:8]}"
    _create_topic(kafka_broker, topic)
    job, sql = _sandbox_job(kafka_broker, postgres, topic)
    assert set(re.findall(r"\$\{secret:([a-z0-9][a-z0-9-]*)\}", sql)) == set(job.ir.secrets)
    for name in job.ir.secrets:
        monkeypatch.setenv(secret_variable(name), "sandbox-unused")  # trust auth: any password
    savepoints = tmp_path / "savepoints"
    deployer = FlinkSessionDeployer(
        flink_cluster.rest_url,
        rest=FlinkRest(flink_cluster.rest_url, poll_interval=0.5),
        stable_seconds=3.0,
        savepoint_dir=savepoints.as_uri(),
        submit_timeout_s=120.0,
        jars=connector_jars,
    )
    request = StartRequest(
        run_id=f"run-{uuid.uuid4().hex[:8]}",
        domain="orders",
        revision=1,
        attempt=1,
        sql=sql,
        artifact_ref=_write_artifacts(job, sql, tmp_path / "artifacts"),
        sql_digest=script_digest(sql),
    )
    # SQL that is not the validated statement list never reaches the cluster.
    with pytest.raises(DeployError) as refused:
        asyncio.run(deployer.start(replace(request, sql_digest=script_digest(job.sql))))
    assert script_digest(job.sql) in str(refused.value) and script_digest(sql) in str(refused.value)

    submitted = time.monotonic()
    started = asyncio.run(deployer.start(request))
    submit_seconds = time.monotonic() - submitted
    assert started.target == "flink-session"
    assert started.job_id
    assert started.detail == {
        "submitter": "services.runner",
        "sql_digest": script_digest(sql),
        "secrets": list(job.ir.secrets),
    }
    job_id = started.job_id
    try:
        assert _job_state(flink_cluster, job_id) == "RUNNING"
        assert started.deployment_ref.endswith(f"/jobs/{job_id}")

        published = time.monotonic()
        _publish(kafka_broker, topic, case)
        expected = {row["order_id"]: row for row in case["expected"]}
        rows: dict[str, dict[str, str | None]] = {}
        while time.monotonic() - published < 60 and set(rows) != set(expected):
            time.sleep(0.5)
            rows = _result_rows(postgres)
            assert _job_state(flink_cluster, job_id) == "RUNNING", flink_cluster.log_tail()
        first_rows_seconds = time.monotonic() - published
        assert set(rows) == set(expected), f"rows in dwd_order_wide after 60 s: {rows}"
        for order_id, want in expected.items():
            got = rows[order_id]
            assert {k: got[k] for k in RESULT_COLUMNS} == {
                k: None if want.get(k) is None else str(want[k]) for k in RESULT_COLUMNS
            }
    except BaseException:
        with contextlib.suppress(Exception):
            asyncio.run(deployer.stop({"job_id": job_id}, savepoint=False))
        raise

    stopping = time.monotonic()
    location = asyncio.run(deployer.stop({"target": "flink-session", "job_id": job_id}))
    stop_seconds = time.monotonic() - stopping
    assert location is not None
    assert Path(location.removeprefix("file:")).is_dir()
    assert Path(location.removeprefix("file:")).resolve().is_relative_to(savepoints.resolve())
    assert _job_state(flink_cluster, job_id) != "RUNNING"
    print(  # timings, shown with -s
        f"cluster start {flink_cluster.start_seconds:.1f}s, submit+stable {submit_seconds:.1f}s, "
        f"rows {first_rows_seconds:.1f}s, stop with savepoint {stop_seconds:.1f}s"
    )


IN_FLINK_SQL = """-- the runner inside Flink: a generator-shaped script with a declared secret
SET 'pipeline.name' = 'streamwright-runner-in-flink';
CREATE TEMPORARY TABLE `src` (`id` BIGINT, `note` STRING)
WITH ('connector' = 'datagen', 'rows-per-second' = '5', 'fields.note.length' = '${secret:note-length}');
CREATE TEMPORARY TABLE `sink` (`id` BIGINT, `note` STRING) WITH ('connector' = 'blackhole');
INSERT INTO `sink` SELECT `id`, `note` FROM `src`;
"""


def _json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{") and line.endswith("}")]


def test_the_runner_runs_inside_flink_through_python_driver(
    flink_cluster: SessionCluster, tmp_path: Path
) -> None:
    """Flink's own CLI starts the runner through PythonDriver (`flink run -pym services.runner`),
    as the FlinkDeployment does in application mode: no --remote, the TableEnvironment is the one
    Flink gives it. A script with another digest is refused before anything is submitted; the
    validated one runs with its declared secret resolved (a datagen length: unresolved, it fails)."""
    sql_file = tmp_path / "job.sql"
    sql_file.write_text(IN_FLINK_SQL, encoding="utf-8")
    env = {**flink_cluster.env, secret_variable("note-length"): "7"}

    def flink_run(digest: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "bash", str(flink_cluster.home / "bin" / "flink"), "run", "-d",
                "-m", f"127.0.0.1:{flink_cluster.rest_port}",
                "-pyclientexec", sys.executable, "-pym", "services.runner",
                "--sql", str(sql_file), "--digest", digest, "--secret", "note-length",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )  # fmt: skip

    refused = flink_run("sha256:" + "0" * 64)
    assert refused.returncode != 0
    [answer] = _json_lines(refused.stdout)
    assert answer["kind"] == "refused" and "statement digest mismatch" in answer["error"]

    started = time.monotonic()
    ran = flink_run(script_digest(IN_FLINK_SQL))
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    [answer] = _json_lines(ran.stdout)
    assert answer["digest"] == script_digest(IN_FLINK_SQL)
    job_id = answer["job_id"]
    try:
        while _job_state(flink_cluster, job_id) != "RUNNING" and time.monotonic() - started < 90:
            time.sleep(0.5)
        assert _job_state(flink_cluster, job_id) == "RUNNING", flink_cluster.log_tail()
        assert _get_json(f"{flink_cluster.rest_url}/jobs/{job_id}")["name"] == "streamwright-runner-in-flink"
    finally:
        request = urllib.request.Request(
            f"{flink_cluster.rest_url}/jobs/{job_id}?mode=cancel", method="PATCH"
        )
        with contextlib.suppress(OSError):
            urllib.request.urlopen(request, timeout=10).close()
    print(f"flink run -pym services.runner: submitted in {time.monotonic() - started:.1f}s")  # shown with -s
