"""Smaller things a new user trips over: repeated metadata keys, what an empty filtered list
says, tracking many threads at once, and the server guide reachable from an installed CLI."""

from __future__ import annotations

from click.testing import CliRunner

from assistdb.cli import cli
from assistdb.repositories import api
from tests.cli.conftest import CLEARED, Cli, assert_one_line_error


def test_a_metadata_key_given_twice_with_two_values_is_an_error(sqlite_cli: Cli) -> None:
    before = sqlite_cli.archive()
    line = assert_one_line_error(
        sqlite_cli("threads", "create", "--metadata", "a=1", "--metadata", "a=2"), 2, "'a' is given twice"
    )
    assert "--metadata" in line
    assert sqlite_cli.archive() == before
    assert_one_line_error(sqlite_cli("threads", "list", "--metadata", "k=1", "--metadata", "k=2"), 2, "twice")
    same = sqlite_cli.json("threads", "create", "--metadata", "a=1", "--metadata", "a=1")
    assert same["metadata"] == {"a": "1"}  # saying the same thing twice is harmless


def test_an_empty_filtered_list_says_nothing_matches(sqlite_cli: Cli) -> None:
    assert "no threads in the archive" in sqlite_cli.ok("threads", "list").stderr
    sqlite_cli.json("threads", "create", "--metadata", "k=v")
    result = sqlite_cli.ok("threads", "list", "--metadata", "k=nomatch")
    assert result.stdout == "" and "no archived thread matches" in result.stderr
    assert "no runs match" in sqlite_cli.ok("runs", "list", "--status", "failed").stderr


def test_tracking_many_threads_prints_a_summary_not_a_line_each(sqlite_cli: Cli) -> None:
    threads = [sqlite_cli.json("threads", "create")["id"] for _ in range(5)]
    result = sqlite_cli.ok("threads", "track", *threads, threads[0])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("tracking 5 thread(s): ") and lines[0].endswith(", …")
    assert "threads sync --all" in lines[1]
    assert len(sqlite_cli.json("threads", "track", *threads)) == 5


def test_the_server_guide_is_printed_by_the_cli() -> None:
    runner = CliRunner()
    env = dict.fromkeys(CLEARED)
    assert "assistdb docs server" in runner.invoke(cli, ["serve", "--help"], env=env).stdout
    listed = runner.invoke(cli, ["docs"], env=env)
    assert listed.exit_code == 0 and {"cli", "server"} <= set(listed.stdout.split())
    guide = runner.invoke(cli, ["docs", "server"], env=env)
    assert guide.exit_code == 0 and guide.stdout.startswith("# ") and "/tool" in guide.stdout
    assert_one_line_error(runner.invoke(cli, ["docs", "nope"], env=env), 3, "server")


def test_messages_of_a_thread_the_archive_only_knows_through_them_are_listed(sqlite_cli: Cli) -> None:
    thread = api.call(sqlite_cli.sdk.beta.threads.create)  # made elsewhere: not archived
    added = sqlite_cli.json("messages", "add", thread.id, "hello")
    assert [m["id"] for m in sqlite_cli.json("messages", "list", thread.id)] == [added["id"]]
    assert_one_line_error(sqlite_cli("messages", "list", "thread_nope"), 3, "threads track")
