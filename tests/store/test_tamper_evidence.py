"""The database refuses UPDATE and DELETE on the archive; the verifier names changes made behind
the triggers' back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, exc, insert, text

from assistdb.audit.verify import verify
from assistdb.store import Database, Store, hashing, migrations
from assistdb.store.archive import HEAD_METADATA, HEADS, VERSIONS, index_rows
from assistdb.store.hashing import Sealer
from assistdb.store.objects import index_of
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
        "UPDATE chains SET last_seq = 1",
        "DELETE FROM chains",
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
    refused = "append-only|only move forward"
    with pytest.raises(exc.DBAPIError, match=refused), store.database.write() as connection:
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


def test_migration_0002_chains_the_ledger_events_an_older_archive_holds(database_url: str) -> None:
    """An archive at revision 0001 with ledger events: the upgrade chains them per run, in the
    order they were written, and the archive verifies; its versions keep their plain scheme."""
    database = Database(database_url)
    try:
        migrations.upgrade(database, "0001")
        with database.write() as connection:
            _record_as_revision_0001(connection, [factories.thread(), factories.message("msg_1")])
            for n, (run, event) in enumerate(
                [("run_1", "started"), ("run_2", "started"), ("run_1", "finished"), ("run_1", "submitted")]
            ):
                connection.execute(
                    text(
                        "INSERT INTO tool_calls (call_id, attempt, event, run_id, thread_id, function_name,"
                        " arguments, output, is_error, recorded_at_us)"
                        " VALUES (:call, 1, :event, :run, 'thread_a', 'f', '{}', :output, false, :at)"
                    ),
                    {
                        "call": f"call_{run}",
                        "event": event,
                        "run": run,
                        "output": None if n < 2 else "x",
                        "at": n,
                    },
                )
    finally:
        database.dispose()

    store = Store(database_url)  # migrates to the head
    try:
        report = verify(store)
        assert report.ok, report.problems
        assert (report.chains, report.rows, report.ledgers, report.events) == (1, 2, 2, 4)
        assert report.tips["ledger:run_1"][0] == 3 and report.tips["ledger:run_2"][0] == 1
        assert store.tools.calls_of_run("run_1")["call_run_1"].output == "x"
        with store.database.read() as connection:
            assert set(connection.execute(text("SELECT scheme FROM versions")).scalars()) == {"sha256"}
    finally:
        store.close()


def test_keyed_rows_verify_with_the_key_and_name_a_forged_seal(database_url: str) -> None:
    key = "a-secret-archive-key-for-tests"
    store = Store(database_url, archive_key=key)
    try:
        store.record([factories.thread(), factories.message("msg_1")])
        assert key not in repr(store.sealer) and "hmac-sha256:" in store.sealer.scheme
        assert verify(store).ok
        # Without the key: present, links and content checked, seals not.
        keyless = Store(database_url, archive_key=None)
        keyless.sealer = Sealer()
        report = verify(keyless)
        keyless.close()
        assert report.ok and report.unverified == 2
        # An edit that recomputes the content hash and a plain row hash is named with the key.
        with behind_the_triggers(store) as connection:
            row = (
                connection.execute(text("SELECT * FROM versions WHERE object_id = 'msg_1'")).mappings().one()
            )
            body = row["body"].replace("hello", "HELLO")
            fields = {name: row[name] for name in hashing_fields()}
            fields["content_hash"] = hashing.content_hash(body)
            connection.execute(
                text(
                    "UPDATE versions SET body = :b, content_hash = :c, row_hash = :h, scheme = 'sha256'"
                    " WHERE id = :i"
                ),
                {"b": body, "c": fields["content_hash"], "h": hashing.row_hash(**fields), "i": row["id"]},
            )
        (problem,) = verify(store).problems
        assert (problem.object_id, problem.kind) == ("msg_1", "altered")
    finally:
        store.close()


def _record_as_revision_0001(connection: Connection, bodies: list[dict[str, Any]]) -> None:
    """Versions, heads and a chain tip as assistdb wrote them before revision 0002."""
    prev = hashing.GENESIS
    for seq, body in enumerate(bodies, start=1):
        canonical = hashing.canonical_json(body)
        index = index_of(body)
        fields = {
            "chain_id": index.chain_id,
            "chain_seq": seq,
            "object_type": index.object_type,
            "object_id": index.object_id,
            "version": 1,
            "tombstone": False,
            "observed_at_us": seq,
            "content_hash": hashing.content_hash(canonical),
        }
        row_hash = hashing.row_hash(prev_hash=prev, **fields)
        connection.execute(
            insert(VERSIONS).values(
                thread_id=index.thread_id, body=canonical, prev_hash=prev, row_hash=row_hash, **fields
            )
        )
        head, pairs = index_rows(
            index,
            version=1,
            content_hash=fields["content_hash"],
            tombstone=False,
            first_observed_at_us=seq,
            first_seq=seq,
        )
        connection.execute(insert(HEADS).values(**head))
        for pair in pairs:
            connection.execute(insert(HEAD_METADATA).values(**pair))
        prev = row_hash
    connection.execute(
        text("INSERT INTO chains (chain_id, last_seq, last_hash) VALUES (:c, :s, :h)"),
        {"c": index_of(bodies[0]).chain_id, "s": len(bodies), "h": prev},
    )


def hashing_fields() -> tuple[str, ...]:
    return (
        "prev_hash",
        "chain_id",
        "chain_seq",
        "object_type",
        "object_id",
        "version",
        "tombstone",
        "observed_at_us",
        "content_hash",
    )
