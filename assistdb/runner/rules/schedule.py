"""When to poll a busy run: the policy alone, in seconds since the run's current phase began.

A phase is the stretch from a request that sets the run going (create, or submit tool outputs) to
the moment it rests again (requires action, or ends). The server's ``openai-poll-after-ms`` is
treated as its preferred steady interval: consecutive polls are never further apart than that.

* Knowing nothing about the run, poll soon and back off geometrically up to that interval.
* Knowing where such phases ended before (a :class:`Bracket`, see :mod:`.durations`), spread
  the polls evenly (never further apart than the interval) so that one lands inside the
  bracket: at its middle while it is wide, just before its end once it is narrow. Then poll at
  the bracket's end, then back off again from dense polls. Once the bracket is narrow, the
  run's end is seen within a few tens of milliseconds with one or two polls around it, so no
  more requests than a fixed-interval poller makes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from assistdb.runner.rules.durations import Bracket

#: Interval used when the server sends no ``openai-poll-after-ms``.
DEFAULT_INTERVAL = 1.0
#: No two polls are closer than this, whatever the server asks.
MIN_GAP = 0.01
#: Without history: the first poll, and the factor each later gap grows by.
COLD_FIRST = 0.05
COLD_GROWTH = 2.0
#: With history: how long before the expected end the poll inside a narrow bracket lands.
GUARD = 0.025
#: With history: the first gap once the bracket's end has passed, and the factor gaps grow by.
DENSE_GAP = 0.025
DENSE_GROWTH = 1.5


def interval_from_header(value: str | None) -> float:
    """The server's steady poll interval in seconds, from ``openai-poll-after-ms``."""
    if value is None:
        return DEFAULT_INTERVAL
    try:
        milliseconds = float(value)
    except ValueError:
        return DEFAULT_INTERVAL
    if not math.isfinite(milliseconds) or milliseconds < 0:
        return DEFAULT_INTERVAL
    return max(MIN_GAP, milliseconds / 1000)


class PollSchedule:
    """The planned poll times of one phase; ``expected`` is None when nothing is known."""

    def __init__(self, expected: Bracket | None, interval: float = DEFAULT_INTERVAL) -> None:
        self.expected = expected
        self.interval = max(MIN_GAP, interval)
        self._planned = self._plan()
        self._upcoming = next(self._planned)

    def next_poll(self, elapsed: float) -> float:
        """When to poll next, given that ``elapsed`` seconds of the phase have passed.

        Planned times already behind us are skipped (a slow response covers them), and polls
        are never closer together than :data:`MIN_GAP`.
        """
        while self._upcoming <= elapsed:
            self._upcoming = next(self._planned)
        return max(self._upcoming, elapsed + MIN_GAP)

    def _plan(self) -> Iterator[float]:
        expected = self.expected
        if expected is None:
            yield from self._backing_off(0.0, min(COLD_FIRST, self.interval), COLD_GROWTH)
            return
        probe = max(MIN_GAP, min(expected.high - GUARD, (expected.low + expected.high) / 2))
        steps = max(1, math.ceil(probe / self.interval - 1e-9))
        for step in range(1, steps + 1):
            yield probe * step / steps
        last = probe
        while expected.high - last > self.interval:  # a wide bracket: keep within the interval
            last += self.interval
            yield last
        if expected.high > last + MIN_GAP:
            last = expected.high
            yield last
        yield from self._backing_off(last, min(DENSE_GAP, self.interval), DENSE_GROWTH)

    def _backing_off(self, start: float, gap: float, growth: float) -> Iterator[float]:
        moment = start
        while True:
            moment += gap
            yield moment
            gap = min(self.interval, gap * growth)
