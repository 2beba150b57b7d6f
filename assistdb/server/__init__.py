"""A faithful, stateful OpenAI Assistants v2 server on SQLite or PostgreSQL (see docs/server.md).

``LocalServer`` runs it in a background thread; ``create_app`` builds the ASGI app for any ASGI
server; ``ServerConfig`` holds the settings both share.
"""

from assistdb.server.app import create_app
from assistdb.server.config import ServerConfig
from assistdb.server.local import LocalServer

__all__ = ["LocalServer", "ServerConfig", "create_app"]
