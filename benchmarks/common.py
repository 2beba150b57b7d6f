"""Helpers shared by the benchmark scripts: a server subprocess, temporary databases, tables."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy.engine import make_url


@contextmanager
def server_process(*options: str, api_key: str | None = None) -> Iterator[str]:
    """``assistdb serve`` in a subprocess on a free port, with a database of its own unless
    ``options`` name one; yields its base URL. The key goes by environment, as serve requires."""
    with tempfile.TemporaryDirectory(prefix="assistdb-bench-") as folder:
        database = (
            [] if "--database-url" in options else ["--database-url", f"sqlite:///{folder}/server.sqlite3"]
        )
        env = {**os.environ, **({"ASSISTDB_SERVER_API_KEY": api_key} if api_key else {})}
        process = subprocess.Popen(
            [sys.executable, "-m", "assistdb", "serve", "--port", "0", *database, *options],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if "listening on" not in line:
                raise RuntimeError(f"the server did not start: {line!r}")
            yield line.rsplit(" ", 1)[-1].strip()
        finally:
            process.terminate()
            process.wait(10)


@contextmanager
def temporary_postgres_database(admin_url: str) -> Iterator[str]:
    """A new PostgreSQL database for one benchmark, dropped afterwards."""
    import psycopg

    admin = make_url(admin_url).set(drivername="postgresql")
    name = f"assistdb_bench_{uuid.uuid4().hex[:10]}"
    libpq = admin.render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain Markdown table, so results paste straight into benchmarks/README.md."""
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
