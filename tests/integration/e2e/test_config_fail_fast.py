"""An invalid setting stops `streamwright up` and a service process at once, naming the variable.

Not the system tier: no broker and no mesh start; both processes exit before connecting to
anything (a few seconds, mostly imports).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

STREAMWRIGHT = Path(sys.executable).parent / "streamwright"
LIMIT_S = 30.0  # generous for a loaded machine; each takes ~2-3 s


@pytest.mark.parametrize(
    ("command", "program"),
    [
        ([str(STREAMWRIGHT), "up", "--broker-port", "0"], "streamwright up"),
        ([sys.executable, "-m", "services.router.entrypoints.main"], "router"),
    ],
    ids=["streamwright-up", "router-service"],
)
def test_an_invalid_session_timeout_fails_fast_naming_the_setting(
    command: list[str], program: str, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STREAMWRIGHT_")},
        "STREAMWRIGHT_HOME": str(tmp_path),
        "STREAMWRIGHT_SESSION_TIMEOUT_MS": "abc",
    }
    began = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=LIMIT_S, check=False)
    took = time.monotonic() - began
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert took < LIMIT_S
    assert f"{program}: error: invalid settings: STREAMWRIGHT_SESSION_TIMEOUT_MS='abc'" in done.stderr, (
        done.stderr
    )
    assert "Traceback" not in done.stderr, done.stderr
    # Nothing was started: no broker log, no service state under the home.
    assert not (tmp_path / "broker").exists() and not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    ("command", "program"),
    [
        ([str(STREAMWRIGHT), "up", "--broker-port", "0"], "streamwright up"),
        ([sys.executable, "-m", "services.ingest.entrypoints.main"], "ingest"),
    ],
    ids=["streamwright-up", "ingest-service"],
)
def test_an_otlp_protocol_this_build_lacks_fails_fast_naming_the_variable(
    command: list[str], program: str, tmp_path: Path
) -> None:
    """Traces asked for over OTLP/gRPC: this build exports OTLP/HTTP only, so it refuses at once."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STREAMWRIGHT_", "OTEL_"))},
        "STREAMWRIGHT_HOME": str(tmp_path),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=LIMIT_S, check=False)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert f"{program}: error: OTEL_EXPORTER_OTLP_PROTOCOL='grpc'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "broker").exists() and not (tmp_path / "logs").exists()
