"""Delivery of run events to the streams that follow a run.

The run engine pushes each event (already serialized, so it is a snapshot of that moment) to
every subscription of the run; a stream drains its subscription and sleeps until the next
event or the run's next scheduled transition, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


class Subscription:
    """A queue of ``(event name, JSON data)`` pairs for one stream."""

    def __init__(self) -> None:
        self._items: deque[tuple[str, str]] = deque()
        self._wake = asyncio.Event()
        self.closed = False

    def push(self, event: str, data: str) -> None:
        self._items.append((event, data))
        self._wake.set()

    def close(self) -> None:
        """End the stream early: its run is gone or the server is stopping."""
        self.closed = True
        self._wake.set()

    def drain(self) -> list[tuple[str, str]]:
        items = list(self._items)
        self._items.clear()
        return items

    async def wait(self, timeout: float | None) -> None:
        """Sleep until something is pushed, the subscription closes, or ``timeout`` passes."""
        if not self._items and not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
