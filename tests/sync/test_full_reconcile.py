"""Full reconcile: edits and deletions an incremental sync cannot see, and threads that vanished."""

from __future__ import annotations

import pytest

from assistdb import AssistDB, InvalidInputError, NotFoundError
from assistdb.audit.verify import verify
from assistdb.repositories import api
from assistdb.server import LocalServer
from assistdb.store import Filters
from assistdb.sync import sync_thread, sync_threads
from tests.sync.helpers import duplicated_versions


def test_full_reconcile_records_edits_and_deletions(db: AssistDB, assistdb_server: LocalServer) -> None:
    client = assistdb_server.client()
    thread_id = assistdb_server.seed_thread(messages=130, runs=6)
    sync_thread(db, thread_id)
    reader, in_thread = db.store.reader, Filters(thread_id=thread_id)
    first, second = (m.object_id for m in reader.find("message", in_thread, limit=2))
    run_id = reader.find("run", in_thread, limit=1)[0].object_id

    api.call(client.beta.threads.update, thread_id, metadata={"topic": "billing"})
    api.call(client.beta.threads.messages.update, first, thread_id=thread_id, metadata={"flag": "yes"})
    api.call(client.beta.threads.runs.update, run_id, thread_id=thread_id, metadata={"reviewed": "1"})
    api.call(client.beta.threads.messages.delete, second, thread_id=thread_id)

    incremental = sync_thread(db, thread_id)
    assert (incremental.versions, incremental.tombstones) == (1, 0)  # only the thread is fetched again

    full = sync_thread(db, thread_id, full=True)

    assert full.ok and full.full
    assert (full.versions, full.tombstones) == (2, 1)
    assert full.unchanged == 1 + 128 + 5 + 6  # the thread, other messages and runs, every step
    assert reader.current(first).body["metadata"] == {"flag": "yes"}
    assert reader.current(run_id).body["metadata"] == {"reviewed": "1"}
    assert reader.current(second) is None
    assert reader.history(second)[-1].tombstone
    assert [
        m.object_id for m in reader.find("message", Filters(thread_id=thread_id, metadata={"flag": "yes"}))
    ] == [first]
    cursor = db.store.tracking.cursor(thread_id)
    assert (
        cursor is not None
        and cursor.message_cursor == reader.find("message", in_thread, order="desc")[0].object_id
    )

    again = sync_thread(db, thread_id, full=True)
    assert (again.versions, again.tombstones) == (0, 0)
    assert duplicated_versions(db.store) == 0
    assert verify(db.store).ok


def test_a_first_sync_may_be_a_full_one(db: AssistDB, assistdb_server: LocalServer) -> None:
    thread_id = assistdb_server.seed_thread(messages=30, runs=3)

    result = sync_thread(db, thread_id, full=True)

    assert result.ok and result.versions == 1 + 30 + 3 + 3
    assert sync_thread(db, thread_id).versions == 0


def test_a_deleted_thread_is_tombstoned_with_everything_in_it(
    db: AssistDB, assistdb_server: LocalServer
) -> None:
    client = assistdb_server.client()
    thread_id = assistdb_server.seed_thread(messages=20, runs=4)
    sync_thread(db, thread_id)
    api.call(client.beta.threads.delete, thread_id)

    result = sync_thread(db, thread_id)

    assert result.ok and result.gone
    assert result.tombstones == 1 + 20 + 4 + 4
    reader = db.store.reader
    assert reader.current(thread_id) is None
    assert reader.count("message", Filters(thread_id=thread_id)) == 0
    assert reader.count("message", Filters(thread_id=thread_id, include_deleted=True)) == 20
    cursor = db.store.tracking.cursor(thread_id)
    assert cursor is not None and cursor.gone
    assert sync_threads(db).threads == 0  # gone threads are not synced again
    assert verify(db.store).ok


def test_a_thread_that_never_existed_is_not_found_and_not_tracked(db: AssistDB) -> None:
    with pytest.raises(NotFoundError, match="thread_neverexisted does not exist"):
        sync_thread(db, "thread_neverexisted")
    assert db.store.tracking.cursor("thread_neverexisted") is None


@pytest.mark.parametrize("bad", ["msg_abc", "", "thread one"])
def test_a_malformed_thread_id_is_refused_before_any_request(db: AssistDB, bad: str) -> None:
    with pytest.raises(InvalidInputError):
        sync_thread(db, bad)
    with pytest.raises(InvalidInputError):
        sync_threads(db, [bad])
