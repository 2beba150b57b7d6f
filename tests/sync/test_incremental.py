"""Incremental sync: the first sync archives everything, later ones only what is new or unfinished."""

from __future__ import annotations

import pytest

from assistdb import AssistDB
from assistdb.audit.verify import verify
from assistdb.repositories import api
from assistdb.server import LocalServer
from assistdb.store import Filters
from assistdb.store.tracking import checkpoint
from assistdb.sync import sync_thread
from tests.sync.helpers import (
    add_message,
    converse,
    duplicated_versions,
    new_assistant,
    start_run,
    version_rows,
    wait_run,
)

GET_RUN = "GET /v1/threads/{thread_id}/runs/{run_id}"
GET_MESSAGE = "GET /v1/threads/{thread_id}/messages/{message_id}"


def test_first_sync_archives_every_message_run_and_step(db: AssistDB, assistdb_server: LocalServer) -> None:
    thread_id = assistdb_server.seed_thread(messages=250, runs=40)
    assistdb_server.reset_stats()

    result = sync_thread(db, thread_id)

    assert result.ok and not result.gone
    # the thread, 3 pages of messages, 1 page of runs, and the steps of each run
    assert result.requests == assistdb_server.stats()["total"] == 1 + 3 + 1 + 40
    assert result.versions == 1 + 250 + 40 + 40
    reader, in_thread = db.store.reader, Filters(thread_id=thread_id)
    assert (reader.count("message", in_thread), reader.count("run", in_thread)) == (250, 40)
    assert reader.count("run_step", in_thread) == 40
    cursor = db.store.tracking.cursor(thread_id)
    assert cursor is not None and cursor.last_synced_at_us is not None
    newest = reader.find("message", in_thread, order="desc", limit=1)[0]
    assert cursor.message_cursor == newest.object_id
    assert verify(db.store).ok


def test_resync_stores_what_is_new_and_nothing_twice(db: AssistDB, assistdb_server: LocalServer) -> None:
    client = assistdb_server.client()
    thread_id = assistdb_server.seed_thread(messages=120, runs=10)
    assistant_id = new_assistant(client)
    sync_thread(db, thread_id)
    before = version_rows(db.store)

    add_message(client, thread_id, "a note")
    run = converse(client, thread_id, assistant_id, "hello there")
    assert run.status == "completed"
    result = sync_thread(db, thread_id)

    # two user messages, the run, its step and the assistant's reply
    assert result.ok and result.versions == 5
    assert version_rows(db.store) == before + 5
    assert db.store.reader.current(run.id) is not None
    reply = db.store.reader.find("message", Filters(run_id=run.id))
    assert [m.body["content"][0]["text"]["value"] for m in reply] == ["You said: hello there"]

    again = sync_thread(db, thread_id)
    assert again.ok and (again.versions, again.requests) == (0, 3)
    assert duplicated_versions(db.store) == 0
    assert verify(db.store).ok


def test_a_resync_without_changes_costs_the_same_for_any_thread_size(
    db: AssistDB, assistdb_server: LocalServer
) -> None:
    small = assistdb_server.seed_thread(messages=10, runs=2)
    large = assistdb_server.seed_thread(messages=2000, runs=300)
    sync_thread(db, small)
    sync_thread(db, large)

    costs = []
    for thread_id in (small, large):
        assistdb_server.reset_stats()
        result = sync_thread(db, thread_id)
        assert result.ok and result.versions == 0
        costs.append(assistdb_server.stats()["by_route"])

    assert costs[0] == costs[1]
    assert sum(costs[1].values()) == 3


def test_unfinished_runs_and_messages_are_refetched_until_they_finish(
    db: AssistDB, assistdb_server: LocalServer
) -> None:
    client = assistdb_server.client()
    thread_id = api.call(client.beta.threads.create).id
    assistant_id = new_assistant(client)
    add_message(client, thread_id, '/tool get_weather {"city": "Paris"}')
    run_id = start_run(client, thread_id, assistant_id)
    run = wait_run(client, thread_id, run_id)
    assert run.status == "requires_action"

    sync_thread(db, thread_id)
    assert db.store.reader.current(run_id).body["status"] == "requires_action"
    assistdb_server.reset_stats()
    sync_thread(db, thread_id)  # still waiting: fetched again, nothing new stored
    assert assistdb_server.stats()["by_route"].get(GET_RUN) == 1

    call_id = run.required_action.submit_tool_outputs.tool_calls[0].id
    api.call(
        client.beta.threads.runs.submit_tool_outputs,
        run_id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call_id, "output": '{"celsius": 21}'}],
    )
    # The reply is written slowly, so a sync catches the message and its step in progress.
    add_message_and_reply = wait_run(client, thread_id, run_id)
    assert add_message_and_reply.status == "completed"
    add_message(client, thread_id, "/sleep 1\nand now?")
    slow_run = start_run(client, thread_id, assistant_id)
    wait_run(client, thread_id, slow_run, until={"in_progress"})
    sync_thread(db, thread_id)

    in_thread = Filters(thread_id=thread_id)
    statuses = [v.body["status"] for v in db.store.reader.history(run_id)]
    assert statuses[0] == "requires_action" and statuses[-1] == "completed"
    (writing,) = db.store.reader.find("message", Filters(thread_id=thread_id, run_id=slow_run))
    assert writing.body["status"] == "in_progress"
    assert db.store.reader.count("run_step", Filters(thread_id=thread_id, status="in_progress")) == 1

    wait_run(client, thread_id, slow_run)
    assistdb_server.reset_stats()
    sync_thread(db, thread_id)
    by_route = assistdb_server.stats()["by_route"]
    assert (by_route.get(GET_RUN), by_route.get(GET_MESSAGE)) == (1, 1)
    assert db.store.reader.current(writing.object_id).body["status"] == "completed"
    assert db.store.reader.count("run_step", Filters(thread_id=thread_id, status="in_progress")) == 0
    assert db.store.reader.count("run", Filters(thread_id=thread_id, status="completed")) == 2

    assistdb_server.reset_stats()
    sync_thread(db, thread_id)  # everything has finished: nothing is fetched one by one any more
    assert set(assistdb_server.stats()["by_route"]) == {
        "GET /v1/threads/{thread_id}",
        "GET /v1/threads/{thread_id}/messages",
        "GET /v1/threads/{thread_id}/runs",
    }
    assert duplicated_versions(db.store) == 0
    assert db.store.reader.count("message", in_thread) == 4


@pytest.mark.parametrize("cursor", ["msg_neverexisted", "deleted remotely"])
def test_a_cursor_the_api_no_longer_knows_falls_back_without_duplicates(
    db: AssistDB, assistdb_server: LocalServer, cursor: str
) -> None:
    client = assistdb_server.client()
    thread_id = assistdb_server.seed_thread(messages=150, runs=5)
    sync_thread(db, thread_id)
    if cursor == "deleted remotely":
        last = db.store.tracking.cursor(thread_id)
        assert last is not None and last.message_cursor is not None
        api.call(client.beta.threads.messages.delete, last.message_cursor, thread_id=thread_id)
    else:
        with db.store.writing() as writer:
            checkpoint(writer.connection, thread_id, message_cursor=cursor)
    newer = add_message(client, thread_id, "after the cursor")

    result = sync_thread(db, thread_id)

    assert result.ok
    assert db.store.reader.current(newer) is not None
    after = db.store.tracking.cursor(thread_id)
    assert after is not None and after.message_cursor == newer
    assert duplicated_versions(db.store) == 0
    assert verify(db.store).ok
