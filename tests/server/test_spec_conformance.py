"""Every operation's responses match the official OpenAPI description of Assistants v2.

The conftest checks each response of every server test against the spec already; this module
makes sure that check covers all 23 operations, and that it would notice a wrong body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from assistdb.server import LocalServer
from tests.server.conftest import ResponseChecker
from tests.server.openapi_check import SpecValidator, load_validator


def test_every_operation_answers_per_spec(
    spec: SpecValidator, make_server: Any, response_checker: ResponseChecker
) -> None:
    operations: set[str] = set()

    def record(operation_id: str, status: int, body: object) -> None:
        operations.add(operation_id)
        response_checker.hook(operation_id, status, body)

    server: LocalServer = make_server(on_response=record)
    with server.client(max_retries=0) as client:
        file_id = client.files.create(file=("data.csv", b"1,2"), purpose="assistants").id
        assistants = client.beta.assistants
        assistant = assistants.create(
            model="gpt-4o",
            tools=[
                {"type": "function", "function": {"name": "f"}},
                {"type": "file_search"},
                {"type": "code_interpreter"},
            ],
            tool_resources={"code_interpreter": {"file_ids": [file_id]}},
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
        )
        assistants.retrieve(assistant.id)
        assistants.update(assistant.id, name="renamed", response_format="auto")
        assistants.list(limit=1)
        threads = client.beta.threads
        thread = threads.create(
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
                {"role": "user", "content": "/tool f {}\n/then\n/incomplete"},
            ]
        )
        threads.retrieve(thread.id)
        threads.update(thread.id, metadata={"a": "b"})
        messages = threads.messages.list(thread_id=thread.id)
        message = threads.messages.retrieve(messages.data[0].id, thread_id=thread.id)
        threads.messages.update(message.id, thread_id=thread.id, metadata={"x": "y"})
        run = threads.runs.create(
            thread_id=thread.id,
            assistant_id=assistant.id,
            max_prompt_tokens=5000,
            truncation_strategy={"type": "last_messages", "last_messages": 5},
            tool_choice={"type": "function", "function": {"name": "f"}},
        )
        run = threads.runs.poll(run.id, thread_id=thread.id)
        threads.runs.update(run.id, thread_id=thread.id, metadata={"m": "n"})
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "1"}]
        )
        run = threads.runs.poll(run.id, thread_id=thread.id)
        assert run.status == "incomplete"
        threads.runs.list(thread_id=thread.id)
        steps = threads.runs.steps.list(run_id=run.id, thread_id=thread.id)
        threads.runs.steps.retrieve(steps.data[0].id, thread_id=thread.id, run_id=run.id)
        threads.messages.list(thread_id=thread.id, run_id=run.id)
        other = threads.create_and_run(
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "/sleep 5"}]}
        )
        threads.runs.cancel(other.id, thread_id=other.thread_id)
        failed = threads.create_and_run_poll(
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "/fail x"}]}
        )
        assert failed.status == "failed"
        threads.messages.delete(message.id, thread_id=thread.id)
        threads.delete(other.thread_id)
        assistants.delete(assistant.id)
        for bad in (
            lambda: threads.retrieve("thread_missing"),
            lambda: assistants.create(model="gpt-4o", temperature=5),
            lambda: threads.runs.cancel(run.id, thread_id=thread.id),
        ):
            with pytest.raises(openai.APIStatusError):
                bad()
        fresh = threads.create()
        threads.messages.list(thread_id=fresh.id)
        threads.messages.create(
            thread_id=fresh.id,
            role="user",
            content="hi",
            attachments=[{"file_id": file_id, "tools": [{"type": "code_interpreter"}]}],
        )
    assert operations - {"createFile"} == spec.operations()
    assert response_checker.checked >= 30


def test_the_check_notices_wrong_bodies(spec: SpecValidator) -> None:
    run = {
        "id": "run_x",
        "object": "thread.run",
        "created_at": 1,
        "thread_id": "thread_x",
        "assistant_id": "asst_x",
        "status": "queued",
        "required_action": None,
        "last_error": None,
        "expires_at": 2,
        "started_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "model": "gpt-4o",
        "instructions": "",
        "tools": [],
        "metadata": {},
        "usage": None,
        "incomplete_details": None,
        "max_prompt_tokens": None,
        "max_completion_tokens": None,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "response_format": "auto",
    }
    assert spec.errors("getRun", 200, run) == []
    assert spec.errors("getRun", 200, {**run, "status": "sleeping"})
    assert spec.errors("getRun", 200, {key: value for key, value in run.items() if key != "usage"})
    assert spec.errors("getRun", 200, {**run, "tool_choice": None}) == []  # nullable per the spec
    assert spec.errors("getRun", 404, {"error": {"message": "m", "type": "t", "param": None}})
    empty = {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
    assert spec.errors("listRuns", 200, empty) == []
    assert spec.errors("listRuns", 200, {**empty, "data": [run]})  # non-empty pages need string ids


def test_a_missing_spec_means_skipping(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTDB_OPENAPI_SPEC", str(tmp_path / "absent.yaml"))
    assert load_validator() is None
