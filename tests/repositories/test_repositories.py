"""The repositories against the local server over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Message

from assistdb import AssistDB, InvalidInputError, NotFoundError
from assistdb.repositories import api
from assistdb.server import LocalServer


@pytest.fixture
def db(database_url: str, assistdb_server: LocalServer) -> Iterator[AssistDB]:
    with AssistDB(database_url, client=assistdb_server.client()) as instance:
        yield instance


def test_created_objects_are_returned_as_sdk_types_and_archived(db: AssistDB) -> None:
    assistant = db.assistants.create(model="gpt-4o", name="helper", metadata={"team": "red"})
    thread = db.threads.create(messages=[{"role": "user", "content": "hi"}], metadata={"topic": "x"})
    message = db.messages.create(thread.id, content="second")

    assert isinstance(assistant, Assistant) and isinstance(thread, Thread) and isinstance(message, Message)
    assert db.assistants.archived(assistant.id) == assistant
    assert db.threads.archived(thread.id) == thread
    assert [m.content[0].text.value for m in db.messages.find(thread.id)] == ["hi", "second"]  # type: ignore[union-attr]
    assert db.store.tracking.thread_ids() == [thread.id]


def test_threads_can_be_searched_locally_which_the_api_cannot_do(db: AssistDB) -> None:
    red = db.threads.create(metadata={"team": "red"})
    db.threads.create(metadata={"team": "blue"})
    assistant = db.assistants.create(model="gpt-4o")
    db.runs.create(red.id, assistant_id=assistant.id)

    assert [t.id for t in db.threads.find(metadata={"team": "red"})] == [red.id]
    assert [t.id for t in db.threads.find(assistant_id=assistant.id)] == [red.id]
    assert len(db.threads.find()) == 2


def test_updates_become_versions_and_history_keeps_them(db: AssistDB) -> None:
    assistant = db.assistants.create(model="gpt-4o", instructions="one")
    db.assistants.update(assistant.id, instructions="two")
    db.assistants.retrieve(assistant.id)  # unchanged: no new version

    history = db.assistants.history(assistant.id)
    assert [v.body["instructions"] for v in history] == ["one", "two"]


def test_deleting_a_thread_tombstones_it_and_keeps_its_history(db: AssistDB) -> None:
    thread = db.threads.create(messages=[{"role": "user", "content": "hi"}])
    message = db.messages.find(thread.id)[0]

    db.threads.delete(thread.id)

    assert db.threads.archived(thread.id) is None
    assert db.threads.archived(thread.id, include_deleted=True) == thread
    assert [t.id for t in db.threads.find(include_deleted=True)] == [thread.id]
    assert db.messages.find(thread.id) == []
    assert [v.tombstone for v in db.messages.history(message.id)] == [False, True]
    assert db.store.tracking.thread_ids() == []
    with pytest.raises(NotFoundError):
        db.threads.retrieve(thread.id)


def test_deleting_a_message_needs_no_thread_id_when_the_archive_knows_it(db: AssistDB) -> None:
    thread = db.threads.create()
    message = db.messages.create(thread.id, content="bye")

    db.messages.delete(message.id)

    assert db.messages.archived(message.id) is None
    assert db.messages.history(message.id)[-1].tombstone


def test_track_adopts_a_thread_created_elsewhere(db: AssistDB, assistdb_server: LocalServer) -> None:
    foreign = api.call(assistdb_server.client().beta.threads.create, metadata={"origin": "elsewhere"})

    db.threads.track(foreign.id)

    assert db.store.tracking.thread_ids() == [foreign.id]
    assert [t.id for t in db.threads.find(metadata={"origin": "elsewhere"})] == [foreign.id]


def test_listing_pages_through_the_api_and_archives_every_page(db: AssistDB) -> None:
    thread = db.threads.create()
    for i in range(7):
        db.messages.create(thread.id, content=f"m{i}")
    db.store.close()
    fresh = AssistDB(db.store.database.url.render_as_string(hide_password=False), client=db.client)

    listed = list(fresh.messages.list(thread.id, order="asc", limit=3))

    assert [m.content[0].text.value for m in listed] == [f"m{i}" for i in range(7)]  # type: ignore[union-attr]
    assert len(fresh.messages.find(thread.id)) == 7


def test_no_deprecation_warning_reaches_the_user(db: AssistDB) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning shows, but for the library's own filters:
        api.quiet_deprecations()
        thread = db.threads.create()
        db.messages.create(thread.id, content="x")
        list(db.messages.list(thread.id))
        db.threads.retrieve(thread.id)

    assert [w for w in caught if issubclass(w.category, DeprecationWarning)] == []


def test_bad_ids_and_metadata_fail_before_any_request(db: AssistDB, assistdb_server: LocalServer) -> None:
    assistdb_server.reset_stats()

    with pytest.raises(InvalidInputError, match="is a message ID, not a thread ID"):
        db.threads.retrieve("msg_abc")
    with pytest.raises(InvalidInputError, match="not a valid thread ID"):
        db.threads.retrieve("thread/../x")
    with pytest.raises(InvalidInputError, match="17 pairs"):
        db.threads.create(metadata={f"k{i}": "v" for i in range(17)})

    assert assistdb_server.stats()["total"] == 0
    assert db.threads.find(include_deleted=True) == []


def test_unknown_ids_are_not_found(db: AssistDB) -> None:
    with pytest.raises(NotFoundError, match="thread_doesnotexist"):
        db.threads.retrieve("thread_doesnotexist")
    with pytest.raises(InvalidInputError, match="pass thread_id"):
        db.runs.retrieve("run_unknown")


def test_archive_reads_need_no_api_key(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with AssistDB(database_url) as offline:
        assert offline.threads.find() == []
        with pytest.raises(InvalidInputError, match="no API key"):
            offline.threads.create()


def test_messages_created_in_one_second_read_back_in_conversation_order_after_a_newest_first_listing(
    db: AssistDB, assistdb_server: LocalServer
) -> None:
    raw = assistdb_server.client()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        thread = raw.beta.threads.create(
            messages=[{"role": "user", "content": text} for text in ("one", "two", "three")]
        )
    created = {m.created_at for m in raw.beta.threads.messages.list(thread.id)}
    assert len(created) == 1  # the same second: only arrival order can tell them apart

    listed = [m.content[0].text.value for m in db.messages.list(thread.id, order="desc")]  # type: ignore[union-attr]

    assert listed == ["three", "two", "one"]  # the API's order, untouched
    assert [m.content[0].text.value for m in db.messages.find(thread.id)] == ["one", "two", "three"]  # type: ignore[union-attr]
