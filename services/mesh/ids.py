"""Identifiers: ULIDs (time-ordered) and deterministic ids derived from other ids.

A handler that re-runs after a crash must publish the same output events, so output
event ids are derived from the input event id (`derive`), never drawn at random.
"""

from __future__ import annotations

import hashlib
import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_CROCKFORD[rem])
    return "".join(reversed(chars))


def new_ulid(now_ms: int | None = None) -> str:
    """A new ULID: 48-bit millisecond timestamp + 80 random bits, 26 Crockford base32 chars."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    randomness = int.from_bytes(os.urandom(10), "big")
    return _encode(ms, 10) + _encode(randomness, 16)


def derive(*parts: str) -> str:
    """A ULID-shaped id that is a pure function of `parts` (same parts, same id).

    The timestamp part is taken from the first part when it is a ULID, so derived ids
    still sort near the event they come from.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    head = parts[0][:10] if parts and is_ulid(parts[0]) else _encode(int.from_bytes(digest[:6], "big"), 10)
    return head + _encode(int.from_bytes(digest[6:16], "big"), 16)


def is_ulid(value: str) -> bool:
    return len(value) == 26 and all(c in _CROCKFORD for c in value) and value[0] in "01234567"
