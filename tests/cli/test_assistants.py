"""``assistdb assistants``: create, list, show, update, delete, history, through the real API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from assistdb import AssistDB
from assistdb.repositories import api
from assistdb.store import Store
from tests.cli.conftest import Cli, assert_one_line_error


def test_create_prints_the_api_object_and_archives_it(run_cli: Cli, tmp_path: Path) -> None:
    instructions = tmp_path / "instructions.txt"
    instructions.write_text("Answer in one sentence.\nBe kind.", encoding="utf-8")
    created = run_cli.json(
        "assistants", "create", "--name", "helper", "--model", "gpt-4o",
        "--instructions", f"@{instructions}", "--tool", "code_interpreter", "--tool", "file_search",
        "--metadata", "team=support", "--temperature", "0.5",
    )  # fmt: skip
    assert created["object"] == "assistant"
    assert created["id"].startswith("asst_")
    assert created["instructions"] == "Answer in one sentence.\nBe kind."
    assert [tool["type"] for tool in created["tools"]] == ["code_interpreter", "file_search"]
    assert created["metadata"] == {"team": "support"}
    assert created["temperature"] == 0.5
    store = Store(run_cli.database_url)
    try:
        archived = store.reader.current(created["id"])
        assert archived is not None and archived.body == created
    finally:
        store.close()


def test_list_show_remote_and_archived(run_cli: Cli) -> None:
    first = run_cli.json("assistants", "create", "--name", "one", "--model", "gpt-4o")
    second = run_cli.json("assistants", "create", "--name", "two", "--model", "gpt-4o-mini")
    listed = run_cli.json("assistants", "list")
    assert [a["id"] for a in listed] == [second["id"], first["id"]]  # newest first
    assert run_cli.json("assistants", "list", "--limit", "1") == [second]
    assert run_cli.json("assistants", "list", "--archived") == [second, first]
    assert run_cli.json("assistants", "show", first["id"]) == first
    assert run_cli.json("assistants", "show", first["id"], "--archived") == first
    table = run_cli.ok("assistants", "list").stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "MODEL", "TOOLS", "CREATED"]
    assert any(line.startswith(second["id"]) and " two " in line for line in table[1:])


def test_update_then_history_names_what_changed(run_cli: Cli) -> None:
    created = run_cli.json(
        "assistants", "create", "--name", "bot", "--model", "gpt-4o", "--instructions", "v1"
    )
    updated = run_cli.json(
        "assistants", "update", created["id"], "--instructions", "v2", "--model", "gpt-4.1"
    )
    assert (updated["instructions"], updated["model"], updated["name"]) == ("v2", "gpt-4.1", "bot")
    history = run_cli.json("assistants", "history", created["id"])
    assert [entry["version"] for entry in history] == [1, 2]
    assert history[1]["assistant"] == updated
    changed = {change["field"]: (change["from"], change["to"]) for change in history[1]["changes"]}
    assert changed == {"instructions": ("v1", "v2"), "model": ("gpt-4o", "gpt-4.1")}
    text = run_cli.ok("assistants", "history", created["id"]).stdout
    assert 'instructions: "v1" -> "v2"' in text


def test_delete_needs_yes_without_a_terminal_then_keeps_history(run_cli: Cli) -> None:
    created = run_cli.json("assistants", "create", "--name", "gone", "--model", "gpt-4o")
    before = run_cli.archive()
    assert_one_line_error(run_cli("assistants", "delete", created["id"]), 2, "--yes")
    assert run_cli.archive() == before
    assert run_cli.json("assistants", "show", created["id"]) == created  # still there remotely
    run_cli.ok("assistants", "delete", created["id"], "--yes")
    assert_one_line_error(run_cli("assistants", "show", created["id"]), 3)
    # The archive keeps what was deleted remotely: shown as last seen, with when it was deleted.
    assert run_cli.json("assistants", "show", created["id"], "--archived") == created
    shown = run_cli.ok("assistants", "show", created["id"], "--archived").stdout
    assert "name:" in shown and "gone" in shown and "deleted:      remotely; recorded 20" in shown
    history = run_cli.json("assistants", "history", created["id"])
    assert [entry["deleted"] for entry in history] == [False, True]


def test_bad_input_changes_nothing(run_cli: Cli) -> None:
    before = run_cli.archive()
    assert_one_line_error(run_cli("assistants", "create", "--name", "x"), 2, "--model")
    assert_one_line_error(
        run_cli("assistants", "create", "--name", "x", "--model", "m", "--metadata", "novalue"),
        2,
        "KEY=VALUE",
    )
    assert_one_line_error(
        run_cli("assistants", "create", "--name", "x", "--model", "m", "--metadata", f"k={'v' * 600}"),
        2,
        "512",
    )
    assert_one_line_error(run_cli("assistants", "update", "asst_x"), 2, "nothing to update")
    assert_one_line_error(run_cli("assistants", "show", "thread_abc"), 2, "thread ID")
    assert_one_line_error(
        run_cli("assistants", "create", "--name", "x", "--model", "m", "--instructions", "@/no/such/file"),
        2,
        "/no/such/file",
    )
    assert run_cli.archive() == before
    assert run_cli.server.stats()["by_route"].get("POST /v1/assistants", 0) == 0


def test_pull_archives_changes_and_deletions_made_elsewhere(run_cli: Cli) -> None:
    kept = run_cli.json("assistants", "create", "--name", "kept", "--model", "gpt-4o")
    gone = run_cli.json("assistants", "create", "--name", "gone", "--model", "gpt-4o")
    api.call(run_cli.sdk.beta.assistants.update, kept["id"], instructions="edited elsewhere")
    api.call(run_cli.sdk.beta.assistants.delete, gone["id"])
    pulled = run_cli.json("assistants", "pull")
    assert (pulled["assistants"], pulled["versions"], pulled["tombstones"]) == (1, 1, 1)
    assert run_cli.json("assistants", "show", kept["id"], "--archived")["instructions"] == "edited elsewhere"
    assert [entry["deleted"] for entry in run_cli.json("assistants", "history", gone["id"])] == [False, True]
    human = run_cli.ok("assistants", "pull").stdout
    assert "tombstones: 0" in human


def test_update_with_file_search_keeps_the_code_interpreter_files(run_cli: Cli, tmp_path: Path) -> None:
    data = run_cli.sdk.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="assistants")
    own = run_cli.sdk.beta.assistants.create(
        name="analyst",
        model="gpt-4o",
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [data.id]}},
    )
    notes = tmp_path / "notes.txt"
    notes.write_text("Otters hold hands while they sleep.\n")
    updated = run_cli.json("assistants", "update", own.id, "--file-search", str(notes))
    assert [tool["type"] for tool in updated["tools"]] == ["code_interpreter", "file_search"]
    assert updated["tool_resources"]["code_interpreter"]["file_ids"] == [data.id]
    assert len(updated["tool_resources"]["file_search"]["vector_store_ids"]) == 1


def test_update_with_file_search_deletes_only_the_store_it_made_and_nothing_else_uses(
    run_cli: Cli, tmp_path: Path
) -> None:
    notes, more = tmp_path / "notes.txt", tmp_path / "more.txt"
    notes.write_text("Otters hold hands while they sleep.\n")
    more.write_text("Owls cannot move their eyes.\n")
    sdk = run_cli.sdk

    def update(*paths: Path) -> str:
        """Update the assistant's searched files; the store it then uses."""
        args = [arg for path in paths for arg in ("--file-search", str(path))]
        updated = run_cli.json("assistants", "update", made["id"], *args)
        return str(updated["tool_resources"]["file_search"]["vector_store_ids"][0])

    made = run_cli.json(
        "assistants", "create", "--name", "reader", "--model", "gpt-4o", "--file-search", str(notes)
    )
    first = made["tool_resources"]["file_search"]["vector_store_ids"][0]
    assert sdk.vector_stores.retrieve(first).metadata == {"assistdb_files_for": "reader"}

    second = update(more)
    assert second != first
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.retrieve(first)  # made for it and used by nothing else: deleted
    archive = Store(run_cli.database_url)
    try:
        gone = archive.reader.current(first, include_deleted=True)
        assert gone is not None and gone.tombstone  # its history stays in the archive
    finally:
        archive.close()

    # a store another assistant also uses stays
    sdk.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [second]}},
    )
    assert update(notes) != second
    assert sdk.vector_stores.retrieve(second).id == second
    # and so does one made by hand
    by_hand = sdk.vector_stores.create(name="mine")
    api.call(
        sdk.beta.assistants.update,
        made["id"],
        tool_resources={"file_search": {"vector_store_ids": [by_hand.id]}},
    )
    assert update(more) != by_hand.id
    assert sdk.vector_stores.retrieve(by_hand.id).id == by_hand.id


def test_update_with_file_search_keeps_a_store_a_thread_the_archive_knows_uses(
    run_cli: Cli, tmp_path: Path
) -> None:
    notes, more = tmp_path / "notes.txt", tmp_path / "more.txt"
    notes.write_text("Otters hold hands while they sleep.\n")
    more.write_text("Owls cannot move their eyes.\n")
    made = run_cli.json(
        "assistants", "create", "--name", "reader", "--model", "gpt-4o", "--file-search", str(notes)
    )

    def update(path: Path) -> str:
        """Update the assistant's searched files; the store it then uses."""
        updated = run_cli.json("assistants", "update", made["id"], "--file-search", str(path))
        return str(updated["tool_resources"]["file_search"]["vector_store_ids"][0])

    def searching(store_id: str) -> dict[str, Any]:
        return {"file_search": {"vector_store_ids": [store_id]}}

    first = made["tool_resources"]["file_search"]["vector_store_ids"][0]
    with AssistDB(run_cli.database_url, client=run_cli.sdk) as db:
        db.threads.create(tool_resources=searching(first))  # archived
        second = update(more)
        assert second != first
        assert run_cli.sdk.vector_stores.retrieve(first).id == first  # a thread uses it: kept

        # The archive still has this thread, but the API deleted it: it uses nothing any more.
        gone = db.threads.create(tool_resources=searching(second))
        run_cli.sdk.beta.threads.delete(gone.id)
        assert db.threads.archived(gone.id) is not None
        assert update(notes) not in (first, second)
        with pytest.raises(openai.NotFoundError):
            run_cli.sdk.vector_stores.retrieve(second)
