"""Settings of the local Assistants server, shared by ``LocalServer`` and ``assistdb serve``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistdb.server.backends.chat_completions import UpstreamSettings

#: Settings that may change while the server runs (see ``LocalServer.configure``).
RUNTIME_SETTINGS = frozenset(
    {
        "run_latency",
        "poll_after_ms",
        "run_expiry",
        "fault_rate",
        "rate_limit_share",
        "latency",
        "spike_rate",
        "spike",
    }
)


@dataclass
class ServerConfig:
    """How the server behaves; every knob is off or fast by default except run pacing."""

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str | None = None
    run_latency: float = 0.5
    poll_after_ms: int = 1000
    run_expiry: float = 600.0
    fault_rate: float = 0.0
    rate_limit_share: float = 1 / 3
    latency: float = 0.0
    spike_rate: float = 0.0
    spike: float = 1.0
    seed: int | None = None
    #: Where the server's objects live; ``None`` is a private in-memory SQLite database.
    database_url: str | None = None
    #: Seconds a process's claim on a run lasts unless renewed (it renews every few seconds).
    lease_seconds: float = 10.0
    #: Seconds between two sweeps for runs to expire or take over.
    sweep_interval: float = 1.0
    #: Most runs this process drives at once (``None``: no limit; ``0``: it only serves the API).
    max_runs: int | None = None
    #: The Chat Completions endpoint that answers runs; ``None``: the scripted model.
    upstream: UpstreamSettings | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting out of range."""
        for name in ("fault_rate", "rate_limit_share", "spike_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in ("run_latency", "latency", "spike"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        for name in ("lease_seconds", "sweep_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_runs is not None and self.max_runs < 0:
            raise ValueError(f"max_runs must not be negative, got {self.max_runs}")
        if self.run_expiry <= 0:
            raise ValueError(f"run_expiry must be positive, got {self.run_expiry}")
        if self.poll_after_ms < 0:
            raise ValueError(f"poll_after_ms must not be negative, got {self.poll_after_ms}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")

    def update(self, **changes: Any) -> None:
        """Apply runtime changes atomically: all of them or, if one is invalid, none."""
        unknown = set(changes) - RUNTIME_SETTINGS
        if unknown:
            raise TypeError(f"cannot change {', '.join(sorted(unknown))} at runtime")
        candidate = dataclasses.replace(self, **changes)
        for name in changes:
            setattr(self, name, getattr(candidate, name))
