"""What the engine knows about the run it waits for: its latest state, its current phase, when
to poll next, and how much time is left. No I/O here; drivers feed it what they observe."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from openai.types.beta.threads import Run

from assistdb.runner.rules.durations import LEARNABLE_ENDS, Bracket, DurationBook, Key
from assistdb.runner.rules.schedule import DEFAULT_INTERVAL, PollSchedule, interval_from_header
from assistdb.runner.rules.statuses import is_busy

Clock = Callable[[], float]


@dataclass(frozen=True)
class Observed:
    """One state of the run as an answer or an event delivered it (times from the session's clock).

    ``sent_at`` is when the request that returned it was sent; a streamed state arrives as it
    happens, so there both times are its arrival.
    """

    run: Run
    sent_at: float
    received_at: float
    poll_after_ms: str | None = None


class RunSession:
    """The state of one wait; ``timeout`` is in seconds from now (None: no limit)."""

    def __init__(self, *, timeout: float | None, book: DurationBook, clock: Clock = time.monotonic):
        self.book = book
        self.clock = clock
        self.timeout = timeout
        self.deadline = None if timeout is None else clock() + timeout
        self.interval = DEFAULT_INTERVAL
        self._run: Run | None = None
        self._phase_start: float | None = None
        self._learnable = False
        self._busy_until = 0.0
        self._schedule: PollSchedule | None = None

    @property
    def has_run(self) -> bool:
        return self._run is not None

    @property
    def run(self) -> Run:
        if self._run is None:
            raise RuntimeError("no run has been observed yet")
        return self._run

    @property
    def key(self) -> Key:
        return (self.run.assistant_id, self.run.model)

    def begin_phase(self, sent_at: float, *, learnable: bool = True) -> None:
        """The run was set going (created, or given tool outputs) by a request sent at ``sent_at``."""
        self._phase_start = sent_at
        self._learnable = learnable
        self._busy_until = 0.0
        self._schedule = None

    def observe(self, seen: Observed) -> None:
        if seen.poll_after_ms is not None:
            interval = interval_from_header(seen.poll_after_ms)
            if interval != self.interval:
                self.interval, self._schedule = interval, None
        self._run = seen.run
        status = seen.run.status
        start = self._phase_start
        if start is None:
            if is_busy(status):  # joined a run that was already going: no phase to learn from
                self.begin_phase(seen.sent_at, learnable=False)
            return
        if status == "cancelling":
            self._learnable = False
        if is_busy(status):
            self._busy_until = max(self._busy_until, seen.sent_at - start)
            return
        if self._learnable and status in LEARNABLE_ENDS:
            self.book.add(self.key, Bracket(self._busy_until, seen.received_at - start))
        self._phase_start, self._schedule = None, None

    def poll_delay(self) -> float:
        """Seconds to wait before the next poll of a busy run (never past the deadline)."""
        now = self.clock()
        if self._phase_start is None:
            self.begin_phase(now, learnable=False)
        start = self._phase_start
        assert start is not None
        if self._schedule is None:
            expected = self.book.expected(self.key) if self._learnable else None
            self._schedule = PollSchedule(expected, self.interval)
        moment = start + self._schedule.next_poll(now - start)
        if self.deadline is not None:
            moment = min(moment, self.deadline)
        return max(0.0, moment - now)

    def timed_out(self) -> bool:
        return self.deadline is not None and self.clock() >= self.deadline

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - self.clock())
