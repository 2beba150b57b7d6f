"""Deleted and historical objects, from the archive: ``show`` prints the last content with the
time the deletion was recorded, and ``history`` lists every version, for every kind of object."""

from __future__ import annotations

from assistdb.repositories import api
from tests.cli.conftest import Cli, assert_one_line_error


def test_a_message_deleted_remotely_is_shown_as_last_archived(run_cli: Cli) -> None:
    thread = run_cli.json("threads", "create", "--message", "keep this in mind")
    message = run_cli.json("messages", "list", thread["id"])[0]
    api.call(run_cli.sdk.beta.threads.messages.delete, message["id"], thread_id=thread["id"])
    run_cli.ok("threads", "sync", thread["id"], "--full")

    shown = run_cli.ok("messages", "show", message["id"]).stdout
    assert "keep this in mind" in shown
    assert "deleted:  remotely; recorded 20" in shown
    assert run_cli.json("messages", "show", message["id"]) == message  # the body as it was

    history = run_cli.json("messages", "history", message["id"])
    assert [entry["deleted"] for entry in history] == [False, True]
    assert history[0]["message"] == message
    text = run_cli.ok("messages", "history", message["id"]).stdout.splitlines()
    assert text[0].startswith("v1 ") and text[-1].endswith("deleted remotely")
    assert run_cli.json("messages", "list", thread["id"]) == []  # lists show what exists now


def test_threads_and_runs_have_history_and_deleted_state(run_cli: Cli) -> None:
    assistant = run_cli.json("assistants", "create", "--name", "bot", "--model", "gpt-4o")
    thread = run_cli.json("threads", "create", "--message", "hello", "--metadata", "stage=one")
    run = run_cli.json("runs", "create", thread["id"], "--assistant", assistant["id"], "--wait")
    run_history = run_cli.json("runs", "history", run["id"])
    assert run_history[-1]["run"]["status"] == "completed"
    assert any(change["field"] == "status" for entry in run_history for change in entry["changes"])
    steps = run_cli.json("runs", "steps", run["id"])
    assert run_cli.json("runs", "history", steps[0]["id"])[-1]["run_step"]["id"] == steps[0]["id"]

    run_cli.ok("threads", "delete", thread["id"], "--yes")
    shown = run_cli.ok("threads", "show", thread["id"]).stdout
    assert "stage=one" in shown and "deleted:     remotely; recorded" in shown
    history = run_cli.json("threads", "history", thread["id"])
    assert [entry["deleted"] for entry in history][-1] is True
    assert_one_line_error(run_cli("threads", "history", "thread_nope"), 3, "threads track")
    assert_one_line_error(run_cli("runs", "history", "asst_nope"), 2)
