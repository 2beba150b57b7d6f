"""Server-sent events for ``stream: true``: a run's events, in order, until it rests.

The stream follows the run's events from the point the request began, so it works on any
process: events this process commits are handed to it at once (no read back); events another
process writes are read from the database, woken by PostgreSQL's NOTIFY or a brief poll. The stream is only an
observer: if the client goes away the run carries on exactly as if it were being polled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from assistdb.server.run_driver import Follower, Runtime
from assistdb.server.state import Event

#: Events after which a run waits for the client or is over: the stream ends with them.
RESTING_EVENTS = frozenset(
    {
        "thread.run.requires_action",
        "thread.run.completed",
        "thread.run.failed",
        "thread.run.cancelled",
        "thread.run.expired",
        "thread.run.incomplete",
    }
)
DONE = b"event: done\ndata: [DONE]\n\n"
#: How often a stream looks for new events of a run another process drives.
REMOTE_POLL = 0.05
LOCAL_POLL = 1.0
#: Events read from the database at a time.
READ_LIMIT = 500


def encode(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


async def run_events(
    runtime: Runtime, run_id: str, after: int, follower: Follower, written: list[Event]
) -> AsyncIterator[bytes]:
    """Yield the SSE frames of one run's events numbered above ``after``, ending with ``done``.

    ``follower`` was registered when the request that opened the stream committed, and
    ``written`` holds what that commit wrote: the stream starts from them without a read."""
    follower.adopted = True
    last = after
    first: list[Event] | None = written if written and written[0][0] == after + 1 else None
    look = first is None  # read the database: at first, after a quiet wait, or when told to
    try:
        if written:
            # One turn of the loop for the run's driver first: a run created here then sends its
            # model request before the stream's first write, which the first token waits on.
            await asyncio.sleep(0)
        while not runtime.stopping:
            rows = first if first is not None else None if look else follower.take(last)
            first = None
            gone = False
            if rows is None:
                with runtime.store.reading() as tx:
                    rows = tx.events_after(run_id, last, READ_LIMIT)
                    gone = not rows and tx.run_by_id(run_id) is None
            frames = []
            for n, event, data in rows:
                last = n
                frames.append(encode(event, data))
                if event in RESTING_EVENTS:
                    frames.append(DONE)
                    yield b"".join(frames)
                    return
            if frames:
                # The events that are ready go out in one write: on loopback each write costs a
                # system call and a wake-up of the client, which a run's first token waits for.
                yield b"".join(frames)
            if gone:
                return
            if len(rows) >= READ_LIMIT:
                look = True
            elif not rows:
                poll = LOCAL_POLL if runtime.drives(run_id) else REMOTE_POLL
                look = not await runtime.wait(follower, poll)
            else:
                look = False
    finally:
        runtime.unfollow(run_id, follower)
