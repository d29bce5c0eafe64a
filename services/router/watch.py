"""In-process change notifications for WatchRun (the store stays the source of truth)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict


class RunChanges:
    """`notify(run_id)` wakes every `wait(run_id)`; waiters re-read the store, so nothing is lost."""

    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = defaultdict(set)

    def notify(self, run_id: str) -> None:
        for event in list(self._events.get(run_id, ())):
            event.set()

    async def wait(self, run_id: str, timeout: float) -> None:  # noqa: ASYNC109 - a poll interval, not a deadline
        """Return on the next change of `run_id`, or after `timeout` seconds (other replicas' writes)."""
        event = asyncio.Event()
        self._events[run_id].add(event)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
        finally:
            waiters = self._events.get(run_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    self._events.pop(run_id, None)
