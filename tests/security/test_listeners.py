"""Nothing listens on a non-loopback address: the validator's Flink engine with a job running.

PyFlink starts a Beam loopback worker pool for every table environment, bound to every
interface without authentication, and a local Flink runtime binds its REST, RPC and data
endpoints to every interface by default. The validator and the runner turn the first off (no
Python UDFs run) and bind the rest to loopback (`services.flinksql.job_policy.LOOPBACK_OPTIONS`).
The check runs in a fresh process, so no other test's sockets count.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.listeners import exposed, is_loopback, listeners, process_tree

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

# Starts the validator's engine, runs an unbounded job, and prints every listener of its
# process tree while the job runs.
PROBE = """
import json, os, sys, time
sys.path.insert(0, {root!r})
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars
from services.validator.adapters.engine_runner import EngineRunner
from tests.security.listeners import listeners, process_tree
ensure_connector_jars(default_jar_dir())
runner = EngineRunner(default_jar_dir(), use_postgres=False)
runner.warm()
env = runner.engine().new_env(streaming=True)
env.execute_sql("CREATE TEMPORARY TABLE s (x INT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')")
env.execute_sql("CREATE TEMPORARY TABLE k (x INT) WITH ('connector' = 'blackhole')")
job = env.execute_sql("INSERT INTO k SELECT x FROM s").get_job_client()
deadline = time.time() + 60
while job.get_job_status().result().name != "RUNNING" and time.time() < deadline:
    time.sleep(0.2)
print(json.dumps({{"status": job.get_job_status().result().name, "listeners": listeners(process_tree(os.getpid()))}}))
job.cancel().result()
"""


def test_the_probe_sees_a_wildcard_listener_and_not_a_loopback_one() -> None:
    """The check itself can fail: a socket on 0.0.0.0 is exposed, one on 127.0.0.1 is not."""
    with socket.socket() as wide, socket.socket() as local:
        wide.bind(("0.0.0.0", 0))
        wide.listen()
        local.bind(("127.0.0.1", 0))
        local.listen()
        mine = {port for _, _, port in listeners([os.getpid()])}
        assert {wide.getsockname()[1], local.getsockname()[1]} <= mine
        ports = {port for _, _, port in exposed([os.getpid()])}
        assert wide.getsockname()[1] in ports and local.getsockname()[1] not in ports


def test_the_validator_engine_listens_on_loopback_only_while_a_job_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == "RUNNING"
    found = [tuple(item) for item in report["listeners"]]
    assert found, "the probe saw no listener at all (the JVM gateway listens on loopback)"
    wide = [item for item in found if not is_loopback(item[1])]
    assert wide == [], f"listening beyond loopback (pid, address, port): {wide}"

    assert os.getpid() in process_tree(os.getpid())
