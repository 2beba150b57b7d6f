"""Schema migrations: find the shipped Alembic scripts, migrate on first use, refuse newer schemas.

Every command checks the schema when it opens the archive; that check reads the revision table
and the scripts' ``revision`` lines directly, so that a command on an up-to-date archive never
imports Alembic (about a third of a second). Alembic runs only when there is something to do.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, exc, inspect, text

from assistdb.errors import DatabaseError, SchemaTooNewError
from assistdb.store.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

_PACKAGE = Path(__file__).resolve().parents[1]
_ADVISORY_LOCK_KEY = 0x61737369  # "assi": serialises concurrent migrations on PostgreSQL


def migrations_dir() -> Path:
    """The Alembic scripts: inside the installed wheel, or the source tree's top-level folder."""
    shipped = _PACKAGE / "_migrations" / "alembic"
    return shipped if shipped.is_dir() else _PACKAGE.parent / "alembic"


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


_REVISION_LINE = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*(.*?)\s*$", re.MULTILINE)


@functools.cache
def _declared_head() -> str | None:
    """The single head named by the scripts' ``revision = "..."`` and ``down_revision = "..."``
    lines, or None when they are anything but one plain string each (then ask Alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (migrations_dir() / "versions").glob("*.py"):
        found = dict(
            (name, value) for name, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8"))
        )
        revision, parent = found.get("revision", ""), found.get("down_revision", "")
        if not re.fullmatch(r"[\"'][\w-]+[\"']", revision) or not re.fullmatch(
            r"None|[\"'][\w-]+[\"']", parent
        ):
            return None
        revisions.add(revision.strip("\"'"))
        if parent != "None":
            parents.add(parent.strip("\"'"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.read() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _recorded_revision(database: Database) -> str | None:
    """The revision in ``alembic_version`` by plain SQL; None if there is no such table yet."""
    with database.read() as connection:
        try:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except exc.DBAPIError:  # no such table: a new archive (anything worse, Alembic reports)
            return None
    return rows[0] if len(rows) == 1 else None


def ensure_current(database: Database) -> None:
    """Migrate ``database`` to the newest schema unless it is already there; never downgrade,
    and never add our tables to another application's database."""
    declared = _declared_head()
    if declared is not None and _recorded_revision(database) == declared:
        return
    current = current_revision(database)
    if current == head_revision():
        return
    _refuse_unknown(database, current)
    upgrade(database)
    database.use_wal()


def upgrade(database: Database, revision: str = "head") -> None:
    from alembic.runtime.migration import MigrationContext

    from alembic import command

    with database.write() as connection:
        _lock(connection)
        current = MigrationContext.configure(connection).get_current_revision()
        _refuse_unknown(database, current)
        _refuse_foreign(database, connection, current)
        command.upgrade(alembic_config(connection), revision)


def _refuse_foreign(database: Database, connection: Connection, current: str | None) -> None:
    """A database with tables but no assistdb revision belongs to someone else: leave it alone."""
    tables = sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})
    if current is None and tables:
        raise _foreign(database, tables)


def _foreign(database: Database, tables: list[str]) -> DatabaseError:
    shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
    return DatabaseError(
        f"the database {database.display_url} belongs to another application (it has tables {shown} "
        "and no assistdb archive); assistdb will not add its tables to it",
        hint="use a new file or database, or an assistdb archive",
        situation="database_foreign",
    )


def downgrade(database: Database, revision: str) -> None:
    from alembic import command

    with database.write() as connection:
        _lock(connection)
        command.downgrade(alembic_config(connection), revision)


def _refuse_unknown(database: Database, current: str | None) -> None:
    if current is not None and current not in known_revisions():
        with database.read() as connection:
            tables = sorted(inspect(connection).get_table_names())
        if "versions" not in tables:  # another application's Alembic revision
            raise _foreign(database, tables)
        raise SchemaTooNewError(
            f"the database {database.display_url} has schema revision {current!r}, "
            "written by a newer assistdb",
            hint="upgrade assistdb (pip install -U assistdb); it never downgrades an archive",
        )


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
