"""Injected faults and latency, for testing how clients recover. Off unless configured.

Every request draws the same four random numbers whatever the settings, so with a seed the
sequence of faults is reproducible and does not shift when a setting changes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from assistdb.server.config import ServerConfig
from assistdb.server.errors import HttpError

_RATE_LIMIT_HEADERS = {"Retry-After": "1", "retry-after-ms": "100"}
_SERVER_ERRORS = {
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
}


@dataclass(frozen=True)
class Disruption:
    """What to do to one request: delay it, and maybe answer it with an error instead."""

    delay: float
    fault: HttpError | None


class FaultInjector:
    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._rng = random.Random(f"faults:{config.seed}") if config.seed is not None else random.Random()

    def draw(self) -> Disruption:
        config = self._config
        spike_draw, fault_draw, kind_draw, status_draw = (self._rng.random() for _ in range(4))
        delay = config.latency + (config.spike if spike_draw < config.spike_rate else 0.0)
        if fault_draw >= config.fault_rate:
            return Disruption(delay, None)
        if kind_draw < config.rate_limit_share:
            fault = HttpError(
                429,
                "Rate limit reached for requests. Please try again in 1s.",
                type="requests",
                code="rate_limit_exceeded",
                headers=dict(_RATE_LIMIT_HEADERS),
            )
        else:
            status = sorted(_SERVER_ERRORS)[min(2, int(status_draw * 3))]
            fault = HttpError(status, _SERVER_ERRORS[status], type="server_error")
        return Disruption(delay, fault)
