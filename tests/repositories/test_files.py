"""Files and vector stores through both faces, against the local server over HTTP, on SQLite and
PostgreSQL: every object archived, content hashed on upload and archived content-addressed."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import text

from assistdb import ApiNotFoundError, InvalidInputError, NotFoundError
from tests.repositories.conftest import Either


def test_upload_list_and_delete_are_archived(it: Either, tmp_path: Path) -> None:
    path = tmp_path / "zoo.txt"
    path.write_bytes(b"Zebras are striped. Penguins cannot fly.\n")

    uploaded = it(it.db.files.create(path, purpose="assistants"))

    assert (uploaded.filename, uploaded.bytes) == ("zoo.txt", path.stat().st_size)
    assert it(it.db.files.archived(uploaded.id)) == uploaded
    known = it(it.db.files.content_hash(uploaded.id))
    assert (known.sha256, known.bytes, known.archived) == (
        hashlib.sha256(path.read_bytes()).hexdigest(),
        path.stat().st_size,
        False,
    )
    assert [f.id for f in it.items(it.db.files.list(purpose="assistants"))] == [uploaded.id]
    assert [f.id for f in it(it.db.files.with_content(known.sha256))] == [uploaded.id]
    assert it(it.db.files.find(purpose="batch")) == []

    it(it.db.files.delete(uploaded.id))

    assert [v.tombstone for v in it(it.db.files.history(uploaded.id))] == [False, True]
    assert it(it.db.files.with_content(known.sha256)) == []
    with pytest.raises(ApiNotFoundError):
        it(it.db.files.retrieve(uploaded.id))


def test_content_is_archived_once_per_distinct_content(it: Either) -> None:
    content = bytes(range(256)) * 9000  # a little over two parts
    first = it(it.db.files.create(("a.bin", content), purpose="assistants", archive_content=True))
    second = it(it.db.files.create(("b.bin", io.BytesIO(content)), purpose="assistants"))

    archived = it(it.db.files.archive_content(second.id))

    assert archived.archived and archived.sha256 == hashlib.sha256(content).hexdigest()
    assert it.db.store.contents.count() == (1, len(content))
    copied = io.BytesIO()
    it(it.db.files.archived_content(first.id, copied.write))
    assert copied.getvalue() == content
    downloaded = io.BytesIO()
    assert it(it.db.files.download(second.id, downloaded.write)).sha256 == archived.sha256
    assert downloaded.getvalue() == content
    with it.db.store.database.read() as connection:  # the SQL view for people
        rows = connection.execute(text("SELECT filename, sha256, content_archived FROM files")).all()
    assert sorted((row.filename, row.sha256, bool(row.content_archived)) for row in rows) == [
        ("a.bin", archived.sha256, True),
        ("b.bin", archived.sha256, True),
    ]


def test_archived_content_of_an_unarchived_file_is_not_found(it: Either) -> None:
    uploaded = it(it.db.files.create(("x.txt", b"x"), purpose="assistants"))
    with pytest.raises(NotFoundError, match="no content"):
        it(it.db.files.archived_content(uploaded.id, io.BytesIO().write))
    with pytest.raises(InvalidInputError, match="not a file ID"):
        it(it.db.files.retrieve("vs_123"))


def test_vector_stores_are_archived_with_their_file_counts(it: Either) -> None:
    zoo = it(it.db.files.create(("zoo.txt", b"Penguins cannot fly."), purpose="assistants"))
    rust = it(it.db.files.create(("rust.txt", b"Rust is a language."), purpose="assistants"))
    store = it(it.db.vector_stores.create(name="zoo", file_ids=[zoo.id], metadata={"team": "red"}))

    batch = it(it.db.vector_stores.add_files(store.id, [rust.id]))

    assert batch.status == "completed"
    assert it(it.db.vector_stores.archived(store.id)).file_counts.total == 2
    assert [f.id for f in it.items(it.db.vector_stores.files(store.id))] == [zoo.id, rust.id]
    results = it(it.db.vector_stores.search(store.id, query="penguins"))
    assert [r.filename for r in results] == ["zoo.txt"]
    assert [s.id for s in it(it.db.vector_stores.find(metadata={"team": "red"}))] == [store.id]
    assert [s.id for s in it.items(it.db.vector_stores.list())] == [store.id]
    renamed = it(it.db.vector_stores.update(store.id, name="animals"))
    assert it(it.db.vector_stores.history(store.id))[-1].object == renamed
    with it.db.store.database.read() as connection:
        row = connection.execute(text("SELECT name, files_total, metadata FROM vector_stores")).one()
    assert (row.name, row.files_total) == ("animals", 2)

    it(it.db.vector_stores.delete(store.id))

    assert it(it.db.vector_stores.archived(store.id)) is None
    assert it(it.db.vector_stores.find()) == []


def test_a_stores_files_are_archived_in_its_chain(it: Either) -> None:
    zoo = it(it.db.files.create(("zoo.txt", b"Penguins cannot fly."), purpose="assistants"))
    rust = it(it.db.files.create(("rust.txt", b"Rust is a language."), purpose="assistants"))
    logo = it(it.db.files.create(("logo.png", b"\x89PNG\xff\xfe"), purpose="assistants"))
    store = it(it.db.vector_stores.create(name="zoo"))
    other = it(it.db.vector_stores.create(name="other"))

    added = it(it.db.vector_stores.add_file(store.id, zoo.id, attributes={"year": 2024}))
    it(it.db.vector_stores.add_files(store.id, [rust.id, logo.id]))
    it(it.db.vector_stores.add_files(other.id, [zoo.id]))

    assert added.status == "completed" and added.attributes == {"year": 2024}
    links = it(it.db.vector_stores.archived_files(store.id))
    assert {(link.id, link.status) for link in links} == {
        (zoo.id, "completed"),
        (rust.id, "completed"),
        (logo.id, "failed"),
    }
    assert it(it.db.vector_stores.archived(store.id)).file_counts.failed == 1
    updated = it(it.db.vector_stores.update_file(store.id, zoo.id, attributes={"year": 2025}))
    assert it(it.db.vector_stores.file(store.id, zoo.id)) == updated
    history = it.db.store.reader.history(f"{store.id}/{zoo.id}")
    assert [v.body["attributes"] for v in history] == [{"year": 2024}, {"year": 2025}]
    assert {v.chain_id for v in history} == {store.id}  # in the store's chain
    with it.db.store.database.read() as connection:
        rows = connection.execute(
            text("SELECT file_id, status FROM vector_store_files WHERE vector_store_id = :s ORDER BY id"),
            {"s": store.id},
        ).all()
    assert sorted(rows) == sorted([(zoo.id, "completed"), (rust.id, "completed"), (logo.id, "failed")])

    it(it.db.vector_stores.remove_file(store.id, rust.id))  # one link
    it(it.db.files.delete(zoo.id))  # the file leaves every store
    assert [link.id for link in it(it.db.vector_stores.archived_files(store.id))] == [logo.id]
    assert it(it.db.vector_stores.archived_files(other.id)) == []
    it(it.db.vector_stores.delete(store.id))  # its files go with it
    assert it(it.db.vector_stores.archived_files(store.id)) == []
    assert it.db.store.reader.current(f"{store.id}/{logo.id}", include_deleted=True).tombstone

    from assistdb.audit import reindex, verify

    assert verify(it.db.store).ok
    reindex(it.db.store)
    assert verify(it.db.store).ok
