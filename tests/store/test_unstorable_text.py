"""Text that a database column cannot hold as it is: NUL characters (not in PostgreSQL text), lone
surrogates (not UTF-8), and index values longer than their column, in whatever an API returns.

The body of each version keeps the object exactly; the index leaves out what it cannot hold, the
same way on SQLite and PostgreSQL; an ID that cannot be stored is refused as a bad API object
and nothing of its page is written.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from assistdb.audit import export_archive, import_archive, verify
from assistdb.errors import InvalidApiObjectError
from assistdb.store import Filters, Store
from assistdb.store.archive import HEAD_METADATA, HEADS
from tests import factories

NUL_METADATA = {"plain": "yes", "k\x00": "v", "nul": "a\x00b", "\x00": "\x00"}
SURROGATES = {"half": "x\ud800y", "\udfff": "z"}


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    yield s
    s.close()


def _indexed_pairs(store: Store, object_id: str) -> dict[str, str]:
    with store.database.read() as connection:
        rows = connection.execute(
            select(HEAD_METADATA.c.key, HEAD_METADATA.c.value).where(HEAD_METADATA.c.object_id == object_id)
        )
        return {row.key: row.value for row in rows}


def test_nul_characters_in_metadata_of_every_object_type_are_archived_exactly(store: Store) -> None:
    bodies = [
        factories.assistant(**NUL_METADATA),
        factories.thread(**NUL_METADATA),
        factories.message("msg_1", **NUL_METADATA),
        factories.run("run_1", **NUL_METADATA),
    ]
    bodies[2]["content"][0]["text"]["value"] = "text with a \x00 in it"

    result = store.record(bodies)

    assert result.stored == ["asst_a", "thread_a", "msg_1", "run_1"]
    for body in bodies:
        current = store.reader.current(body["id"])
        assert current is not None and current.body == body, "the body is the truth, NULs included"
        assert _indexed_pairs(store, body["id"]) == {"plain": "yes"}, "the index skips what it cannot hold"
    assert [v.object_id for v in store.reader.find("thread", Filters(metadata={"plain": "yes"}))] == [
        "thread_a"
    ]
    assert store.reader.find("thread", Filters(metadata={"nul": "a\x00b"})) == [], "no index holds it"
    assert store.record(bodies).unchanged == 4, "an unchanged object with NULs is not stored again"
    assert verify(store).ok


def test_lone_surrogates_anywhere_in_a_body_are_archived_exactly(store: Store) -> None:
    message = factories.message("msg_1", text="broken \ud83d pair", **SURROGATES)

    store.record([factories.thread(), message])

    current = store.reader.current("msg_1")
    assert current is not None and current.body == message
    assert _indexed_pairs(store, "msg_1") == {}
    assert verify(store).ok


def test_index_values_longer_than_their_columns_are_left_out_of_the_index(store: Store) -> None:
    thread = factories.thread(**{"k" * 65: "v", "long": "v" * 513, "fits": "v" * 512})
    run = factories.run("run_1", status="s" * 33)
    run["created_at"] = 2**70  # no BIGINT holds it

    store.record([thread, run])

    assert _indexed_pairs(store, "thread_a") == {"fits": "v" * 512}
    current = store.reader.current("run_1")
    assert current is not None and current.body == run
    with store.database.read() as connection:
        head = connection.execute(select(HEADS).where(HEADS.c.object_id == "run_1")).mappings().one()
    assert head["status"] is None and head["created_at"] is None


@pytest.mark.parametrize(
    "bad_id", ["thread_\x00", "thread_\udc00", "thread_" + "x" * 130], ids=["NUL", "surrogate", "long"]
)
def test_an_id_no_column_can_hold_refuses_its_page_and_writes_nothing(store: Store, bad_id: str) -> None:
    store.record([factories.thread()])

    with pytest.raises(InvalidApiObjectError, match="cannot be archived"):
        store.record([factories.message("msg_ok"), factories.message("msg_bad", thread_id=bad_id)])
    with pytest.raises(InvalidApiObjectError, match="without 'id'"):
        store.record([{"object": "thread.message", "thread_id": "thread_a"}])
    with pytest.raises(InvalidApiObjectError, match="not an Assistants API object"):
        store.record([{"object": "thread.mystery", "id": "x"}])

    assert store.reader.current("msg_ok") is None, "the page is one transaction"
    assert [v.object_id for v in store.reader.history("thread_a")] == ["thread_a"]


def test_export_and_import_carry_nuls_and_surrogates_and_rebuild_the_same_index(
    store: Store, tmp_path_factory: pytest.TempPathFactory
) -> None:
    store.record([factories.thread(**NUL_METADATA), factories.message("msg_1", text="\ud800", **SURROGATES)])
    exported = io.StringIO()
    export_archive(store, exported)
    copy = Store(f"sqlite:///{tmp_path_factory.mktemp('copy') / 'copy.sqlite3'}")
    try:
        import_archive(copy, io.StringIO(exported.getvalue()))
        for object_id in ("thread_a", "msg_1"):
            original, imported = store.reader.current(object_id), copy.reader.current(object_id)
            assert original is not None and imported is not None and imported.body == original.body
            assert _indexed_pairs(copy, object_id) == _indexed_pairs(store, object_id)
        assert verify(copy).ok
    finally:
        copy.close()
