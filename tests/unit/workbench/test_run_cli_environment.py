"""`streamwright run` tells the embedded mesh where to write through the children's environment,
never by changing its own (no JVM, socket or child process: health check and Popen are faked)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from services.mesh import grpc_client, supervisor
from services.mesh.settings import MeshSettings
from services.workbench import run_cli

KEY = run_cli.ROUTER_OUTPUT_DIR_ENV


@pytest.fixture(autouse=True)
def _no_output_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(KEY, raising=False)
    monkeypatch.setenv("STREAMWRIGHT_HOME", str(tmp_path / "home"))


def test_the_child_environment_is_a_copy_with_the_output_dir(tmp_path: Path) -> None:
    """It carries our environment plus the output directory; ours is unchanged."""
    before = dict(os.environ)
    env = run_cli.child_environment(tmp_path / "out")
    assert env[KEY] == str(tmp_path / "out")
    assert {k: v for k, v in env.items() if k != KEY} == before
    assert dict(os.environ) == before and KEY not in os.environ
    assert run_cli.child_environment(tmp_path, base={"A": "1"}) == {"A": "1", KEY: str(tmp_path)}


def test_run_setup_hands_the_output_dir_to_the_supervisor_and_leaves_os_environ_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no mesh running, `run` starts one with the output dir in its children's environment only."""
    seen: dict[str, Any] = {}

    async def no_mesh(*args: Any, **kwargs: Any) -> bool:
        return False

    class FakeSupervisor:
        def __init__(self, settings: MeshSettings, **kwargs: Any) -> None:
            seen.update(kwargs)

        async def start(self) -> None:
            seen["environ_at_start"] = dict(os.environ)
            raise supervisor.SupervisorError("not in a unit test")

        def stop(self) -> None:
            seen["stopped"] = True

    monkeypatch.setattr(grpc_client, "check_health", no_mesh)
    monkeypatch.setattr(supervisor, "Supervisor", FakeSupervisor)
    before = dict(os.environ)
    request = tmp_path / "request.md"
    request.write_text("# request\n", encoding="utf-8")

    code = asyncio.run(run_cli._run(request, tmp_path / "out", None, 5.0))

    assert code == 1 and seen["stopped"]
    assert seen["env"][KEY] == str(tmp_path / "out")
    assert seen["environ_at_start"] == before  # not even for the duration of the start
    assert dict(os.environ) == before


def test_the_supervisor_starts_its_children_from_the_environment_it_was_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Supervisor(env=...) is the base of every child's environment; its own variables go on top."""
    spawned: list[dict[str, str]] = []

    class FakePopen:
        def __init__(self, args: list[str], **kwargs: Any) -> None:
            spawned.append(kwargs["env"])

    # only the supervisor's view of subprocess: the unit tier's guard patches the real Popen
    fake = SimpleNamespace(Popen=FakePopen, DEVNULL=subprocess.DEVNULL, STDOUT=subprocess.STDOUT)
    monkeypatch.setattr(supervisor, "subprocess", fake)
    settings = MeshSettings(home=tmp_path)
    instance = supervisor.Instance("router", "router", "services.router.entrypoints.main")

    given = supervisor.Supervisor(settings, services={}, env={"ONLY": "this", KEY: "/out"})
    child = given._spawn(instance, (1, 2))
    child.log_file.close()
    default = supervisor.Supervisor(settings, services={})
    monkeypatch.setenv("STREAMWRIGHT_LATE", "seen")  # the default is os.environ as it is at the spawn
    default._spawn(instance, (1, 2)).log_file.close()

    first, second = spawned
    assert first["ONLY"] == "this" and first[KEY] == "/out" and "PATH" not in first
    assert first["STREAMWRIGHT_GRPC_PORT"] == "1" and first["STREAMWRIGHT_HOME"] == str(tmp_path)
    assert second["STREAMWRIGHT_LATE"] == "seen" and "ONLY" not in second and KEY not in second
