"""Diffs: what changed remotely and what vanished since the last sync, with nothing written."""

from __future__ import annotations

import pytest

from assistdb import AssistDB, NotFoundError
from assistdb.audit import diff_thread
from assistdb.repositories import api
from assistdb.server import LocalServer
from assistdb.store import Filters
from assistdb.sync import sync_thread
from tests.sync.helpers import add_message, version_rows


def test_diff_names_new_changed_and_vanished_objects_and_writes_nothing(
    db: AssistDB, assistdb_server: LocalServer
) -> None:
    client = assistdb_server.client()
    thread_id = assistdb_server.seed_thread(messages=140, runs=6)
    sync_thread(db, thread_id)
    first, second = (
        m.object_id for m in db.store.reader.find("message", Filters(thread_id=thread_id), limit=2)
    )
    assert diff_thread(db, thread_id).clean

    added = add_message(client, thread_id, "something new")
    api.call(client.beta.threads.messages.update, first, thread_id=thread_id, metadata={"flag": "1"})
    api.call(client.beta.threads.messages.delete, second, thread_id=thread_id)
    rows = version_rows(db.store)

    diff = diff_thread(db, thread_id)

    assert [(c.object_type, c.object_id) for c in diff.new] == [("message", added)]
    assert [(c.object_id, c.fields) for c in diff.changed] == [(first, ["metadata"])]
    assert [(c.object_type, c.object_id) for c in diff.vanished] == [("message", second)]
    assert diff.unchanged == 1 + 138 + 6 + 6 and not diff.thread_gone
    assert version_rows(db.store) == rows
    text = diff.to_text()
    assert "1 new, 1 changed, 1 vanished" in text and f"{first} (metadata)" in text

    sync_thread(db, thread_id, full=True)
    assert diff_thread(db, thread_id).clean


def test_diff_of_a_deleted_thread_lists_everything_as_vanished(
    db: AssistDB, assistdb_server: LocalServer
) -> None:
    thread_id = assistdb_server.seed_thread(messages=4, runs=1)
    sync_thread(db, thread_id)
    api.call(assistdb_server.client().beta.threads.delete, thread_id)

    diff = diff_thread(db, thread_id)

    assert diff.thread_gone and diff.requests == 1
    assert sorted(c.object_type for c in diff.vanished) == ["message"] * 4 + ["run", "run_step", "thread"]
    assert "gone remotely" in diff.to_text()


def test_diff_needs_a_synced_thread(db: AssistDB) -> None:
    with pytest.raises(NotFoundError, match="sync it first"):
        diff_thread(db, "thread_unknown")
