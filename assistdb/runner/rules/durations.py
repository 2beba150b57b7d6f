"""How long a run's phases take, learned per assistant and model, to aim the polls.

Each phase we watch brackets its length: the run was still busy when a poll was sent ``low``
seconds into the phase, and had come to rest by the time an answer arrived ``high`` seconds in.
The book expects the next phase to end where the latest brackets overlap: their intersection,
going back from the newest for as long as they agree. While phases take the same time, that
window only narrows; when they change, the newest bracket disagrees with the older ones and the
window starts again from it. The poll schedule aims a poll inside the window (at its middle
while it is wide, so it halves from phase to phase; just below its end once it is narrow) and
the next at its end.

Brackets live in memory for the process and, so that a fresh process (a CLI command) starts
informed, are derived from the archive too: the ``observed_at_us`` of the versions of earlier
runs bracket their phases the same way, if a little more loosely.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistdb.runner.rules.statuses import REQUIRES_ACTION, is_busy
from assistdb.store import ArchiveReader, Filters

#: How many recent phases count, per key.
WINDOW = 16
#: How many earlier runs to read from the archive when a key is new to the process.
HISTORY_RUNS = 8
#: Phases that end like this say how long the work took; cancelled or expired ones do not.
LEARNABLE_ENDS = frozenset({REQUIRES_ACTION, "completed", "failed", "incomplete"})

Key = tuple[str, str]  # (assistant ID, model)


@dataclass(frozen=True)
class Bracket:
    """A phase's length lies in ``(low, high]`` seconds (or is expected to)."""

    low: float
    high: float


class DurationBook:
    """Recent phase brackets per (assistant, model); safe to share between threads."""

    def __init__(self, window: int = WINDOW) -> None:
        self._window = window
        self._lock = threading.Lock()
        self._phases: dict[Key, deque[Bracket]] = {}

    def add(self, key: Key, bracket: Bracket) -> None:
        with self._lock:
            self._phases.setdefault(key, deque(maxlen=self._window)).append(bracket)

    def knows(self, key: Key) -> bool:
        with self._lock:
            return bool(self._phases.get(key))

    def seed(self, key: Key, brackets: Iterable[Bracket]) -> None:
        """Start a key from history (oldest first), unless this process already knows it."""
        known = list(brackets)
        with self._lock:
            if not self._phases.get(key) and known:
                self._phases[key] = deque(known[-self._window :], maxlen=self._window)

    def expected(self, key: Key) -> Bracket | None:
        """Where the next phase of this kind is expected to end, or None if nothing is known."""
        with self._lock:
            brackets = list(self._phases.get(key, ()))
        low, high = 0.0, math.inf
        for bracket in reversed(brackets):
            narrower = max(low, bracket.low), min(high, bracket.high)
            if narrower[0] >= narrower[1]:
                if high < math.inf:
                    break
                continue  # a bracket that contradicts itself (clock steps): skip it
            low, high = narrower
        return None if high == math.inf else Bracket(low, high)


def phases_from_history(versions: Sequence[tuple[str, int]]) -> list[Bracket]:
    """The phases of a run bracketed by its archived versions, given as ``(status,
    observed_at_us)`` oldest first. A phase starts at a ``queued`` version (the answer to create
    or submit) and ends at the first resting one; cancelled phases are skipped."""
    brackets: list[Bracket] = []
    start: int | None = None
    busy_at = 0
    for status, observed_at_us in versions:
        if status == "queued":
            if start is None:
                start = busy_at = observed_at_us
            continue
        if start is None:
            continue
        if is_busy(status) and status != "cancelling":
            busy_at = observed_at_us
            continue
        if status in LEARNABLE_ENDS:
            brackets.append(Bracket((busy_at - start) / 1e6, (observed_at_us - start) / 1e6))
        start = None
    return brackets


def archived_brackets(reader: ArchiveReader, key: Key, *, exclude: str | None = None) -> list[Bracket]:
    """The phases of the latest archived runs of this assistant and model, oldest first."""
    assistant_id, model = key
    runs = reader.find("run", Filters(assistant_id=assistant_id), order="desc", limit=HISTORY_RUNS + 1)
    brackets: list[Bracket] = []
    for run in reversed(runs):
        if run.object_id == exclude or run.body.get("model") != model:
            continue
        versions = [
            (str(version.body.get("status")), version.observed_at_us)
            for version in reader.history(run.object_id)
            if not version.tombstone
        ]
        brackets.extend(phases_from_history(versions))
    return brackets
