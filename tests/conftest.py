"""Shared fixtures: a fresh archive database per test, on SQLite and (when configured) PostgreSQL.

PostgreSQL tests run when ``ASSISTDB_TEST_POSTGRES_URL`` names a server where the user may
create databases (``.ci/run`` sets it); each test gets its own database, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

POSTGRES_ENV = "ASSISTDB_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def create_postgres_database() -> str:
    """A new, empty PostgreSQL database; returns its SQLAlchemy URL."""
    import psycopg

    admin = make_url(postgres_admin_url() or "")
    name = f"assistdb_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(admin), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    import psycopg

    name = make_url(url).database
    with psycopg.connect(_libpq(make_url(postgres_admin_url() or "")), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a fresh, empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'archive.sqlite3'}"
        return
    if not postgres_admin_url():
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archive.sqlite3'}"
