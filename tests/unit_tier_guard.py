"""The unit tier's guard: a unit test starts no JVM or other child process, opens no server and
connects nowhere. tests/unit/conftest.py applies it to every test collected under tests/unit.

While a unit test's setup, call and teardown run, these refuse with UnitTierViolation:
- a TCP/UDP socket's listen, connect and connect_ex, and its bind to a given port (AF_UNIX stays
  allowed, and so does socket.socketpair: asyncio's event loop wakes itself through one; so does a
  bind to port 0 that listens on nothing: urllib3's import probes IPv6 that way, and
  services.mesh.embedded_broker.free_port asks the OS for a free port number that way);
- starting a process: subprocess.Popen (so subprocess.run, asyncio's subprocesses and PyFlink's JVM
  gateway), os.fork, os.system;
- gRPC servers and channels (grpc.server, grpc.aio.server, the insecure and secure channels): gRPC's C
  core opens its sockets below Python's socket module.
A violation the code under test catches still fails the test: each one is recorded, and the phase
ends with a UnitTierViolation listing them. Clients that open sockets in native code outside these
(librdkafka's confluent_kafka clients, for one) are not seen here.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import grpc
import grpc.aio
import pytest

MOVE_IT = (
    "a unit test starts no JVM or child process, opens no server and connects nowhere: "
    "fake the port, or move the test to tests/integration/<service>/ with the integration marker"
)


class UnitTierViolation(RuntimeError):
    """A unit test tried to listen, connect out or start a process."""


@contextmanager
def refusing(violations: list[str]) -> Iterator[None]:
    """Inside: every guarded call appends to `violations` and raises UnitTierViolation."""

    def refuse(what: str) -> NoReturn:
        violations.append(what)
        raise UnitTierViolation(f"{what}: {MOVE_IT}")

    def socket_method(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(self: socket.socket, *args: Any) -> Any:
            ephemeral = name == "bind" and isinstance(args[0], tuple) and args[0][1] == 0
            if self.family == socket.AF_UNIX or ephemeral:
                return original(self, *args)
            refuse(f"socket.{name}{args!r}")

        return guarded

    def refusal(what: str) -> Callable[..., NoReturn]:
        def guarded(*args: Any, **kwargs: Any) -> NoReturn:
            shown = args[1] if what == "subprocess" and len(args) > 1 else args[:1]
            refuse(f"{what}({shown!r})")

        return guarded

    patches: list[tuple[Any, str, Callable[..., Any]]] = [
        (socket.socket, name, socket_method(name, getattr(socket.socket, name)))
        for name in ("bind", "listen", "connect", "connect_ex")
    ]
    patches += [
        (subprocess.Popen, "_execute_child", refusal("subprocess")),
        (os, "fork", refusal("os.fork")),
        (os, "system", refusal("os.system")),
        (grpc, "server", refusal("grpc.server")),
        (grpc, "insecure_channel", refusal("grpc.insecure_channel")),
        (grpc, "secure_channel", refusal("grpc.secure_channel")),
        (grpc.aio, "server", refusal("grpc.aio.server")),
        (grpc.aio, "insecure_channel", refusal("grpc.aio.insecure_channel")),
        (grpc.aio, "secure_channel", refusal("grpc.aio.secure_channel")),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def _guarded_phase() -> Generator[None, object, object]:
    violations: list[str] = []
    try:
        with refusing(violations):
            result = yield
    except UnitTierViolation:
        raise
    except BaseException as error:  # a violation the code swallowed, then another failure
        if violations:
            raise UnitTierViolation(f"{'; '.join(violations)}: {MOVE_IT}") from error
        raise
    if violations:  # each one caught by the code under test
        raise UnitTierViolation(f"{'; '.join(violations)}: {MOVE_IT}")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _guarded_phase())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _guarded_phase())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    return (yield from _guarded_phase())
