"""Waking streams in this process when another process writes their run's events (PostgreSQL).

Every transaction that writes run events also sends ``NOTIFY assistdb_run_events, '<run id>'``
(PostgreSQL delivers it at commit, so the events are readable when it arrives). One thread per
process listens on a connection of its own and wakes the streams following that run at once,
instead of their 50 ms poll. The poll stays as the fallback: a lost connection (retried every
second) only makes wake-ups slower, never loses an event, because streams read the events back
from the database either way. SQLite has no such channel: there, streams on other processes poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import URL

log = logging.getLogger("assistdb.server")

CHANNEL = "assistdb_run_events"
#: How often the listening thread looks up from its connection to see if it should stop.
_CHECK_EVERY = 0.5
_RETRY_AFTER = 1.0


class EventWakeups:
    """A thread relaying the database's run-event notifications to ``wake(run_id)`` on ``loop``."""

    def __init__(self, url: URL, loop: asyncio.AbstractEventLoop, wake: Callable[[str], None]) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._loop = loop
        self._wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="assistdb-event-wakeups", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=_CHECK_EVERY * 4)

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for note in connection.notifies(timeout=_CHECK_EVERY):
                            with contextlib.suppress(RuntimeError):  # the loop has closed
                                self._loop.call_soon_threadsafe(self._wake, note.payload)
            except Exception as exc:  # any failure: streams poll until the thread is back
                name = type(exc).__name__
                log.warning("listening for run events failed (%s); streams poll meanwhile", name)
                self._stop.wait(_RETRY_AFTER)
