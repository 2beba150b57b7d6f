"""Driving the real CLI: click's runner in-process (or a subprocess) against the local server over
HTTP and a real archive database, with helpers to check outputs, errors and archive effects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from assistdb.cli import cli
from assistdb.server import LocalServer
from assistdb.store import Store
from assistdb.store.archive import VERSIONS
from assistdb.store.tracking import TRACKED

REPO = Path(__file__).resolve().parents[2]
#: Environment variables a developer's shell may set that would leak into the tests.
CLEARED = (
    "ASSISTDB_DATABASE_URL",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_API_VERSION",
    "ASSISTDB_ARCHIVE_KEY",
)


@dataclass
class Cli:
    """``assistdb --db URL --base-url SERVER ...`` with the server's key in the environment."""

    server: LocalServer
    database_url: str

    def __call__(self, *args: str, input: str | None = None, key: str | None = "default") -> Result:
        env: dict[str, str | None] = dict.fromkeys(CLEARED)
        env["OPENAI_API_KEY"] = self.server.api_key if key == "default" else key
        runner = CliRunner()
        return runner.invoke(
            cli,
            ["--db", self.database_url, "--base-url", self.server.base_url, *args],
            input=input,
            env=env,
            catch_exceptions=False,
        )

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, input: str | None = None) -> Any:
        """Run with ``--json``; stdout must be exactly one JSON document."""
        return json.loads(self.ok(*args, "--json", input=input).stdout)

    def archive(self) -> ArchiveSnapshot:
        return snapshot(self.database_url)

    @property
    def sdk(self) -> Any:
        return self.server.client()


@dataclass(frozen=True)
class ArchiveSnapshot:
    versions: int
    tracked: int


def snapshot(database_url: str) -> ArchiveSnapshot:
    """How much the archive holds, to show that a failed command wrote nothing."""
    store = Store(database_url)
    try:
        with store.database.read() as connection:
            versions = connection.execute(select(func.count()).select_from(VERSIONS)).scalar_one()
            tracked = connection.execute(select(func.count()).select_from(TRACKED)).scalar_one()
        return ArchiveSnapshot(int(versions), int(tracked))
    finally:
        store.close()


def assert_one_line_error(result: Result, exit_code: int, *fragments: str) -> str:
    """The failure contract: this exit code, one ``error: message (hint)`` line (``internal
    error: ...`` for exit 1), no traceback."""
    assert result.exit_code == exit_code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("internal error: " if exit_code == 1 else "error: "), line
    assert line.endswith(")") and " (" in line, f"no hint in {line!r}"
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


@pytest.fixture
def run_cli(assistdb_server: LocalServer, database_url: str) -> Cli:
    return Cli(assistdb_server, database_url)


@pytest.fixture
def sqlite_cli(assistdb_server: LocalServer, sqlite_url: str) -> Cli:
    """For tests where the database backend does not matter."""
    return Cli(assistdb_server, sqlite_url)


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


@pytest.fixture
def assistdb_process() -> Iterator[Any]:
    """Start ``python -m assistdb ARGS`` as a real process; all are killed at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "assistdb", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or subprocess_env(),
            cwd=REPO,
            **popen,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr, process.stdin):
            if stream is not None:
                stream.close()
