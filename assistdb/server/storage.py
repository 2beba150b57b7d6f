"""Opening the server's database: SQLite or PostgreSQL, migrated with the project's Alembic scripts.

The server shares the database plumbing (URLs, engines, error translation, migrations) with the
archive; its own tables come from revision 0004. Without a URL the state lives in a private
in-memory SQLite database, gone when the process ends (``LocalServer`` in tests).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from assistdb.server.config import ServerConfig
from assistdb.server.ids import IdFactory
from assistdb.server.state import ServerState
from assistdb.store import migrations
from assistdb.store.database import Database

DATABASE_URL_ENV = "ASSISTDB_SERVER_DATABASE_URL"
IN_MEMORY = "sqlite://"


def default_server_database_url() -> str:
    """``assistdb serve``'s database unless told otherwise: a SQLite file in the user data dir."""
    explicit = os.environ.get(DATABASE_URL_ENV)
    if explicit:
        return explicit
    path = Path(platformdirs.user_data_dir("assistdb", appauthor=False)) / "server.sqlite3"
    return f"sqlite:///{path}"


def open_state(config: ServerConfig) -> ServerState:
    """Open and migrate the configured database; seeded IDs differ on every start of a process."""
    database = Database(config.database_url or IN_MEMORY)
    migrations.ensure_current(database)
    seed = config.seed
    if seed is None:
        return ServerState(database, IdFactory())
    store = ServerState(database, IdFactory())
    with store.writing() as tx:
        boot = tx.next_boot()
    return ServerState(database, IdFactory(f"{seed}:{boot}"))
