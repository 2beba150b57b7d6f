"""Export and import: the archive moves to another database losslessly, chains included."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from assistdb import AssistDB, InvalidInputError, NotFoundError
from assistdb.audit import export_archive, import_archive, verify
from assistdb.repositories import api
from assistdb.server import LocalServer
from assistdb.store import Store
from assistdb.store.archive import CHAINS, HEAD_METADATA, HEADS
from assistdb.sync import pull_assistants, sync_thread
from tests import factories
from tests.sync.helpers import fingerprint, new_assistant

INDEX_TABLES = (HEADS, HEAD_METADATA, CHAINS)


def _index(store: Store) -> list[list[tuple[object, ...]]]:
    with store.database.read() as connection:
        return [sorted(tuple(row) for row in connection.execute(select(table))) for table in INDEX_TABLES]


def _export(store: Store, **options: str) -> str:
    out = io.StringIO()
    export_archive(store, out, **options)  # type: ignore[arg-type]
    return out.getvalue()


def _rich_archive(db: AssistDB, server: LocalServer) -> str:
    """A synced thread with a tool call, an edit, a deletion, assistants, and ledger events."""
    client = server.client()
    thread_id = server.seed_thread(messages=120, runs=10, metadata={"team": "support"})
    assistant_id = new_assistant(client)
    api.call(
        client.beta.threads.messages.create,
        thread_id,
        role="user",
        content='/tool get_weather {"city": "Oslo"}',
    )
    run = api.call(client.beta.threads.runs.create, thread_id, assistant_id=assistant_id)
    sync_thread(db, thread_id)
    db.store.tools.start(
        call_id="call_x",
        run_id=run.id,
        thread_id=thread_id,
        function_name="get_weather",
        arguments="{}",
        attempt=1,
    )
    db.store.tools.finish(
        call_id="call_x",
        run_id=run.id,
        thread_id=thread_id,
        function_name="get_weather",
        arguments="{}",
        attempt=1,
        output="cloudy",
        is_error=False,
    )
    first = db.store.reader.find("message", limit=1)[0].object_id
    api.call(client.beta.threads.messages.update, first, thread_id=thread_id, metadata={"seen": "yes"})
    api.call(
        client.beta.threads.messages.delete,
        db.store.reader.find("message", limit=2)[1].object_id,
        thread_id=thread_id,
    )
    sync_thread(db, thread_id, full=True)
    pull_assistants(db)
    return thread_id


def test_export_then_import_is_lossless_and_exports_the_same_bytes(
    db: AssistDB, assistdb_server: LocalServer, empty_database_url: str
) -> None:
    _rich_archive(db, assistdb_server)
    exported = io.StringIO()
    rows: list[int] = []

    result = export_archive(db.store, exported, on_row=rows.append)

    assert result.tool_calls == 2 and result.tracked_threads == 1 and result.rows == len(rows)
    assert assistdb_server.api_key not in exported.getvalue()
    target = Store(empty_database_url)
    imported = import_archive(target, io.StringIO(exported.getvalue()))
    assert (imported.versions, imported.tool_calls, imported.tracked_threads) == (
        result.versions,
        result.tool_calls,
        result.tracked_threads,
    )
    report = verify(target)
    assert report.ok and report.tips == verify(db.store).tips
    assert _export(target) == exported.getvalue()
    assert _index(target) == _index(db.store)
    assert target.tracking.thread_ids() == db.store.tracking.thread_ids()
    target.record([factories.assistant("asst_after_import")])  # the imported archive takes new rows
    assert verify(target).ok
    target.close()


def test_import_refuses_an_archive_that_is_not_empty(db: AssistDB, assistdb_server: LocalServer) -> None:
    sync_thread(db, assistdb_server.seed_thread(messages=5))
    exported = _export(db.store)
    before = fingerprint(db.store)

    with pytest.raises(InvalidInputError, match="is not empty"):
        import_archive(db.store, io.StringIO(exported))

    assert fingerprint(db.store) == before


def _lines_of_a_small_export(tmp_url: str) -> list[str]:
    source = Store(tmp_url)
    source.record(
        [factories.thread(), factories.message("msg_1"), factories.message("msg_2")], track=["thread_a"]
    )
    source.record_deleted(["msg_2"])
    lines = _export(source).splitlines(keepends=True)
    source.close()
    return lines


def _retyped(line: str, field: str, value: object) -> str:
    record = json.loads(line)
    record[field] = value
    return json.dumps(record) + "\n"


DAMAGE = {
    "truncated": lambda lines: lines[:-1],
    "cut in the middle": lambda lines: lines[:3],
    "a row after the end": lambda lines: [*lines, lines[1]],
    "a wrong type": lambda lines: [lines[0], _retyped(lines[1], "tombstone", "no"), *lines[2:]],
    "a null hash": lambda lines: [lines[0], _retyped(lines[1], "row_hash", None), *lines[2:]],
    "an unknown kind": lambda lines: [lines[0], _retyped(lines[1], "kind", "table"), *lines[2:]],
    "not JSON": lambda lines: [lines[0], "{oops\n", *lines[2:]],
    "not an export": lambda lines: ['{"hello": "world"}\n', *lines[1:]],
    "empty": lambda lines: [],
    "miscounted": lambda lines: [*lines[:-1], _retyped(lines[-1], "versions", 99)],
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_export_is_refused_and_leaves_the_database_empty(
    database_url: str, tmp_path: object, damage: str
) -> None:
    lines = _lines_of_a_small_export(f"sqlite:///{tmp_path}/source.sqlite3")
    target = Store(database_url)

    with pytest.raises(InvalidInputError):
        import_archive(target, io.StringIO("".join(DAMAGE[damage](lines))))

    assert fingerprint(target) == {} and target.tracking.thread_ids() == []
    assert _index(target) == [[], [], []]
    imported = import_archive(target, io.StringIO("".join(lines)))  # the intact file still imports
    assert imported.versions == 4 and verify(target).ok
    target.close()


def test_a_thread_export_holds_that_thread_only(
    db: AssistDB, assistdb_server: LocalServer, empty_database_url: str
) -> None:
    wanted = assistdb_server.seed_thread(messages=12, runs=2)
    other = assistdb_server.seed_thread(messages=7)
    sync_thread(db, wanted)
    sync_thread(db, other)

    exported = _export(db.store, thread_id=wanted)

    records = [json.loads(line) for line in exported.splitlines()]
    versions = [r for r in records if r["kind"] == "version"]
    assert len(versions) == 1 + 12 + 2 + 2 and {r["chain_id"] for r in versions} == {wanted}
    assert [r["thread_id"] for r in records if r["kind"] == "tracked_thread"] == [wanted]
    target = Store(empty_database_url)
    import_archive(target, io.StringIO(exported))
    assert verify(target).ok and target.tracking.thread_ids() == [wanted]
    with pytest.raises(NotFoundError):
        _export(db.store, thread_id="thread_notarchived")
    target.close()


def test_export_reads_one_consistent_moment(db: AssistDB, assistdb_server: LocalServer) -> None:
    """Rows written while an export runs are not in it, and the export still verifies."""
    thread_id = assistdb_server.seed_thread(messages=30)
    sync_thread(db, thread_id)
    written = 0

    def write_meanwhile(_rows: int) -> None:
        nonlocal written
        if written < 3:
            written += 1
            db.store.record([factories.message(f"msg_meanwhile_{written}", thread_id)])

    exported = io.StringIO()
    export_archive(db.store, exported, on_row=write_meanwhile)

    assert "msg_meanwhile" not in exported.getvalue()
    with db.store.database.read() as connection:
        assert connection.execute(select(func.count()).select_from(HEADS)).scalar_one() == 1 + 30 + 3
