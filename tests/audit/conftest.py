"""Fixtures of the audit tests: an archive with a client of the local server, and a second,
empty database on the same backend to import into."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistdb import AssistDB
from assistdb.server import LocalServer
from tests.conftest import create_postgres_database, drop_postgres_database


@pytest.fixture
def db(database_url: str, assistdb_server: LocalServer) -> Iterator[AssistDB]:
    archive = AssistDB(database_url, client=assistdb_server.client())
    yield archive
    archive.close()


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """Another fresh database, on the same backend as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'imported.sqlite3'}"
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)
