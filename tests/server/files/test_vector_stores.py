"""Vector stores, their files and batches, and search, through the official SDK on both databases."""

from __future__ import annotations

import io
from typing import Any

import openai
import pytest

from assistdb.server.file_search import chunk

DOCS = {
    "zebras.txt": b"Zebras are African equines with distinctive black-and-white striped coats.",
    "lions.txt": b"Lions live in prides on the savanna; the males have manes.",
    "rust.txt": b"Rust is a systems programming language focused on safety and speed.",
}


def _file(client: openai.OpenAI, name: str, content: bytes) -> Any:
    return client.files.create(file=(name, io.BytesIO(content)), purpose="assistants")


def test_sdk_upload_and_poll_helpers(make_server: Any, database_url: str) -> None:
    server = make_server(database_url=database_url)
    with server.client() as client:
        store = client.vector_stores.create(name="animals", metadata={"team": "zoo"})
        assert (store.object, store.name, store.status, store.metadata) == (
            "vector_store",
            "animals",
            "completed",
            {"team": "zoo"},
        )
        batch = client.vector_stores.file_batches.upload_and_poll(
            store.id, files=[(name, io.BytesIO(content)) for name, content in DOCS.items()]
        )
        assert batch.status == "completed"
        assert (batch.file_counts.completed, batch.file_counts.total) == (3, 3)
        single = client.vector_stores.files.upload_and_poll(
            vector_store_id=store.id, file=("tigers.txt", io.BytesIO(b"Tigers have striped orange coats."))
        )
        assert single.status == "completed" and single.last_error is None
        assert single.chunking_strategy is not None and single.chunking_strategy.type == "static"
        batch_files = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
        assert len(batch_files.data) == 3
        assert client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id) == batch
        refreshed = client.vector_stores.retrieve(store.id)
        assert refreshed.file_counts.total == 4 and refreshed.usage_bytes > 0

        results = client.vector_stores.search(store.id, query="striped zebra coats")
        names = [item.filename for item in results.data]
        assert names[0] == "zebras.txt" and "rust.txt" not in names
        assert results.data[0].score == 1.0
        assert all(0 <= item.score <= 1 for item in results.data)
        assert results.data[0].content[0].text == DOCS["zebras.txt"].decode()
        limited = client.vector_stores.search(store.id, query="striped", max_num_results=1)
        assert len(limited.data) == 1
        assert client.vector_stores.search(store.id, query="quantum chromodynamics").data == []


def test_files_attributes_filters_and_content(client: openai.OpenAI) -> None:
    ids = {name: _file(client, name, content).id for name, content in DOCS.items()}
    store = client.vector_stores.create(file_ids=[ids["zebras.txt"]])
    added = client.vector_stores.files.create(
        vector_store_id=store.id, file_id=ids["lions.txt"], attributes={"kind": "cat", "legs": 4}
    )
    assert added.attributes == {"kind": "cat", "legs": 4}
    client.vector_stores.files.update(
        file_id=ids["zebras.txt"], vector_store_id=store.id, attributes={"kind": "horse", "legs": 4}
    )
    query = "savanna zebras lions"
    both = client.vector_stores.search(store.id, query=query)
    assert {item.filename for item in both.data} == {"zebras.txt", "lions.txt"}
    cats = client.vector_stores.search(
        store.id, query=query, filters={"type": "eq", "key": "kind", "value": "cat"}
    )
    assert [item.filename for item in cats.data] == ["lions.txt"]
    assert cats.data[0].attributes == {"kind": "cat", "legs": 4}
    either = client.vector_stores.search(
        store.id,
        query=query,
        filters={
            "type": "and",
            "filters": [
                {"type": "gte", "key": "legs", "value": 4},
                {"type": "in", "key": "kind", "value": ["horse", "dog"]},
            ],
        },
    )
    assert [item.filename for item in either.data] == ["zebras.txt"]
    content = client.vector_stores.files.content(file_id=ids["lions.txt"], vector_store_id=store.id)
    assert [part.text for part in content] == [DOCS["lions.txt"].decode()]
    listed = client.vector_stores.files.list(store.id, order="asc")
    assert [item.id for item in listed.data] == [ids["zebras.txt"], ids["lions.txt"]]
    assert client.vector_stores.files.list(store.id, filter="failed").data == []

    removed = client.vector_stores.files.delete(file_id=ids["lions.txt"], vector_store_id=store.id)
    assert (removed.deleted, removed.object) == (True, "vector_store.file.deleted")
    assert [item.filename for item in client.vector_stores.search(store.id, query=query).data] == [
        "zebras.txt"
    ]
    assert client.files.retrieve(ids["lions.txt"]).id == ids["lions.txt"]  # the file itself stays


def test_deleting_a_file_removes_it_from_its_stores(client: openai.OpenAI) -> None:
    zebra = _file(client, "zebras.txt", DOCS["zebras.txt"])
    lion = _file(client, "lions.txt", DOCS["lions.txt"])
    store = client.vector_stores.create(file_ids=[zebra.id, lion.id])
    client.files.delete(zebra.id)
    assert client.vector_stores.retrieve(store.id).file_counts.total == 1
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(file_id=zebra.id, vector_store_id=store.id)
    assert client.vector_stores.search(store.id, query="zebras striped").data == []


def test_binary_files_fail_with_last_error(client: openai.OpenAI) -> None:
    binary = _file(client, "image.png", b"\x89PNG\r\n\x1a\n\x00\x00")
    store = client.vector_stores.create()
    added = client.vector_stores.files.create(vector_store_id=store.id, file_id=binary.id)
    assert added.status == "failed"
    assert added.last_error is not None and added.last_error.code == "unsupported_file"
    counts = client.vector_stores.retrieve(store.id).file_counts
    assert (counts.failed, counts.total) == (1, 1)


def test_bad_input_writes_nothing(client: openai.OpenAI) -> None:
    good = _file(client, "zebras.txt", DOCS["zebras.txt"])
    with pytest.raises(openai.NotFoundError, match="No file found with id 'file-missing'"):
        client.vector_stores.create(file_ids=[good.id, "file-missing"])
    assert client.vector_stores.list().data == []
    for strategy, param in (
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}},
            "max_chunk_size_tokens",
        ),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0}},
            "max_chunk_size_tokens",
        ),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 101}},
            "chunking_strategy",
        ),
        ({"type": "fancy"}, "chunking_strategy.type"),
    ):
        with pytest.raises(openai.BadRequestError) as caught:
            client.vector_stores.create(file_ids=[good.id], chunking_strategy=strategy)  # type: ignore[arg-type]
        assert param in str(caught.value.body)
    assert client.vector_stores.list().data == []
    store = client.vector_stores.create(name="empty")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.file_batches.create(store.id, file_ids=[good.id, "file-nope"])
    assert client.vector_stores.files.list(store.id).data == []
    with pytest.raises(openai.NotFoundError, match="No vector store found"):
        client.vector_stores.retrieve("vs_missing")
    with pytest.raises(openai.BadRequestError, match="max_num_results"):
        client.vector_stores.search(store.id, query="x", max_num_results=51)


def test_modify_expire_list_and_delete(client: openai.OpenAI) -> None:
    first = client.vector_stores.create(name="one")
    second = client.vector_stores.create(name="two", expires_after={"anchor": "last_active_at", "days": 2})
    assert second.expires_at == second.last_active_at + 2 * 86400  # type: ignore[operator]
    modified = client.vector_stores.update(first.id, name="uno", metadata={"k": "v"})
    assert (modified.name, modified.metadata) == ("uno", {"k": "v"})
    assert [store.id for store in client.vector_stores.list().data] == [second.id, first.id]
    assert [store.id for store in client.vector_stores.list(order="asc", limit=1).data] == [first.id]
    deleted = client.vector_stores.delete(first.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (first.id, True, "vector_store.deleted")
    assert [store.id for store in client.vector_stores.list().data] == [second.id]


def test_static_chunking_windows_overlap() -> None:
    words = " ".join(f"w{n}" for n in range(250))
    pieces = chunk(words, 100, 50)
    assert pieces[0].split()[0] == "w0" and pieces[0].split()[-1] == "w99"
    assert pieces[1].split()[0] == "w50" and pieces[-1].split()[-1] == "w249"
    assert len(pieces) == 4
    auto = chunk(words, 800, 400)
    assert auto == [words]
