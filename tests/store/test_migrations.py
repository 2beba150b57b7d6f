"""Migrations: automatic on first use, in step with the models, reversible, never downgrading."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect, text

from assistdb.errors import SchemaTooNewError
from assistdb.server import file_tables
from assistdb.server.tables import metadata as server_metadata
from assistdb.store import Database, Store, migrations
from assistdb.store.schema import is_modelled, metadata

REPO = Path(__file__).resolve().parents[2]


def test_a_new_database_is_migrated_on_first_use(database_url: str) -> None:
    store = Store(database_url)

    assert migrations.current_revision(store.database) == migrations.head_revision()
    tables = set(inspect(store.database.engine).get_table_names())
    assert {"versions", "tool_calls", "heads", "head_metadata", "chains", "tracked_threads"} <= tables
    store.close()


def test_autogenerate_finds_no_difference_between_models_and_migrations(database_url: str) -> None:
    store = Store(database_url)
    every_table = MetaData()
    for table in (*metadata.tables.values(), *server_metadata.tables.values()):
        table.to_metadata(every_table)
    with store.database.read() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True, "include_name": is_modelled}),
            every_table,
        )
    store.close()

    assert file_tables.chunks.name in server_metadata.tables
    assert [difference for difference in differences if not _full_text_index(difference)] == []


def _full_text_index(difference: object) -> bool:
    """FTS5's tables (SQLite), and the generated ``tsv`` column with its index (PostgreSQL), over
    vector store chunks are made by revision 0006 in SQL the models do not express."""
    if not isinstance(difference, tuple):
        return False
    if difference[0] == "remove_column":
        return bool(difference[2] == "server_vector_store_chunks" and difference[3].name == "tsv")
    name = getattr(difference[1], "name", "")
    return str(name).startswith(("server_vector_store_chunks_fts", "ix_server_vector_store_chunks_fts"))


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    database = Database(database_url)
    migrations.upgrade(database)
    migrations.downgrade(database, "base")
    assert migrations.current_revision(database) is None
    assert "versions" not in inspect(database.engine).get_table_names()

    migrations.upgrade(database)
    assert migrations.current_revision(database) == migrations.head_revision()
    database.dispose()


def test_a_database_from_a_newer_assistdb_is_refused_and_left_alone(database_url: str) -> None:
    Store(database_url).close()
    database = Database(database_url)
    with database.write() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))

    with pytest.raises(SchemaTooNewError, match="newer assistdb"):
        Store(database_url)
    assert migrations.current_revision(database) == "9999_future"
    database.dispose()


def test_alembic_command_line_works_from_the_source_tree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    environment = {**os.environ, "ASSISTDB_DATABASE_URL": url}

    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO,
        env=environment,
        check=True,
        capture_output=True,
    )
    offline = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head", "--sql"],
        cwd=REPO,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )

    assert migrations.current_revision(Database(url)) == migrations.head_revision()
    assert "CREATE TABLE versions" in offline.stdout and "CREATE TRIGGER" in offline.stdout
