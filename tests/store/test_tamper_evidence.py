"""The database refuses UPDATE and DELETE on the archive; the verifier names changes made behind
the triggers' back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, exc, insert, text

from assistdb.audit.verify import verify
from assistdb.store import Store, hashing
from assistdb.store.archive import VERSIONS
from tests import factories


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    s.record([factories.thread(), *(factories.message(f"msg_{i}") for i in range(5))])
    s.record([factories.assistant(), factories.thread(topic="changed")])
    yield s
    s.close()


@contextmanager
def behind_the_triggers(store: Store) -> Iterator[Connection]:
    """A connection on which the append-only triggers do not fire, as an attacker with file or
    superuser access would have."""
    with store.database.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            with connection.begin():
                connection.execute(text("SET LOCAL session_replication_role = replica"))
                yield connection
        else:
            with connection.begin():
                triggers = connection.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                ).all()
                for name, _ in triggers:
                    connection.execute(text(f"DROP TRIGGER {name}"))
                yield connection
                for _, sql in triggers:
                    connection.execute(text(sql))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE versions SET body = '{}' WHERE object_id = 'msg_2'",
        "DELETE FROM versions WHERE object_id = 'msg_2'",
        "UPDATE tool_calls SET output = 'x'",
        "DELETE FROM tool_calls",
    ],
)
def test_the_database_refuses_update_and_delete_on_archive_tables(store: Store, statement: str) -> None:
    if "tool_calls" in statement:
        store.tools.start(
            call_id="call_1",
            run_id="run_1",
            thread_id="thread_a",
            function_name="f",
            arguments="{}",
            attempt=1,
        )
    with pytest.raises(exc.DBAPIError, match="append-only"), store.database.write() as connection:
        connection.execute(text(statement))


def test_a_clean_archive_verifies(store: Store) -> None:
    report = verify(store)

    assert report.ok, report.problems
    assert report.chains == 2 and report.rows == 8


def test_an_altered_body_is_named(store: Store) -> None:
    with behind_the_triggers(store) as connection:
        connection.execute(
            text("UPDATE versions SET body = replace(body, 'hello', 'HELLO') WHERE object_id = 'msg_3'")
        )

    report = verify(store)

    assert [(p.chain_id, p.chain_seq, p.kind, p.object_id) for p in report.problems] == [
        ("thread_a", 5, "altered", "msg_3")
    ]


def test_a_removed_row_is_named(store: Store) -> None:
    with behind_the_triggers(store) as connection:
        connection.execute(text("DELETE FROM versions WHERE object_id = 'msg_1'"))

    (problem,) = verify(store).problems
    assert (problem.chain_seq, problem.kind) == (3, "removed")


def test_a_removed_last_row_is_named(store: Store) -> None:
    with behind_the_triggers(store) as connection:
        connection.execute(text("DELETE FROM versions WHERE chain_id = 'thread_a' AND chain_seq = 7"))

    (problem,) = verify(store).problems
    assert (problem.chain_seq, problem.kind) == (7, "removed")


def test_an_inserted_row_is_named_even_when_its_hashes_are_well_formed(store: Store) -> None:
    tip = store.reader.history("thread_a")[-1]
    body = hashing.canonical_json(factories.message("msg_forged", text="I never said this"))
    forged = {
        "chain_id": "thread_a",
        "chain_seq": tip.chain_seq + 1,
        "object_type": "message",
        "object_id": "msg_forged",
        "version": 1,
        "tombstone": False,
        "observed_at_us": tip.observed_at_us,
        "content_hash": hashing.content_hash(body),
    }
    forged["row_hash"] = hashing.row_hash(prev_hash=tip.row_hash, **forged)  # type: ignore[arg-type]
    with behind_the_triggers(store) as connection:
        connection.execute(
            insert(VERSIONS).values(thread_id="thread_a", body=body, prev_hash=tip.row_hash, **forged)
        )

    (problem,) = verify(store).problems
    assert (problem.chain_id, problem.chain_seq, problem.kind) == ("thread_a", tip.chain_seq + 1, "inserted")


def test_verifying_one_chain_ignores_the_others(store: Store) -> None:
    with behind_the_triggers(store) as connection:
        connection.execute(text("UPDATE versions SET body = '{}' WHERE object_id = 'msg_3'"))

    assert verify(store, chain_id="asst_a").ok
    assert not verify(store, chain_id="thread_a").ok
