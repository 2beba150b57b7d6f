"""``assistdb files`` and ``assistdb vector-stores`` against a local server, through the real CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.cli.conftest import Cli, assert_one_line_error


def test_files_round_trip(sqlite_cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    content = b"Zebras are striped.\nPenguins cannot fly.\n" * 50_000
    source.write_bytes(content)
    (uploaded,) = sqlite_cli.json("files", "upload", str(source))
    assert (uploaded["filename"], uploaded["bytes"], uploaded["purpose"]) == (
        "notes.txt",
        len(content),
        "assistants",
    )
    listed = sqlite_cli.json("files", "list")
    assert [item["id"] for item in listed] == [uploaded["id"]]
    assert sqlite_cli.json("files", "show", uploaded["id"])["id"] == uploaded["id"]
    assert "notes.txt" in sqlite_cli.ok("files", "list").stdout

    target = tmp_path / "copy.txt"
    sqlite_cli.ok("files", "download", uploaded["id"], "-o", str(target))
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(content).digest()
    target.write_bytes(b"mine")
    refused = sqlite_cli("files", "download", uploaded["id"], "-o", str(target))
    assert_one_line_error(refused, 2, "exists")
    assert target.read_bytes() == b"mine"
    assert not [path for path in tmp_path.iterdir() if path.name.endswith(".part")]

    missing = sqlite_cli("files", "show", "file-missing")
    assert_one_line_error(missing, 3, "No file found")
    assert sqlite_cli.json("files", "delete", uploaded["id"], "--yes")["deleted"] is True
    assert sqlite_cli.json("files", "list") == []


def test_vector_stores(sqlite_cli: Cli, tmp_path: Path) -> None:
    zoo = tmp_path / "zoo.txt"
    zoo.write_text("Zebras are striped. Penguins cannot fly.")
    rust = tmp_path / "rust.txt"
    rust.write_text("Rust is a programming language.")
    (rust_file,) = sqlite_cli.json("files", "upload", str(rust))
    store = sqlite_cli.json("vector-stores", "create", "--name", "zoo", "--expires-after-days", "3")
    assert store["name"] == "zoo" and store["expires_after"]["days"] == 3
    batch = sqlite_cli.json("vector-stores", "add-files", store["id"], str(zoo), rust_file["id"])
    assert batch["status"] == "completed" and batch["file_counts"]["completed"] == 2
    shown = sqlite_cli.json("vector-stores", "show", store["id"])
    assert shown["vector_store"]["file_counts"]["total"] == 2 and len(shown["files"]) == 2
    results = sqlite_cli.json("vector-stores", "search", store["id"], "penguins")
    assert [item["filename"] for item in results] == ["zoo.txt"]
    assert "zoo.txt" in sqlite_cli.ok("vector-stores", "search", store["id"], "penguins").stdout
    assert [item["id"] for item in sqlite_cli.json("vector-stores", "list")] == [store["id"]]
    assert sqlite_cli.json("vector-stores", "delete", store["id"], "--yes")["deleted"] is True
    missing = sqlite_cli("vector-stores", "show", store["id"])
    assert_one_line_error(missing, 3, "No vector store found")


def test_empty_file_is_refused_before_upload(sqlite_cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert_one_line_error(sqlite_cli("files", "upload", str(empty)), 2, "empty")


def test_files_commands_are_archived(run_cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_bytes(b"Otters hold hands.\n")
    (uploaded,) = run_cli.json("files", "upload", "--archive-content", str(source))
    run_cli.ok("files", "delete", uploaded["id"], "--yes")

    history = run_cli.json("files", "history", uploaded["id"])

    assert [entry["deleted"] for entry in history] == [False, True]
    assert history[0]["file"]["filename"] == "notes.txt"
    assert "1 file content(s) verified" in run_cli.ok("audit", "verify").stdout


def test_sync_with_files_archives_what_threads_refer_to_once(run_cli: Cli, tmp_path: Path) -> None:
    sdk = run_cli.sdk
    text = b"The archive keeps every version.\n" * 40_000  # over one part
    attached = sdk.files.create(file=("kept.txt", text), purpose="assistants")
    twin = sdk.files.create(file=("twin.txt", text), purpose="assistants")  # same content
    code = sdk.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="assistants")
    store = sdk.vector_stores.create(name="docs", file_ids=[twin.id])
    assistant = sdk.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread = sdk.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "read this",
                "attachments": [{"file_id": attached.id, "tools": [{"type": "file_search"}]}],
            }
        ],
        tool_resources={"code_interpreter": {"file_ids": [code.id]}},
    )
    sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    run_cli.ok("threads", "track", thread.id)

    first = run_cli.json("threads", "sync", thread.id, "--with-files")

    assert first["files"]["files"] == 3  # attachment, code interpreter file, the store's file
    assert (first["files"]["stored"], first["files"]["bytes"]) == (2, len(text) + 8)
    again = run_cli.json("threads", "sync", thread.id, "--with-files")
    assert (again["files"]["stored"], again["files"]["already"]) == (0, 3)
    assert "2 file content(s) verified" in run_cli.ok("audit", "verify").stdout

    exported = tmp_path / "archive.jsonl"
    run_cli.ok("audit", "export", str(exported))
    copy = Cli(run_cli.server, f"sqlite:///{tmp_path / 'copy.sqlite3'}")
    copy.ok("audit", "import", str(exported))
    assert "2 file content(s) verified" in copy.ok("audit", "verify").stdout
    target = tmp_path / "restored.txt"
    from assistdb import AssistDB

    with AssistDB(copy.database_url) as db, target.open("wb") as sink:
        assert db.files.archived_content(attached.id, sink.write).sha256 == hashlib.sha256(text).hexdigest()
    assert target.read_bytes() == text

    # the store's files are archived by the sync, and one taken out of it gets a tombstone
    from assistdb.store import Filters, Store

    archive = Store(run_cli.database_url)
    of_store = Filters(vector_store_id=store.id)
    try:
        links = archive.reader.find("vs_file", of_store)
        assert [link.object_id for link in links] == [f"{store.id}/{twin.id}"]
        assert len(archive.reader.find("vs_file")) == 2  # and the attachment's, in the thread's store
        sdk.vector_stores.files.delete(twin.id, vector_store_id=store.id)
        run_cli.ok("threads", "sync", thread.id, "--with-files")
        assert archive.reader.find("vs_file", of_store) == []
        assert archive.reader.current(f"{store.id}/{twin.id}", include_deleted=True).tombstone
    finally:
        archive.close()
