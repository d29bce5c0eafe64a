"""Wake-up hints between the mesh processes of one installation: "a record was produced to T".

Tansu answers a fetch at once only when data is already there; a record produced while a
fetch waits is returned at the fetch's next check point (half the wait, then three quarters,
...). So on Tansu a consumer either fetches with a short wait and burns CPU while idle, or
with a long one and adds up to half of it to every hop. With wake-ups, an idle consumer
stops fetching altogether (services.mesh.parking) and a producer tells it when to fetch
again: its next fetch finds the record and Tansu answers at once.

Each process (each ServiceRunner) binds one Unix datagram socket in Linux's abstract
namespace, named after the installation's home, and lists itself in `<home>/wake/`. After a
publish is acknowledged, the Publisher sends the topic's name to every process listed
there; a process wakes its consumers of that topic. A hint carries no data and changes no
Kafka semantics: offsets, ordering and redelivery stay Kafka's. Hints can be lost (another
producer, a full socket buffer, a process listed late): a parked consumer still fetches
every `fetch_wakeup_probe_ms`, so a lost hint costs latency, never a record.

Only hints from the same user are accepted (SO_PASSCRED); another local user could at most
make consumers fetch more. Linux only: elsewhere `available()` is False and consumers never
park.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import struct
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from services.mesh.logging import get_logger

REGISTRY_DIR = "wake"
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid
_MAX_TOPIC_BYTES = 512
_ANCILLARY = socket.CMSG_SPACE(_CREDENTIALS.size) if hasattr(socket, "CMSG_SPACE") else 0

log = get_logger(__name__)

Callback = Callable[[], None]


def available() -> bool:
    """Abstract Unix sockets and SO_PASSCRED: Linux."""
    return sys.platform == "linux" and hasattr(socket, "SO_PASSCRED")


def _address(home: Path, name: str) -> bytes:
    """The abstract socket address of the process listed as `name` in `home`'s registry."""
    scope = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
    return f"\0streamwright-wake-{scope}-{name}".encode()


class WakeupBus:
    """One process's end of the wake-up hints of the installation at `home`.

    `subscribe(topic, callback)` before or after `start()`; `notify(topic)` after a record
    was acknowledged; `close()` on shutdown. Callbacks run in the event loop of `start()`.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self.registry = home / REGISTRY_DIR
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._callbacks: dict[str, list[Callback]] = defaultdict(list)
        self._socket: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.received = 0  # hints taken from the socket (same user), for tests and debugging

    def start(self) -> None:
        """Listen (in the running event loop) and list this process in the registry."""
        if not available():
            raise RuntimeError("wake-up hints need Linux (abstract Unix sockets)")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            sock.bind(_address(self.home, self.name))
            sock.setblocking(False)
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(sock.fileno(), self._on_readable)
        except BaseException:
            sock.close()
            raise
        self._socket = sock
        self.registry.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.registry / self.name).touch()

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.registry / self.name).unlink()
        if self._socket is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None

    def subscribe(self, topic: str, callback: Callback) -> Callable[[], None]:
        """Call `callback` on every hint for `topic`; returns the function that unsubscribes."""
        self._callbacks[topic].append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks[topic].remove(callback)

        return unsubscribe

    def notify(self, topic: str) -> None:
        """Tell every process of the installation (this one directly) that `topic` has a new record."""
        self._dispatch(topic)
        payload = topic.encode()[:_MAX_TOPIC_BYTES]
        try:
            names = os.listdir(self.registry)
        except FileNotFoundError:
            return
        sender = self._socket
        if sender is None:
            return
        for name in names:
            if name == self.name:
                continue
            try:
                sender.sendto(payload, _address(self.home, name))
            except (ConnectionRefusedError, FileNotFoundError):
                # Nobody listens there any more (a process killed without cleanup): drop it.
                with contextlib.suppress(FileNotFoundError):
                    (self.registry / name).unlink()
            except OSError:
                pass  # e.g. its buffer is full: it is busy anyway, and its probe fetch comes

    def _on_readable(self) -> None:
        sock = self._socket
        if sock is None:
            return
        own_uid = os.getuid()
        while True:
            try:
                data, ancillary, _, _ = sock.recvmsg(_MAX_TOPIC_BYTES, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                log.warning("wake-up socket read failed", error=str(error))
                return
            if _sender_uid(ancillary) != own_uid:
                continue
            self.received += 1
            self._dispatch(data.decode(errors="replace"))

    def _dispatch(self, topic: str) -> None:
        for callback in list(self._callbacks.get(topic, ())):
            callback()


def _sender_uid(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= _CREDENTIALS.size:
            _, uid, _ = _CREDENTIALS.unpack(data[: _CREDENTIALS.size])
            return int(uid)
    return None
