"""``assistdb restore`` with files: the same file IDs answer ``files.retrieve`` and
``files.content`` from the restored server with the archived bytes; vector stores come back with
the files they held (same IDs, attributes, chunking and status) and search finds their text; a
file whose content was never archived, and its place in a store, are named and left out.

The archive is made the real way (the library uploads to a local server, the SDK fills the store
behind the library's back, ``threads sync --with-files`` archives the thread, its assistant's
store and that store's files), and restored into a fresh server database on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner

from assistdb import AssistDB
from assistdb.cli import cli
from assistdb.server import LocalServer
from assistdb.sync import sync_thread
from assistdb.sync.files import archive_thread_files
from tests.cli.test_restore import restore, tamper

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: More than one 1 MiB part, so contents are moved in pieces both ways.
HANDBOOK = b"Zebras are striped. Penguins cannot fly.\n" * 40_000


#: Not UTF-8 text: its vector store file is ``failed``.
PICTURE = b"\x89PNG\r\n\x1a\n\xff\xfe" * 10
ATTRIBUTES = {"shelf": "science", "year": 2024, "lent": False}
FILTER: Any = {"type": "eq", "key": "shelf", "value": "science"}  # search filters on attributes
CHUNKING: Any = {"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50}}


@dataclass
class FilesArchive:
    url: str
    handbook: dict[str, Any]  # archived with its content
    notes: dict[str, Any]  # the same content under a second file ID
    hash_only: dict[str, Any]  # uploaded without archiving its content
    picture: dict[str, Any]  # archived with its content; its vector store file failed
    store: dict[str, Any]
    drafts: dict[str, Any]  # holds only the file whose content is not archived
    links: dict[str, dict[str, Any]]  # the store's files by file ID, as the API listed them
    assistant_id: str
    thread_id: str


@pytest.fixture
def files_archive(tmp_path: Path, assistdb_server_factory: Callable[..., LocalServer]) -> FilesArchive:
    source = assistdb_server_factory()
    sdk = source.client()
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    with AssistDB(url, client=sdk) as db:
        handbook = db.files.create(("handbook.txt", HANDBOOK), purpose="assistants", archive_content=True)
        notes = db.files.create(("notes.txt", HANDBOOK), purpose="user_data", archive_content=True)
        hash_only = db.files.create(("secret.txt", b"not kept"), purpose="assistants")
        picture = db.files.create(("picture.png", PICTURE), purpose="assistants", archive_content=True)
        store = db.vector_stores.create(name="zoo")
        # filled through the SDK, so only the sync can archive which files the store holds
        sdk.vector_stores.files.create(
            store.id, file_id=handbook.id, attributes=ATTRIBUTES, chunking_strategy=CHUNKING
        )
        sdk.vector_stores.files.create(store.id, file_id=picture.id)
        links = {link.id: link.to_dict() for link in sdk.vector_stores.files.list(store.id)}
        assert links[picture.id]["status"] == "failed"
        store = sdk.vector_stores.retrieve(store.id)
        # a store no thread names, filled by the library: its files are archived as it goes
        drafts = db.vector_stores.create(name="drafts")
        db.vector_stores.add_files(drafts.id, [hash_only.id])
        assistant = db.assistants.create(
            model="gpt-4o",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        thread = db.threads.create(
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
            messages=[
                {
                    "role": "user",
                    "content": "read this",
                    "attachments": [{"file_id": notes.id, "tools": [{"type": "code_interpreter"}]}],
                }
            ],
        )
        assert sync_thread(db, thread.id).error is None
        assert archive_thread_files(db, [thread.id]).errors == {}
    return FilesArchive(
        url,
        handbook.to_dict(),
        notes.to_dict(),
        hash_only.to_dict(),
        picture.to_dict(),
        store.to_dict(),
        drafts.to_dict(),
        links,
        assistant.id,
        thread.id,
    )


def assert_files_answer(client: openai.OpenAI, archive: FilesArchive) -> None:
    for body in (archive.handbook, archive.notes):
        assert json.loads(client.files.with_raw_response.retrieve(body["id"]).text) == body
        assert client.files.content(body["id"]).read() == HANDBOOK
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(archive.hash_only["id"])
    store = client.vector_stores.retrieve(archive.store["id"])
    assert (store.name, store.created_at) == (archive.store["name"], archive.store["created_at"])
    # the store's files as the API listed them, but the one whose file has no content
    handbook, picture = archive.handbook["id"], archive.picture["id"]
    listed = json.loads(client.vector_stores.files.with_raw_response.list(store.id, order="asc").text)
    assert {link["id"]: link for link in listed["data"]} == {
        file_id: archive.links[file_id] for file_id in (handbook, picture)
    }
    assert archive.links[handbook]["attributes"] == ATTRIBUTES
    assert archive.links[handbook]["chunking_strategy"] == CHUNKING
    assert (store.file_counts.completed, store.file_counts.failed, store.file_counts.total) == (1, 1, 2)
    assert store.usage_bytes == archive.links[handbook]["usage_bytes"]
    found = client.vector_stores.search(store.id, query="penguins", filters=FILTER)
    assert found.data and {item.file_id for item in found.data} == {handbook}
    assert "Penguins cannot fly" in found.data[0].content[0].text
    drafts = client.vector_stores.retrieve(archive.drafts["id"])
    assert drafts.file_counts.total == 0 and client.vector_stores.files.list(drafts.id).data == []
    assistant = client.beta.assistants.retrieve(archive.assistant_id)
    assert assistant.tool_resources is not None and assistant.tool_resources.file_search is not None
    assert assistant.tool_resources.file_search.vector_store_ids == [archive.store["id"]]


def test_files_come_back_with_their_ids_and_bytes(
    files_archive: FilesArchive, database_url: str, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    result = restore(files_archive.url, "--database-url", database_url)
    assert result.exit_code == 0, result.output
    assert "restored 3 files, 2 vector stores, 2 vector store files, 1 assistants" in result.stderr
    assert f"file {files_archive.hash_only['id']} was not restored" in result.stderr
    link = f"{files_archive.drafts['id']}/{files_archive.hash_only['id']}"
    assert f"vector store file {link} was not restored: its file has no content" in result.stderr

    target = assistdb_server_factory(database_url=database_url)
    client = target.client()
    assert_files_answer(client, files_archive)
    target.stop()

    again = restore(files_archive.url, "--database-url", database_url, "--json")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert sum(summary["added"].values()) == 0
    assert summary["unchanged"]["file"] == 3 and summary["unchanged"]["vector_store"] == 2
    assert summary["unchanged"]["vector_store.file"] == 2
    assert summary["files_without_content"] == [files_archive.hash_only["id"]]
    assert [item["id"] for item in summary["skipped_vector_store_files"]] == [link]

    # the restored store takes files again, and is searched as before
    target = assistdb_server_factory(database_url=database_url)
    client = target.client()
    client.vector_stores.files.create_and_poll(
        file_id=files_archive.notes["id"], vector_store_id=files_archive.store["id"]
    )
    found = client.vector_stores.search(files_archive.store["id"], query="penguins")
    assert found.data and found.data[0].file_id in {files_archive.handbook["id"], files_archive.notes["id"]}
    counts = client.vector_stores.retrieve(files_archive.store["id"]).file_counts
    assert (counts.completed, counts.failed, counts.total) == (2, 1, 3)


def test_an_export_restores_files_too(
    files_archive: FilesArchive, tmp_path: Path, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    export = tmp_path / "archive.jsonl"
    exported = CliRunner().invoke(cli, ["--db", files_archive.url, "audit", "export", str(export)])
    assert exported.exit_code == 0, exported.output
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    dry = restore(str(export), "--database-url", url, "--dry-run")
    assert dry.exit_code == 0 and "would restore 3 files" in dry.stderr, dry.output
    result = restore(str(export), "--database-url", url)
    assert result.exit_code == 0, result.output
    target = assistdb_server_factory(database_url=url)
    assert_files_answer(target.client(), files_archive)


def test_a_file_deleted_in_the_server_is_a_conflict_and_nothing_is_written(
    files_archive: FilesArchive,
    tmp_path: Path,
    database_url: str,
    assistdb_server_factory: Callable[..., LocalServer],
) -> None:
    assert restore(files_archive.url, "--database-url", database_url).exit_code == 0
    target = assistdb_server_factory(database_url=database_url)
    target.client().files.delete(files_archive.notes["id"])
    target.stop()

    export = tmp_path / "archive.jsonl"
    assert CliRunner().invoke(cli, ["--db", files_archive.url, "audit", "export", str(export)]).exit_code == 0
    result = restore(str(export), "--database-url", database_url)
    assert result.exit_code == 8, result.output
    assert f"{files_archive.notes['id']} was deleted in the server" in result.stderr
    assert "nothing was restored" in result.stderr

    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps({**files_archive.handbook, "filename": "renamed.txt"}))
    conflict = restore(str(changed), "--database-url", database_url)
    assert conflict.exit_code == 8, conflict.output
    assert f"{files_archive.handbook['id']} exists in the server with different content" in conflict.stderr

    target = assistdb_server_factory(database_url=database_url)
    client = target.client()
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(files_archive.notes["id"])
    assert client.files.retrieve(files_archive.handbook["id"]).filename == "handbook.txt"


def test_a_thread_export_holds_the_files_it_names(
    files_archive: FilesArchive, tmp_path: Path, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    export = tmp_path / "thread.jsonl"
    args = ["--db", files_archive.url, "audit", "export", str(export), "--thread", files_archive.thread_id]
    exported = CliRunner().invoke(cli, args)
    assert exported.exit_code == 0, exported.output
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    chains = {row["chain_id"] for row in rows if row["kind"] == "version"}
    # the attachment's file, the thread's store and the files it holds (archived by the sync);
    # not files no object of the thread names
    held = [files_archive.handbook["id"], files_archive.picture["id"]]
    assert chains == {files_archive.thread_id, files_archive.notes["id"], files_archive.store["id"], *held}
    hashed = {row["file_id"] for row in rows if row["kind"] == "file_hash"}
    assert hashed == {files_archive.notes["id"], *held}
    assert len([row for row in rows if row["kind"] == "file_content"]) == 2  # the handbook, the picture
    assert len([row for row in rows if row["kind"] == "file_part"]) == 3

    imported_url = f"sqlite:///{tmp_path / 'imported.sqlite3'}"
    imported = CliRunner().invoke(cli, ["--db", imported_url, "audit", "import", str(export)])
    assert imported.exit_code == 0, imported.output
    with AssistDB(imported_url) as db:
        received: list[bytes] = []
        db.files.archived_content(files_archive.notes["id"], received.append)
        assert b"".join(received) == HANDBOOK

    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    result = restore(str(export), "--database-url", url)
    assert result.exit_code == 0, result.output
    assert "restored 3 files, 1 vector stores, 2 vector store files, 0 assistants, 1 threads" in result.stderr
    client = assistdb_server_factory(database_url=url).client()
    assert client.files.content(files_archive.notes["id"]).read() == HANDBOOK
    found = client.vector_stores.search(files_archive.store["id"], query="zebras")
    assert {item.file_id for item in found.data} == {files_archive.handbook["id"]}


def test_altered_content_is_refused_and_nothing_is_written(
    files_archive: FilesArchive, tmp_path: Path, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    tamper(files_archive.url, "UPDATE file_parts SET data = zeroblob(length(data)) WHERE part = 1")
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    refused = restore(files_archive.url, "--database-url", url)
    assert refused.exit_code == 6 and "does not verify" in refused.stderr, refused.output

    # accepted unverified, the content is still re-hashed as it is stored
    altered = restore(files_archive.url, "--database-url", url, "--allow-unverified")
    assert altered.exit_code == 6, altered.output
    assert f"the content of {files_archive.handbook['id']} does not match its SHA-256" in altered.stderr
    assert "nothing was restored" in altered.stderr and "Traceback" not in altered.output
    client = assistdb_server_factory(database_url=url).client()
    assert client.files.list().data == [] and client.vector_stores.list().data == []
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(files_archive.thread_id)


def test_a_stores_files_alone_are_restored_into_the_store_or_refused(
    files_archive: FilesArchive, tmp_path: Path, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    assert restore(files_archive.url, "--database-url", url).exit_code == 0
    store_id, picture = files_archive.store["id"], files_archive.links[files_archive.picture["id"]]
    target = assistdb_server_factory(database_url=url)
    target.client().vector_stores.files.delete(picture["id"], vector_store_id=store_id)
    target.stop()

    # raw vector store file objects, for a store and files the server has: added, store recounted
    raw_link = tmp_path / "link.json"
    raw_link.write_text(json.dumps(picture))
    result = restore(str(raw_link), "--database-url", url)
    assert result.exit_code == 0, result.output
    assert "restored 1 vector store files, 0 assistants" in result.stderr

    handbook = files_archive.links[files_archive.handbook["id"]]
    changed = tmp_path / "changed.jsonl"
    changed.write_text(
        json.dumps({**handbook, "attributes": {"shelf": "fiction"}})
        + "\n"
        + json.dumps({**picture, "vector_store_id": "vs_unknown"})
    )
    refused = restore(str(changed), "--database-url", url)
    assert refused.exit_code == 8, refused.output
    assert f"{store_id}/{handbook['id']} exists in the server with different content" in refused.stderr
    assert f"vs_unknown/{picture['id']} belongs to vs_unknown, which is neither given" in refused.stderr

    client = assistdb_server_factory(database_url=url).client()
    store = client.vector_stores.retrieve(store_id)
    assert (store.file_counts.completed, store.file_counts.failed) == (1, 1)
    assert (
        client.vector_stores.files.retrieve(handbook["id"], vector_store_id=store_id).attributes == ATTRIBUTES
    )
