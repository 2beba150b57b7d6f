"""``assistdb db``: where the archive is and its schema; database failures are exit 7."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import text

from assistdb.cli import cli
from assistdb.store import Database, default_database_path, migrations
from tests.cli.conftest import CLEARED, assert_one_line_error


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={**dict.fromkeys(CLEARED), **(env or {})})


def test_path_names_the_file_without_opening_anything(tmp_path: Path) -> None:
    assert invoke("db", "path").stdout.strip() == str(default_database_path())
    target = tmp_path / "not" / "yet" / "archive.sqlite3"
    result = invoke("--db", f"sqlite:///{target}", "db", "path")
    assert (result.exit_code, result.stdout.strip()) == (0, str(target))
    assert not (tmp_path / "not").exists()
    from_env = invoke("db", "path", env={"ASSISTDB_DATABASE_URL": f"sqlite:///{target}"})
    assert from_env.stdout.strip() == str(target)
    # A server that is not there is never contacted, and the password is never shown.
    remote = invoke("--db", "postgresql://me:s3cret@127.0.0.1:1/archive", "db", "path")
    assert remote.exit_code == 0 and "s3cret" not in remote.output
    assert remote.stdout.strip() == "postgresql+psycopg://me:***@127.0.0.1:1/archive"


def test_current_and_upgrade(database_url: str) -> None:
    head = migrations.head_revision()
    fresh = invoke("--db", database_url, "db", "current")
    assert fresh.exit_code == 0
    assert fresh.stdout.startswith(f"empty (head is {head}")
    upgraded = invoke("--db", database_url, "db", "upgrade")
    assert upgraded.exit_code == 0 and f"from empty to {head}" in upgraded.stderr and upgraded.stdout == ""
    assert invoke("--db", database_url, "db", "current").stdout.strip() == f"{head} (head)"
    state = json.loads(invoke("--db", database_url, "db", "current", "--json").stdout)
    assert (state["current"], state["head"], state["up_to_date"]) == (head, head, True)
    assert f"already at {head}" in invoke("--db", database_url, "db", "upgrade").stderr


def test_an_archive_from_a_newer_assistdb_is_refused(database_url: str) -> None:
    assert invoke("--db", database_url, "db", "upgrade").exit_code == 0
    database = Database(database_url)
    try:
        with database.write() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    finally:
        database.dispose()
    assert_one_line_error(
        invoke("--db", database_url, "threads", "list"), 7, "newer assistdb", "pip install -U"
    )
    assert_one_line_error(invoke("--db", database_url, "db", "upgrade"), 7, "9999_future")


def test_bad_database_urls_are_exit_7(tmp_path: Path) -> None:
    assert_one_line_error(invoke("--db", "mysql://x/y", "threads", "list"), 7, "unsupported database 'mysql'")
    assert_one_line_error(invoke("--db", "not a url", "threads", "list"), 7, "invalid database URL")
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_one_line_error(invoke("--db", f"sqlite:///{blocker}/archive.sqlite3", "threads", "list"), 7)
