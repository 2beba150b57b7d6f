"""Transcripts: the conversation, its runs, tool calls and usage, read from the archive alone."""

from __future__ import annotations

import json

import pytest

from assistdb import AssistDB, NotFoundError
from assistdb.audit import build_transcript
from assistdb.audit.transcript import MessageEntry, RunEntry
from assistdb.repositories import api
from assistdb.server import LocalServer
from assistdb.store import Store
from assistdb.sync import sync_thread
from tests import factories
from tests.sync.helpers import add_message, converse, new_assistant, start_run, wait_run


def test_transcript_interleaves_messages_runs_tool_calls_errors_and_usage(
    db: AssistDB, assistdb_server: LocalServer, database_url: str
) -> None:
    client = assistdb_server.client()
    thread_id = api.call(client.beta.threads.create, metadata={"customer": "c-42"}).id
    assistant_id = new_assistant(client)
    add_message(client, thread_id, '/tool get_weather {"city": "Paris"}')
    tool_run = wait_run(client, thread_id, start_run(client, thread_id, assistant_id))
    call = tool_run.required_action.submit_tool_outputs.tool_calls[0]
    api.call(
        client.beta.threads.runs.submit_tool_outputs,
        tool_run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": "21 degrees"}],
    )
    assert wait_run(client, thread_id, tool_run.id).status == "completed"
    failed = converse(client, thread_id, assistant_id, "/fail the tool backend is down")
    cut = converse(client, thread_id, assistant_id, "/incomplete")
    sync_thread(db, thread_id)
    assistdb_server.stop()  # from here on, only the archive answers

    transcript = build_transcript(Store(database_url), thread_id)

    kinds = [(e.kind, e.role if isinstance(e, MessageEntry) else e.status) for e in transcript.entries]
    assert kinds == [
        ("message", "user"),
        ("run", "completed"),
        ("message", "assistant"),
        ("message", "user"),
        ("run", "failed"),
        ("message", "user"),
        ("run", "incomplete"),
        ("message", "assistant"),
    ]
    tool = transcript.entries[1]
    assert isinstance(tool, RunEntry) and tool.id == tool_run.id
    ((name, arguments, output),) = [(c.name, c.arguments, c.output) for c in tool.tool_calls]
    assert (name, json.loads(arguments or ""), output) == ("get_weather", {"city": "Paris"}, "21 degrees")
    assert transcript.entries[2].text == "get_weather -> 21 degrees"  # type: ignore[union-attr]
    failure = transcript.entries[4]
    assert isinstance(failure, RunEntry) and failure.id == failed.id
    assert failure.last_error == {"code": "server_error", "message": "the tool backend is down"}
    incomplete = transcript.entries[6]
    assert isinstance(incomplete, RunEntry) and incomplete.id == cut.id and incomplete.incomplete_details
    runs = [e for e in transcript.entries if isinstance(e, RunEntry)]
    assert all(run.usage is not None for run in runs)
    assert transcript.usage.total_tokens == sum(run.usage.total_tokens for run in runs if run.usage) > 0
    assert transcript.metadata == {"customer": "c-42"}

    markdown = transcript.to_markdown()
    for expected in (
        "get_weather",
        '"city": "Paris"',
        "21 degrees",
        "failed",
        "the tool backend is down",
        "incomplete",
    ):
        assert expected in markdown
    assert f"{transcript.usage.total_tokens} tokens" in markdown
    data = json.loads(transcript.to_json())
    assert [entry["kind"] for entry in data["entries"]] == [kind for kind, _ in kinds]
    assert data["usage"]["total_tokens"] == transcript.usage.total_tokens


def test_an_output_the_steps_lack_comes_from_the_tool_call_ledger(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    run = factories.run("run_1", status="requires_action", created_at=1_700_000_001)
    run["required_action"] = {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
            ]
        },
    }
    store.record([factories.thread(), factories.message("msg_1", text="look it up"), run])
    store.tools.finish(
        call_id="call_1",
        run_id="run_1",
        thread_id="thread_a",
        function_name="lookup",
        arguments="{}",
        attempt=1,
        output="found it",
        is_error=False,
    )

    transcript = build_transcript(store, "thread_a")

    (_, waiting) = transcript.entries
    assert isinstance(waiting, RunEntry) and waiting.status == "requires_action"
    assert [(c.name, c.output) for c in waiting.tool_calls] == [("lookup", "found it")]
    store.close()


def test_a_deleted_thread_still_has_its_transcript(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    store.record([factories.thread(topic="x"), factories.message("msg_1", text="kept in the archive")])
    store.record_deleted(["thread_a"])

    transcript = build_transcript(store, "thread_a")

    assert transcript.deleted and transcript.metadata == {"topic": "x"}
    assert transcript.entries == []  # its messages were deleted with it
    assert "deleted remotely" in transcript.to_markdown()
    store.close()


def test_an_unknown_thread_has_no_transcript(sqlite_url: str) -> None:
    with pytest.raises(NotFoundError, match="sync it first"):
        build_transcript(Store(sqlite_url), "thread_unknown")
