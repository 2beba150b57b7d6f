"""Files and Uploads over real HTTP through the official SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import httpx
import openai
import pytest

from assistdb.server import files as server_files
from tests.server.conftest import ResponseChecker


def _upload(client: openai.OpenAI, name: str, content: bytes, purpose: Any = "assistants") -> Any:
    return client.files.create(file=(name, io.BytesIO(content), "text/plain"), purpose=purpose)


def test_upload_list_retrieve_download_delete(
    make_server: Any, database_url: str, response_checker: ResponseChecker
) -> None:
    server = make_server(database_url=database_url)
    with server.client() as client:
        content = "naïve café\n".encode() * 300_000  # ~3.6 MB: several 1 MiB pieces
        first = _upload(client, "dir/notes.txt", content)
        assert (first.object, first.bytes, first.filename, first.purpose) == (
            "file",
            len(content),
            "notes.txt",
            "assistants",
        )
        assert first.id.startswith("file-")
        second = _upload(client, "batch.jsonl", b'{"a": 1}\n', purpose="batch")
        same = _upload(client, "copy.txt", content)
        assert client.files.retrieve(first.id) == first
        assert client.files.content(first.id).read() == content
        assert (
            hashlib.sha256(client.files.content(same.id).read()).hexdigest()
            == hashlib.sha256(content).hexdigest()
        )
        listed = client.files.list()
        assert [item.id for item in listed.data] == [same.id, second.id, first.id]
        assert [item.id for item in client.files.list(purpose="batch").data] == [second.id]
        page = client.files.list(limit=2, order="asc")
        assert [item.id for item in page.data] == [first.id, second.id] and page.has_more
        after = client.files.list(limit=2, order="asc", after=second.id)
        assert [item.id for item in after.data] == [same.id] and not after.has_more
        deleted = client.files.delete(first.id)
        assert (deleted.id, deleted.deleted, deleted.object) == (first.id, True, "file")
        with pytest.raises(openai.NotFoundError, match=f"No file found with id '{first.id}'"):
            client.files.retrieve(first.id)
        with pytest.raises(openai.NotFoundError):
            client.files.content(first.id)
        assert client.files.content(same.id).read() == content  # shared content survives
    assert response_checker.checked >= 10


def test_files_need_no_beta_header(server: Any) -> None:
    response = httpx.get(f"{server.base_url}/files", headers={"Authorization": f"Bearer {server.api_key}"})
    assert response.status_code == 200
    assert response.json()["data"] == []


@pytest.mark.parametrize(
    ("purpose", "content", "message"),
    [
        ("wrong", b"x", "Invalid value: 'wrong'"),
        ("assistants", b"", "File is empty"),
    ],
)
def test_refusals(client: openai.OpenAI, purpose: str, content: bytes, message: str) -> None:
    with pytest.raises(openai.BadRequestError, match=message) as caught:
        _upload(client, "a.txt", content, purpose=purpose)
    assert caught.value.status_code == 400
    assert client.files.list().data == []


def test_oversize_file_is_refused_before_it_is_stored(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_files, "MAX_FILE_BYTES", 1000)
    with pytest.raises(openai.BadRequestError, match="File is too large") as caught:
        _upload(client, "big.txt", b"x" * 1001)
    assert caught.value.code == "file_too_large"
    with pytest.raises(openai.BadRequestError, match="File is too large"):
        _upload(client, "huge.txt", b"x" * 500_000)  # cut off while it streams in
    assert client.files.list().data == []
    assert _upload(client, "ok.txt", b"x" * 1000).bytes == 1000


def test_missing_file_field_and_not_multipart(server: Any) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    body = b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n--b--\r\n'
    multipart = {**headers, "Content-Type": "multipart/form-data; boundary=b"}
    response = httpx.post(f"{server.base_url}/files", headers=multipart, content=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"
    response = httpx.post(
        f"{server.base_url}/files",
        headers=headers,
        files={"upload": ("a.txt", b"x")},
        data={"purpose": "batch"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "upload"
    response = httpx.post(f"{server.base_url}/files", headers=headers, json={"purpose": "assistants"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]["message"]


def test_expiring_file(client: openai.OpenAI) -> None:
    created = client.files.create(
        file=("a.txt", io.BytesIO(b"abc")),
        purpose="user_data",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert created.expires_at == created.created_at + 3600
    with pytest.raises(openai.BadRequestError, match=r"expires_after\.seconds"):
        client.files.create(
            file=("a.txt", io.BytesIO(b"abc")),
            purpose="user_data",
            expires_after={"anchor": "created_at", "seconds": 10},
        )


def test_uploads_in_parts(make_server: Any, database_url: str) -> None:
    server = make_server(database_url=database_url)
    content = bytes(range(256)) * 9000  # 2.3 MB
    with server.client() as client:
        upload = client.uploads.create(
            bytes=len(content),
            filename="data.bin",
            mime_type="application/octet-stream",
            purpose="assistants",
        )
        assert (upload.status, upload.file) == ("pending", None)
        halves = [content[: len(content) // 2], content[len(content) // 2 :]]
        parts = [client.uploads.parts.create(upload.id, data=half) for half in halves]
        assert all(part.object == "upload.part" and part.upload_id == upload.id for part in parts)
        with pytest.raises(openai.BadRequestError, match="hold"):
            client.uploads.complete(upload.id, part_ids=[parts[0].id])
        with pytest.raises(openai.BadRequestError, match="md5"):
            client.uploads.complete(upload.id, part_ids=[part.id for part in parts], md5="0" * 32)
        done = client.uploads.complete(
            upload.id, part_ids=[part.id for part in parts], md5=hashlib.md5(content).hexdigest()
        )
        assert done.status == "completed" and done.file is not None
        assert done.file.bytes == len(content) and done.file.filename == "data.bin"
        assert client.files.content(done.file.id).read() == content
        with pytest.raises(openai.BadRequestError, match="completed"):
            client.uploads.cancel(upload.id)
        other = client.uploads.create(bytes=3, filename="x", mime_type="text/plain", purpose="batch")
        client.uploads.parts.create(other.id, data=b"abc")
        assert client.uploads.cancel(other.id).status == "cancelled"
        with pytest.raises(openai.BadRequestError, match="cancelled"):
            client.uploads.parts.create(other.id, data=b"abc")
        with pytest.raises(openai.NotFoundError):
            client.uploads.cancel("upload_missing")
        assert [item.id for item in client.files.list().data] == [done.file.id]


def test_files_survive_a_restart(make_server: Any, database_url: str) -> None:
    content = b"kept\n" * 400_000
    first = make_server(database_url=database_url)
    with first.client() as client:
        kept = _upload(client, "kept.txt", content)
        store = client.vector_stores.create(file_ids=[kept.id])
    first.stop()
    second = make_server(database_url=database_url)
    with second.client() as client:
        assert client.files.content(kept.id).read() == content
        assert client.vector_stores.retrieve(store.id).file_counts.completed == 1
        assert client.vector_stores.search(store.id, query="kept").data[0].file_id == kept.id
