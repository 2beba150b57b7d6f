"""Alembic environment for assistdb, the same for SQLite and PostgreSQL, online and offline.

assistdb itself passes an open connection (``config.attributes["connection"]``) inside the
transaction that holds its migration lock; run by hand, the URL comes from ``-x url=...``,
``ASSISTDB_DATABASE_URL`` or the default archive location.
"""

from __future__ import annotations

from sqlalchemy import Connection, MetaData

from alembic import context
from assistdb.store.database import Database, parse_database_url
from assistdb.store.schema import is_modelled, metadata

config = context.config


def _url() -> str:
    explicit = context.get_x_argument(as_dictionary=True).get("url")
    return (
        parse_database_url(explicit).render_as_string(hide_password=False)
        if explicit
        else Database().url.render_as_string(hide_password=False)
    )


def _models() -> list[MetaData]:
    """What autogenerate compares the database with: the archive's tables and the server's.

    Imported only for Alembic run by hand; the upgrades assistdb runs itself need no models, and
    an archive-only command should not import the server for them."""
    from assistdb.server.tables import metadata as server_metadata

    return [metadata, server_metadata]


def _configure(
    connection: Connection | None = None, url: str | None = None, *, by_assistdb: bool = False
) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=None if by_assistdb else _models(),
        include_name=is_modelled,
        render_as_batch=True,
        compare_type=True,
        literal_binds=connection is None,
    )


def run_offline() -> None:
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection, by_assistdb=True)
        context.run_migrations()
        return
    database = Database(_url())
    with database.write() as own_connection:
        _configure(connection=own_connection)
        context.run_migrations()
    database.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
