"""Server-sent events for ``stream: true``: a run's events, in order, until it rests.

The stream is only an observer: it drains its subscription and sleeps until the run's next
scheduled transition, advancing the run when it wakes. If the client goes away the run is
unaffected and carries on exactly as if it were being polled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from assistdb.server.events import Subscription
from assistdb.server.lifecycle import RunEngine

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


def encode(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


async def run_events(engine: RunEngine, run_id: str, subscription: Subscription) -> AsyncIterator[bytes]:
    """Yield the SSE frames of one run, ending with ``done`` once the run rests."""
    try:
        while True:
            state = engine.store.runs.get(run_id)
            if state is not None:
                engine.settle(state)
            for event, data in subscription.drain():
                yield encode(event, data)
                if event in RESTING_EVENTS:
                    yield DONE
                    return
            if state is None or subscription.closed:
                return
            due = engine.next_due(state)
            await subscription.wait(None if due is None else max(0.0, due - engine.clock()))
    finally:
        engine.unsubscribe(run_id, subscription)
