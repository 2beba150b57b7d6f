"""``assistdb search`` and the SQL views: the archive as a database people can query, on SQLite
(FTS5) and PostgreSQL (tsvector), kept current by a trigger and built for existing archives."""

from __future__ import annotations

import time

from sqlalchemy import text

from assistdb.repositories import api
from assistdb.store import Database, Store, migrations
from tests import factories
from tests.cli.conftest import Cli, assert_one_line_error


def ids(hits: list[dict[str, object]]) -> list[object]:
    return [hit["message_id"] for hit in hits]


def test_search_ranks_filters_and_follows_the_archive(run_cli: Cli) -> None:
    assistant = run_cli.json("assistants", "create", "--name", "support", "--model", "gpt-4o")
    policy = run_cli.json("threads", "create", "--message", "What is your refund policy for damaged shoes?")
    shipping = run_cli.json("threads", "create", "--message", "Shipping is free; refunds take five days.")
    other = run_cli.json("threads", "create", "--message", "Nothing to see here.")
    run_cli.ok("runs", "create", policy["id"], "--assistant", assistant["id"], "--wait")
    question = run_cli.json("messages", "list", policy["id"])[0]
    shipping_message = run_cli.json("messages", "list", shipping["id"])[0]

    hits = run_cli.json("search", "refund policy")
    # Both words: the question, and the model's echo of it; "refunds" alone does not match both.
    assert set(ids(hits)) == {question["id"], run_cli.json("messages", "list", policy["id"])[1]["id"]}
    assert all("**" in hit["snippet"] for hit in hits)
    assert hits[0]["score"] >= hits[-1]["score"]

    stemmed = ids(run_cli.json("search", "refund"))
    assert shipping_message["id"] in stemmed and question["id"] in stemmed  # refunds ~ refund
    assert ids(run_cli.json("search", "refund", "--thread", shipping["id"])) == [shipping_message["id"]]
    assert ids(run_cli.json("search", "refund", "--role", "user", "--thread", policy["id"])) == [
        question["id"]
    ]
    assert ids(run_cli.json("search", "refund", "--assistant", assistant["id"], "--role", "assistant")) == [
        run_cli.json("messages", "list", policy["id"])[1]["id"]
    ]
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    assert run_cli.json("search", "refund", "--since", tomorrow) == []
    assert run_cli.json("search", 'refund OR "damaged* NEAR(') == []  # operators are just words
    assert other["id"] not in [hit["thread_id"] for hit in run_cli.json("search", "refund")]

    table = run_cli.ok("search", "refund policy").stdout.splitlines()
    assert table[0].split() == ["ID", "THREAD", "ROLE", "CREATED", "SNIPPET"]
    assert "no archived message contains" in run_cli.ok("search", "zebra").stderr
    assert_one_line_error(run_cli("search", "   "), 2, "empty")

    # A message deleted remotely leaves the index when the sync records the deletion.
    api.call(run_cli.sdk.beta.threads.messages.delete, shipping_message["id"], thread_id=shipping["id"])
    run_cli.ok("threads", "sync", shipping["id"], "--full")
    assert shipping_message["id"] not in ids(run_cli.json("search", "refund"))
    assert run_cli.ok("audit", "verify").stdout.startswith("ok:")  # the index is not the archive


def test_the_upgrade_indexes_an_existing_archive_and_the_views_read_it(database_url: str) -> None:
    database = Database(database_url)
    migrations.upgrade(database, "0004")  # an archive from before the search index (0005)
    database.dispose()
    old = Store(database_url, migrate=False)
    old.record(
        [
            factories.thread("thread_old"),
            factories.message("msg_1", "thread_old", text="The warranty covers two years."),
            factories.message(
                "msg_2", "thread_old", text="Thanks!", role="assistant", created_at=1_700_000_001
            ),
        ],
        track=["thread_old"],
    )
    old.close()

    store = Store(database_url)  # migrates to the head: views and index appear, filled
    try:
        from assistdb.store.search import search_messages

        assert [hit.message_id for hit in search_messages(store.database, "warranty")] == ["msg_1"]
        with store.database.read() as connection:
            messages = connection.execute(
                text("SELECT id, thread_id, role, text FROM messages ORDER BY created_at")
            ).all()
            parts = connection.execute(
                text("SELECT message_id, part, text FROM message_texts ORDER BY message_id")
            ).all()
            threads = connection.execute(text("SELECT id, metadata FROM threads")).all()
            counts = {
                view: connection.execute(text(f"SELECT count(*) FROM {view}")).scalar_one()
                for view in ("assistants", "threads", "messages", "runs", "run_steps", "message_texts")
            }
        assert [tuple(row) for row in messages] == [
            ("msg_1", "thread_old", "user", "The warranty covers two years."),
            ("msg_2", "thread_old", "assistant", "Thanks!"),
        ]
        assert [tuple(row) for row in parts] == [
            ("msg_1", 0, "The warranty covers two years."),
            ("msg_2", 0, "Thanks!"),
        ]
        assert [row.id for row in threads] == ["thread_old"]
        assert counts == {
            "assistants": 0,
            "threads": 1,
            "messages": 2,
            "runs": 0,
            "run_steps": 0,
            "message_texts": 2,
        }
        # A new version of a message replaces its index entry.
        store.record([factories.message("msg_1", "thread_old", text="The guarantee covers two years.")])
        assert search_messages(store.database, "warranty") == []
        assert [hit.message_id for hit in search_messages(store.database, "guarantee")] == ["msg_1"]
    finally:
        store.close()
