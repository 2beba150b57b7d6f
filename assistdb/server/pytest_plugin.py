"""Pytest fixtures for testing against the local Assistants server (registered as plugin ``assistdb``).

``assistdb_server`` is a started ``LocalServer`` tuned for fast tests (runs take 0.05 s per
phase, clients poll every 50 ms); ``assistdb_server_factory`` starts servers with other settings.
Every server a fixture starts is stopped when the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from assistdb.server.local import LocalServer

FAST_SETTINGS: dict[str, Any] = {"run_latency": 0.05, "poll_after_ms": 50}


@pytest.fixture
def assistdb_server_factory() -> Iterator[Callable[..., LocalServer]]:
    """Start ``LocalServer(**kwargs)``; unset ``run_latency``/``poll_after_ms`` default to the fast values."""
    from assistdb.server.local import LocalServer

    started: list[LocalServer] = []

    def start(**kwargs: Any) -> LocalServer:
        server = LocalServer(**{**FAST_SETTINGS, **kwargs})
        server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def assistdb_server(assistdb_server_factory: Callable[..., LocalServer]) -> LocalServer:
    """A started local Assistants v2 server with fast run pacing."""
    return assistdb_server_factory()
