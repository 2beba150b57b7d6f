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
