"""``assistdb threads`` and ``assistdb messages``: create, adopt, search, sync, read."""

from __future__ import annotations

import json
import time

from assistdb.repositories import api
from assistdb.store import Store
from tests.cli.conftest import Cli, assert_one_line_error


def test_create_tracks_and_archives_the_thread_and_its_messages(run_cli: Cli) -> None:
    thread = run_cli.json(
        "threads", "create", "--message", "first", "--message", "second", "--metadata", "k=v"
    )
    assert thread["object"] == "thread" and thread["metadata"] == {"k": "v"}
    store = Store(run_cli.database_url)
    try:
        assert store.tracking.thread_ids() == [thread["id"]]
    finally:
        store.close()
    texts = [m["content"][0]["text"]["value"] for m in run_cli.json("messages", "list", thread["id"])]
    assert texts == ["first", "second"]
    assert run_cli.json("threads", "show", thread["id"]) == thread
    shown = run_cli.ok("threads", "show", thread["id"]).stdout
    assert "messages:    2" in shown and "tracked:     yes" in shown


def test_list_filters_on_metadata_dates_assistants_and_deletion(run_cli: Cli) -> None:
    red = run_cli.json("threads", "create", "--metadata", "color=red", "--metadata", "size=l")
    blue = run_cli.json("threads", "create", "--metadata", "color=blue")

    def ids(*args: str) -> list[str]:
        return [t["id"] for t in run_cli.json("threads", "list", *args)]

    both = {blue["id"], red["id"]}  # created within a second: their order is not defined
    assert set(ids()) == both
    assert ids("--metadata", "color=red") == [red["id"]]
    assert ids("--metadata", "color=red", "--metadata", "size=s") == []
    assert len(ids("--limit", "1")) == 1
    assert ids("--until", "2000-01-01") == []
    assert set(ids("--since", "2000-01-01T00:00")) == both
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    assert ids("--since", tomorrow) == []

    assistant = run_cli.json("assistants", "create", "--name", "a", "--model", "gpt-4o")
    run_cli.ok("runs", "create", red["id"], "--assistant", assistant["id"], "--wait")
    assert ids("--assistant", assistant["id"]) == [red["id"]]

    run_cli.ok("threads", "delete", blue["id"], "--yes")
    assert ids() == [red["id"]]
    with_deleted = {t["id"]: t for t in run_cli.json("threads", "list", "--deleted")}
    assert {key: t.get("deleted", False) for key, t in with_deleted.items()} == {
        blue["id"]: True,
        red["id"]: False,
    }
    assert with_deleted[blue["id"]]["metadata"] == {"color": "blue"}  # its last archived state
    table = run_cli.ok("threads", "list", "--deleted").stdout.splitlines()
    assert table[0].split() == ["ID", "CREATED", "METADATA", "DELETED"]
    assert any(line.startswith(blue["id"]) and line.endswith("yes") for line in table[1:])


def test_show_reads_the_archive_unless_remote_and_track_adopts(run_cli: Cli) -> None:
    made_elsewhere = api.call(run_cli.sdk.beta.threads.create, metadata={"from": "elsewhere"})
    assert_one_line_error(
        run_cli("threads", "show", made_elsewhere.id), 3, "archive has no thread", "--remote"
    )
    remote = run_cli.json("threads", "show", made_elsewhere.id, "--remote")
    assert remote["metadata"] == {"from": "elsewhere"}
    tracked = run_cli.json("threads", "track", made_elsewhere.id)
    assert [t["id"] for t in tracked] == [made_elsewhere.id]
    assert "tracked:     yes" in run_cli.ok("threads", "show", made_elsewhere.id).stdout
    assert_one_line_error(run_cli("threads", "track", "thread_missing"), 3)


def test_sync_picks_up_what_happened_remotely(run_cli: Cli) -> None:
    seeded = run_cli.server.seed_thread(messages=6, runs=2)
    run_cli.ok("threads", "track", seeded)
    summary = run_cli.json("threads", "sync", seeded)
    assert summary["threads"] == 1 and summary["failed"] == 0
    assert summary["versions"] > 6
    assert len(run_cli.json("messages", "list", seeded)) == 6
    assert len(run_cli.json("runs", "list", "--thread", seeded)) == 2

    api.call(run_cli.sdk.beta.threads.messages.create, seeded, role="user", content="one more")
    again = run_cli.json("threads", "sync", "--all")
    assert again["versions"] == 1
    assert len(run_cli.json("messages", "list", seeded)) == 7
    human = run_cli.ok("threads", "sync", "--all", "--full")
    assert "threads:" in human.stdout and human.stderr == ""  # no progress bar off a terminal


def test_sync_needs_threads_or_all(sqlite_cli: Cli) -> None:
    assert_one_line_error(sqlite_cli("threads", "sync"), 2, "--all")
    assert_one_line_error(sqlite_cli("threads", "sync", "thread_a", "--all"), 2, "--all")
    assert_one_line_error(sqlite_cli("threads", "sync", "--all", "--workers", "0"), 2, "--workers")


def test_messages_add_list_show(sqlite_cli: Cli) -> None:
    thread = sqlite_cli.json("threads", "create")
    added = sqlite_cli.json("messages", "add", thread["id"], "hello", "--metadata", "n=1")
    assert (added["object"], added["role"], added["metadata"]) == ("thread.message", "user", {"n": "1"})
    piped = sqlite_cli.json("messages", "add", thread["id"], "-", "--role", "assistant", input="from stdin\n")
    assert piped["content"][0]["text"]["value"] == "from stdin\n" and piped["role"] == "assistant"
    archived = sqlite_cli.json("messages", "list", thread["id"])
    assert [m["id"] for m in archived] == [added["id"], piped["id"]]
    assert sqlite_cli.json("messages", "list", thread["id"], "--remote") == archived
    assert sqlite_cli.json("messages", "list", thread["id"], "--limit", "1") == archived[-1:]
    assert sqlite_cli.json("messages", "show", added["id"]) == added
    assert sqlite_cli.json("messages", "show", added["id"], "--remote") == added
    shown = sqlite_cli.ok("messages", "show", added["id"]).stdout
    assert shown.rstrip().endswith("hello")
    table = sqlite_cli.ok("messages", "list", thread["id"]).stdout.splitlines()
    assert table[0].split() == ["ID", "ROLE", "CREATED", "TEXT"]
    assert table[2].startswith(piped["id"]) and table[2].rstrip().endswith("from stdin")


def test_thread_and_message_errors_change_nothing(run_cli: Cli) -> None:
    thread = run_cli.json("threads", "create")
    before = run_cli.archive()
    assert_one_line_error(run_cli("messages", "add", "thread_nope", "hi"), 3)
    assert_one_line_error(run_cli("messages", "add", thread["id"], "hi", "--role", "system"), 2, "--role")
    many = [arg for i in range(17) for arg in ("--metadata", f"k{i}=v")]
    assert_one_line_error(run_cli("threads", "create", *many), 2, "17 pairs")
    assert_one_line_error(run_cli("messages", "show", "msg_nope"), 3, "archive has no message")
    assert_one_line_error(run_cli("threads", "list", "--since", "yesterday"), 2, "--since")
    assert_one_line_error(run_cli("threads", "delete", thread["id"]), 2, "--yes")
    assert run_cli.archive() == before


def test_a_thread_that_fails_to_sync_is_exit_4_and_the_next_sync_carries_on(sqlite_cli: Cli) -> None:
    thread = sqlite_cli.json("threads", "create", "--message", "hi")
    sqlite_cli.server.configure(fault_rate=1.0, rate_limit_share=1.0)  # every request: 429
    failed = sqlite_cli("threads", "sync", thread["id"], "--json")
    assert_one_line_error(failed, 4, "1 of 1 thread(s) failed to sync", thread["id"], "run the sync again")
    assert json.loads(failed.stdout)["failed"] == 1  # the summary still reaches stdout
    sqlite_cli.server.configure(fault_rate=0.0)
    assert sqlite_cli.json("threads", "sync", thread["id"])["failed"] == 0
