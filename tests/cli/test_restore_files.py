"""``assistdb restore`` with files: the same file IDs answer ``files.retrieve`` and
``files.content`` from the restored server with the archived bytes; vector stores come back
empty; a file whose content was never archived is named and left out.

The archive is made the real way (the library uploads to a local server, the sync archives the
thread), and restored into a fresh server database on SQLite and on PostgreSQL.
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
from tests.cli.test_restore import restore, tamper

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: More than one 1 MiB part, so contents are moved in pieces both ways.
HANDBOOK = b"Zebras are striped. Penguins cannot fly.\n" * 40_000


@dataclass
class FilesArchive:
    url: str
    handbook: dict[str, Any]  # archived with its content
    notes: dict[str, Any]  # the same content under a second file ID
    hash_only: dict[str, Any]  # uploaded without archiving its content
    store: dict[str, Any]
    assistant_id: str
    thread_id: str


@pytest.fixture
def files_archive(tmp_path: Path, assistdb_server_factory: Callable[..., LocalServer]) -> FilesArchive:
    source = assistdb_server_factory()
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    with AssistDB(url, client=source.client()) as db:
        handbook = db.files.create(("handbook.txt", HANDBOOK), purpose="assistants", archive_content=True)
        notes = db.files.create(("notes.txt", HANDBOOK), purpose="user_data", archive_content=True)
        hash_only = db.files.create(("secret.txt", b"not kept"), purpose="assistants")
        store = db.vector_stores.create(name="zoo")
        db.vector_stores.add_files(store.id, [handbook.id])
        store = db.vector_stores.retrieve(store.id)
        assert store.file_counts.completed == 1
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
    return FilesArchive(
        url,
        handbook.to_dict(),
        notes.to_dict(),
        hash_only.to_dict(),
        store.to_dict(),
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
    assert store.file_counts.total == 0 and store.usage_bytes == 0
    assistant = client.beta.assistants.retrieve(archive.assistant_id)
    assert assistant.tool_resources is not None and assistant.tool_resources.file_search is not None
    assert assistant.tool_resources.file_search.vector_store_ids == [archive.store["id"]]


def test_files_come_back_with_their_ids_and_bytes(
    files_archive: FilesArchive, database_url: str, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    result = restore(files_archive.url, "--database-url", database_url)
    assert result.exit_code == 0, result.output
    assert "restored 2 files, 1 vector stores, 1 assistants, 1 threads" in result.stderr
    assert f"file {files_archive.hash_only['id']} was not restored" in result.stderr
    assert "vector stores are restored empty" in result.stderr

    target = assistdb_server_factory(database_url=database_url)
    client = target.client()
    assert_files_answer(client, files_archive)
    target.stop()

    again = restore(files_archive.url, "--database-url", database_url, "--json")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert sum(summary["added"].values()) == 0
    assert summary["unchanged"]["file"] == 2 and summary["unchanged"]["vector_store"] == 1
    assert summary["files_without_content"] == [files_archive.hash_only["id"]]

    # the restored store takes files again, and a restored file's text is searched
    target = assistdb_server_factory(database_url=database_url)
    client = target.client()
    client.vector_stores.files.create_and_poll(
        file_id=files_archive.handbook["id"], vector_store_id=files_archive.store["id"]
    )
    found = client.vector_stores.search(files_archive.store["id"], query="penguins")
    assert [item.file_id for item in found.data][:1] == [files_archive.handbook["id"]]


def test_an_export_restores_files_too(
    files_archive: FilesArchive, tmp_path: Path, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    export = tmp_path / "archive.jsonl"
    exported = CliRunner().invoke(cli, ["--db", files_archive.url, "audit", "export", str(export)])
    assert exported.exit_code == 0, exported.output
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    dry = restore(str(export), "--database-url", url, "--dry-run")
    assert dry.exit_code == 0 and "would restore 2 files" in dry.stderr, dry.output
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
    # the attachment's file and the thread's store; not the store's own file, which only the
    # API knew, nor files no object of the thread names
    assert chains == {files_archive.thread_id, files_archive.notes["id"], files_archive.store["id"]}
    assert [row["file_id"] for row in rows if row["kind"] == "file_hash"] == [files_archive.notes["id"]]
    assert len([row for row in rows if row["kind"] == "file_content"]) == 1
    assert len([row for row in rows if row["kind"] == "file_part"]) == 2

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
    assert "restored 1 files, 1 vector stores, 0 assistants, 1 threads" in result.stderr
    client = assistdb_server_factory(database_url=url).client()
    assert client.files.content(files_archive.notes["id"]).read() == HANDBOOK
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(files_archive.handbook["id"])


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
