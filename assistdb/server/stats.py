"""Request counters, read from other threads by tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestStats:
    """Counts ``/v1`` requests: in total, per ``METHOD route-template``, and injected faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = 0
        self._faults = 0
        self._by_route: Counter[str] = Counter()

    def count(self, route: str | None) -> None:
        with self._lock:
            self._total += 1
            if route is not None:
                self._by_route[route] += 1

    def count_fault(self) -> None:
        with self._lock:
            self._faults += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self._total, "faults": self._faults, "by_route": dict(self._by_route)}

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._faults = 0
            self._by_route.clear()
