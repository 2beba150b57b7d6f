"""A faithful, stateful OpenAI Assistants v2 server on SQLite or PostgreSQL (see docs/server.md).

``LocalServer`` runs it in a background thread; ``create_app`` builds the ASGI app for any ASGI
server; ``ServerConfig`` holds the settings both share. They are loaded on first use, so that a
module of the server that needs none of them (its tables, for the migrations every archive runs)
can be imported without importing the web stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistdb.server.app import create_app
    from assistdb.server.config import ServerConfig
    from assistdb.server.local import LocalServer

__all__ = ["LocalServer", "ServerConfig", "create_app"]

_HOMES = {
    "LocalServer": "assistdb.server.local",
    "ServerConfig": "assistdb.server.config",
    "create_app": "assistdb.server.app",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'assistdb.server' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
