"""Helpers shared by the benchmark scripts: a server subprocess, temporary databases, tables."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


@contextmanager
def server_process(*options: str, api_key: str | None = None) -> Iterator[str]:
    """``assistdb serve`` in a subprocess on a free port; yields its base URL."""
    with served(*options, api_key=api_key) as server:
        yield server.url


@dataclass(frozen=True)
class Served:
    """A running ``assistdb serve`` subprocess: its base URL (``.../v1``) and process ID."""

    url: str
    pid: int

    def rss_mb(self) -> float:
        """Resident memory of the process now (Linux ``/proc``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for process {self.pid}")


@contextmanager
def served(*options: str, api_key: str | None = None) -> Iterator[Served]:
    """``assistdb serve`` in a subprocess on a free port, with a database of its own unless
    ``options`` name one, stopped (SIGTERM) afterwards. The key goes by environment, as serve
    requires."""
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
            yield Served(line.rsplit(" ", 1)[-1].strip(), process.pid)
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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
