"""The archive's write path: versions, dedup by content, tombstones, one transaction per page."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from assistdb.errors import InvalidApiObjectError
from assistdb.store import Filters, Store
from assistdb.store.archive import VERSIONS
from tests import factories


@pytest.fixture
def store(database_url: str) -> Store:
    s = Store(database_url)
    yield s  # type: ignore[misc]
    s.close()


def test_a_new_object_is_version_one_and_an_unchanged_one_is_not_stored_again(store: Store) -> None:
    first = store.record([factories.thread(topic="x")])
    again = store.record([factories.thread(topic="x")])

    assert first.stored == ["thread_a"]
    assert again.stored == [] and again.unchanged == 1
    assert [v.version for v in store.reader.history("thread_a")] == [1]


def test_a_changed_object_gets_a_new_version_and_history_keeps_both(store: Store) -> None:
    store.record([factories.thread(topic="x")])
    store.record([factories.thread(topic="y")])

    history = store.reader.history("thread_a")
    assert [v.version for v in history] == [1, 2]
    assert [v.body["metadata"]["topic"] for v in history] == ["x", "y"]
    current = store.reader.current("thread_a")
    assert current is not None and current.body["metadata"] == {"topic": "y"}


def test_an_unfinished_state_arriving_after_a_final_one_is_out_of_date_and_not_stored(store: Store) -> None:
    # Two observers of one run: the one that saw it in progress writes after the one that saw it end.
    store.record([factories.thread(), factories.run("run_a", status="in_progress")])
    store.record([factories.run("run_a", status="completed")])
    late = store.record([factories.run("run_a", status="in_progress")])
    edited = store.record([factories.run("run_a", status="completed", topic="x")])

    assert late.stored == [] and late.unchanged == 1
    assert edited.stored == ["run_a"], "a final object still changes in other ways"
    assert [v.body["status"] for v in store.reader.history("run_a")] == [
        "in_progress",
        "completed",
        "completed",
    ]
    store.record_deleted(["run_a"])
    revived = store.record([factories.run("run_a", status="queued")])
    assert revived.stored == ["run_a"], "after a tombstone any state is news"


def test_the_same_object_twice_in_one_page_is_stored_once_per_distinct_content(store: Store) -> None:
    result = store.record(
        [factories.thread(topic="x"), factories.thread(topic="x"), factories.thread(topic="y")]
    )

    assert result.stored == ["thread_a", "thread_a"] and result.unchanged == 1


def test_deleting_a_thread_tombstones_everything_in_it_and_keeps_history(store: Store) -> None:
    store.record([factories.thread(), factories.message("msg_1"), factories.run("run_1")])

    result = store.record_deleted(["thread_a"])

    assert sorted(result.stored) == ["msg_1", "run_1", "thread_a"]
    assert store.reader.current("thread_a") is None
    assert store.reader.find("message", Filters(thread_id="thread_a")) == []
    deleted = store.reader.current("msg_1", include_deleted=True)
    assert deleted is not None and deleted.tombstone and deleted.body["deleted"] is True
    assert [v.tombstone for v in store.reader.history("msg_1")] == [False, True]
    assert store.record_deleted(["thread_a"]).stored == []  # a tombstone is not stored twice


def test_a_page_of_one_hundred_messages_is_one_transaction(store: Store) -> None:
    store.record([factories.thread()])
    commits: list[object] = []

    def on_commit(connection: object) -> None:
        commits.append(connection)

    event.listen(store.database.engine, "commit", on_commit)
    try:
        store.record([factories.message(f"msg_{i:03}") for i in range(100)])
    finally:
        event.remove(store.database.engine, "commit", on_commit)

    assert len(commits) == 1
    with store.database.read() as connection:
        assert connection.execute(select(func.count()).select_from(VERSIONS)).scalar_one() == 101


def test_versions_chain_per_thread_and_per_assistant(store: Store) -> None:
    store.record(
        [factories.assistant(), factories.thread(), factories.message("msg_1"), factories.run("run_1")]
    )

    thread_chain = [
        (v.chain_id, v.chain_seq)
        for v in (store.reader.history(i)[0] for i in ("thread_a", "msg_1", "run_1"))
    ]
    assistant_version = store.reader.history("asst_a")[0]
    assert thread_chain == [("thread_a", 1), ("thread_a", 2), ("thread_a", 3)]
    assert (assistant_version.chain_id, assistant_version.chain_seq) == ("asst_a", 1)
    first = store.reader.history("thread_a")[0]
    second = store.reader.history("msg_1")[0]
    assert second.prev_hash == first.row_hash


def test_objects_that_are_not_api_objects_are_refused(store: Store) -> None:
    with pytest.raises(InvalidApiObjectError, match="not an Assistants API object"):
        store.record([{"id": "x", "object": "chat.completion"}])
    assert store.reader.history("x") == []
