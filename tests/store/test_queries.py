"""Local reads: what the API cannot answer, served from the archive."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistdb.store import Filters, Store
from tests import factories


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    s.record(
        [
            factories.thread("thread_a", created_at=100, team="red"),
            factories.message("msg_a1", "thread_a", created_at=100),
            factories.message("msg_a2", "thread_a", created_at=100, text="same second"),
            factories.message("msg_a0", "thread_a", created_at=99, text="earlier"),
            factories.run("run_a", "thread_a", assistant_id="asst_x", status="completed"),
        ]
    )
    s.record(
        [
            factories.thread("thread_b", created_at=200, team="blue"),
            factories.run("run_b", "thread_b", assistant_id="asst_y", status="failed", created_at=200),
        ]
    )
    s.record([factories.thread("thread_c", created_at=300, team="red")])
    yield s
    s.close()


def ids(found: list) -> list[str]:  # type: ignore[type-arg]
    return [v.object_id for v in found]


def test_all_known_threads_oldest_first(store: Store) -> None:
    assert ids(store.reader.find("thread")) == ["thread_a", "thread_b", "thread_c"]
    assert ids(store.reader.find("thread", order="desc", limit=2)) == ["thread_c", "thread_b"]


def test_threads_by_metadata_assistant_and_creation_date(store: Store) -> None:
    assert ids(store.reader.find("thread", Filters(metadata={"team": "red"}))) == ["thread_a", "thread_c"]
    assert ids(store.reader.find("thread", Filters(assistant_id="asst_y"))) == ["thread_b"]
    assert ids(store.reader.find("thread", Filters(created_after=150, created_before=300))) == ["thread_b"]


def test_metadata_search_follows_the_current_version(store: Store) -> None:
    store.record([factories.thread("thread_c", created_at=300, team="green")])

    assert ids(store.reader.find("thread", Filters(metadata={"team": "red"}))) == ["thread_a"]
    assert ids(store.reader.find("thread", Filters(metadata={"team": "green"}))) == ["thread_c"]


def test_a_threads_messages_in_order_with_ties_in_arrival_order(store: Store) -> None:
    found = store.reader.find("message", Filters(thread_id="thread_a"))

    assert ids(found) == ["msg_a0", "msg_a1", "msg_a2"]


def test_keyset_paging_visits_every_message_once(store: Store) -> None:
    store.record([factories.message(f"msg_p{i:02}", "thread_a", created_at=500 + i // 3) for i in range(25)])

    paged = list(store.reader.iter_find("message", Filters(thread_id="thread_a"), page_size=4))
    whole = store.reader.find("message", Filters(thread_id="thread_a"))

    assert ids(paged) == ids(whole) and len(whole) == 28


def test_runs_by_status(store: Store) -> None:
    assert ids(store.reader.find("run", Filters(status="failed"))) == ["run_b"]
    assert store.reader.count("run", Filters(status="completed")) == 1


def test_the_thread_of_a_run_or_message_is_known(store: Store) -> None:
    assert store.reader.thread_of("run_b") == "thread_b"
    assert store.reader.thread_of("msg_a1") == "thread_a"
    assert store.reader.thread_of("msg_unknown") is None


def test_objects_created_in_the_same_second_come_in_the_order_the_archive_saw_them(store: Store) -> None:
    store.record([factories.thread("thread_zz", created_at=400)])
    store.record([factories.thread("thread_aa", created_at=400)])

    assert ids(store.reader.find("thread", Filters(created_after=400))) == ["thread_zz", "thread_aa"]
    assert ids(store.reader.find("thread", Filters(created_after=400), order="desc", limit=1)) == [
        "thread_aa"
    ]
    assert ids(store.reader.find("thread", Filters(created_after=400), after="thread_zz")) == ["thread_aa"]


def test_a_deleted_object_can_be_read_as_it_was_last_seen(store: Store) -> None:
    store.record_deleted(["thread_b"])

    live = store.reader.last_live("thread_b")
    assert live is not None and live.body["metadata"] == {"team": "blue"}
    assert ids(store.reader.find("thread", Filters(include_deleted=True))) == [
        "thread_a",
        "thread_b",
        "thread_c",
    ]
    assert ids(store.reader.find("thread")) == ["thread_a", "thread_c"]
