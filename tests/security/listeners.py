"""The listening sockets of a process tree, read from /proc (Linux): which address each binds.

`listeners(pids)` -> (pid, address, port) for every TCP socket in LISTEN state owned by one of
`pids`, read from /proc/net/tcp{,6} and each process's file descriptors. A listener is on
loopback when its address is 127.0.0.0/8, ::1 or ::ffff:127.x.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

LISTEN = "0A"


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (from /proc/<pid>/task/*/children)."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1])
    # /proc prints IPv6 as four host-order 32-bit words
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return ipaddress.IPv6Address(words)


def _listening_inodes() -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != LISTEN:
                continue
            host, port = local.split(":")
            out[inode] = (str(_address(host)), int(port, 16))
    return out


def listeners(pids: Iterable[int]) -> list[tuple[int, str, int]]:
    inodes = _listening_inodes()
    found = []
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = target[len("socket:[") : -1]
                if inode in inodes:
                    found.append((pid, *inodes[inode]))
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def exposed(pids: Iterable[int]) -> list[tuple[int, str, int]]:
    """The listeners of `pids` that are not on loopback (0.0.0.0 and :: included)."""
    return [item for item in listeners(pids) if not is_loopback(item[1])]
