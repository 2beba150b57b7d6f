"""Assistants, threads and messages: CRUD through the sync and async SDK, with every field."""

from __future__ import annotations

import re
from typing import Any

import openai
import pytest

from assistdb.server import LocalServer

ID = re.compile(r"^(asst|thread|msg|run|step|call)_[A-Za-z0-9]{24}$")


def _file(client: openai.OpenAI, name: str = "notes.txt", content: bytes = b"some notes") -> str:
    """A real uploaded file: objects may only name files that exist."""
    return client.files.create(file=(name, content), purpose="assistants").id


def test_assistant_crud(client: openai.OpenAI) -> None:
    file_a = _file(client)
    store = client.vector_stores.create(name="docs")
    created = client.beta.assistants.create(
        model="gpt-4o",
        name="Math Tutor",
        description="Helps with math",
        instructions="Solve it.",
        tools=[
            {"type": "code_interpreter"},
            {"type": "file_search", "file_search": {"max_num_results": 5}},
            {
                "type": "function",
                "function": {
                    "name": "add",
                    "description": "Add",
                    "parameters": {"type": "object"},
                    "strict": True,
                },
            },
        ],
        tool_resources={
            "code_interpreter": {"file_ids": [file_a]},
            "file_search": {"vector_store_ids": [store.id]},
        },
        metadata={"team": "math"},
        temperature=0.5,
        top_p=0.8,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}},
        },
        reasoning_effort="medium",
    )
    assert ID.match(created.id) and created.id.startswith("asst_")
    assert created.object == "assistant" and isinstance(created.created_at, int)
    assert created.name == "Math Tutor" and created.description == "Helps with math"
    assert [tool.type for tool in created.tools] == ["code_interpreter", "file_search", "function"]
    assert created.tools[2].function.strict is True
    assert created.tool_resources.code_interpreter.file_ids == [file_a]
    assert created.metadata == {"team": "math"}
    assert created.temperature == 0.5 and created.top_p == 0.8
    assert created.response_format.type == "json_schema"
    assert client.beta.assistants.retrieve(created.id) == created

    updated = client.beta.assistants.update(
        created.id, name="Renamed", metadata={"v": "2"}, tools=[], temperature=None
    )
    assert updated.name == "Renamed" and updated.metadata == {"v": "2"} and updated.tools == []
    assert (
        updated.temperature == 1.0 and updated.description == "Helps with math" and updated.model == "gpt-4o"
    )
    cleared = client.beta.assistants.update(created.id, description=None)
    assert cleared.description is None

    deleted = client.beta.assistants.delete(created.id)
    assert deleted.model_dump() == {"id": created.id, "object": "assistant.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.assistants.retrieve(created.id)
    assert caught.value.body == {
        "message": f"No assistant found with id '{created.id}'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_assistant_defaults_are_explicit(server: LocalServer) -> None:
    with server.client() as client:
        raw = client.beta.assistants.with_raw_response.create(model="gpt-4o")
    body = raw.http_response.json()
    assert body == {
        "id": body["id"],
        "object": "assistant",
        "created_at": body["created_at"],
        "name": None,
        "description": None,
        "model": "gpt-4o",
        "instructions": None,
        "tools": [],
        "tool_resources": {},
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "response_format": "auto",
        "reasoning_effort": None,
    }


def test_inline_vector_store_is_created_with_its_files(client: openai.OpenAI) -> None:
    file_id = _file(client)
    thread = client.beta.threads.create(
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [file_id], "metadata": {"k": "v"}}]}}
    )
    (store_id,) = thread.tool_resources.file_search.vector_store_ids
    store = client.vector_stores.retrieve(store_id)
    assert (store.file_counts.completed, store.metadata) == (1, {"k": "v"})


def test_tool_resources_and_content_must_name_existing_objects(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="No vector store found with id 'vs_missing'"):
        client.beta.assistants.create(
            model="gpt-4o", tool_resources={"file_search": {"vector_store_ids": ["vs_missing"]}}
        )
    with pytest.raises(openai.NotFoundError, match="No file found with id 'file-missing'"):
        client.beta.threads.create(tool_resources={"code_interpreter": {"file_ids": ["file-missing"]}})
    with pytest.raises(openai.NotFoundError, match="No file found"):
        client.beta.threads.create(
            tool_resources={"file_search": {"vector_stores": [{"file_ids": ["file-missing"]}]}}
        )
    thread = client.beta.threads.create()
    for content in (
        "hi",
        [{"type": "image_file", "image_file": {"file_id": "file-missing"}}],
    ):
        attachments = (
            [{"file_id": "file-missing", "tools": [{"type": "file_search"}]}] if content == "hi" else None
        )
        with pytest.raises(openai.NotFoundError, match="No file found"):
            client.beta.threads.messages.create(
                thread_id=thread.id,
                role="user",
                content=content,
                attachments=attachments,  # type: ignore[arg-type]
            )
    assert client.beta.assistants.list().data == []
    assert client.vector_stores.list().data == []
    assert client.beta.threads.messages.list(thread_id=thread.id).data == []


def test_attachments_join_the_threads_resources(client: openai.OpenAI) -> None:
    searchable, runnable = _file(client, "a.txt", b"alpha"), _file(client, "b.csv", b"1,2")
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "read these",
                "attachments": [
                    {"file_id": searchable, "tools": [{"type": "file_search"}]},
                    {"file_id": runnable, "tools": [{"type": "code_interpreter"}]},
                ],
            }
        ]
    )
    thread = client.beta.threads.retrieve(thread.id)
    assert thread.tool_resources.code_interpreter.file_ids == [runnable]
    (store_id,) = thread.tool_resources.file_search.vector_store_ids
    store = client.vector_stores.retrieve(store_id)
    assert store.expires_after is not None and store.expires_after.days == 7
    assert [item.id for item in client.vector_stores.files.list(store_id).data] == [searchable]
    client.beta.threads.messages.create(
        thread_id=thread.id,
        role="user",
        content="and this",
        attachments=[{"file_id": runnable, "tools": [{"type": "file_search"}]}],
    )
    assert client.beta.threads.retrieve(thread.id).tool_resources.file_search.vector_store_ids == [store_id]
    assert client.vector_stores.retrieve(store_id).file_counts.total == 2


def test_thread_crud(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(metadata={"user": "u1"})
    assert ID.match(thread.id) and thread.object == "thread"
    assert thread.metadata == {"user": "u1"} and thread.tool_resources.code_interpreter is None
    assert client.beta.threads.retrieve(thread.id) == thread
    file_id = _file(client)
    updated = client.beta.threads.update(
        thread.id, metadata={"user": "u2"}, tool_resources={"code_interpreter": {"file_ids": [file_id]}}
    )
    assert updated.metadata == {"user": "u2"} and updated.tool_resources.code_interpreter.file_ids == [
        file_id
    ]
    deleted = client.beta.threads.delete(thread.id)
    assert deleted.model_dump() == {"id": thread.id, "object": "thread.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError, match=f"No thread found with id '{thread.id}'."):
        client.beta.threads.retrieve(thread.id)


def test_message_crud_and_fields(server: LocalServer) -> None:
    with server.client() as client:
        thread = client.beta.threads.create()
        file_x = _file(client)
        raw = client.beta.threads.messages.with_raw_response.create(
            thread_id=thread.id,
            role="user",
            content="What is 2+2?",
            attachments=[{"file_id": file_x, "tools": [{"type": "file_search"}]}],
            metadata={"n": "1"},
        )
        body = raw.http_response.json()
        assert body == {
            "id": body["id"],
            "object": "thread.message",
            "created_at": body["created_at"],
            "assistant_id": None,
            "thread_id": thread.id,
            "run_id": None,
            "role": "user",
            "content": [{"type": "text", "text": {"value": "What is 2+2?", "annotations": []}}],
            "attachments": [{"file_id": file_x, "tools": [{"type": "file_search"}]}],
            "metadata": {"n": "1"},
            "status": "completed",
            "incomplete_details": None,
            "completed_at": None,
            "incomplete_at": None,
        }
        message = raw.parse()
        assert client.beta.threads.messages.retrieve(message.id, thread_id=thread.id) == message
        updated = client.beta.threads.messages.update(message.id, thread_id=thread.id, metadata={"n": "2"})
        assert updated.metadata == {"n": "2"}
        deleted = client.beta.threads.messages.delete(message.id, thread_id=thread.id)
        assert deleted.model_dump() == {"id": message.id, "object": "thread.message.deleted", "deleted": True}
        with pytest.raises(openai.NotFoundError, match="No message found with id"):
            client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)


def test_message_content_parts(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    image = client.files.create(file=("cat.png", b"\x89PNG\r\n"), purpose="vision").id
    message = client.beta.threads.messages.create(
        thread_id=thread.id,
        role="user",
        content=[
            {"type": "text", "text": "Look at these"},
            {"type": "image_file", "image_file": {"file_id": image, "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ],
    )
    assert [part.type for part in message.content] == ["text", "image_file", "image_url"]
    assert message.content[1].image_file.detail == "low"
    assert message.content[2].image_url.url == "https://example.com/cat.png"
    assistant_note = client.beta.threads.messages.create(
        thread_id=thread.id, role="assistant", content="noted"
    )
    assert assistant_note.role == "assistant" and assistant_note.assistant_id is None


def test_thread_created_with_messages(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "first"}, {"role": "assistant", "content": "second"}]
    )
    messages = client.beta.threads.messages.list(thread_id=thread.id, order="asc").data
    assert [m.content[0].text.value for m in messages] == ["first", "second"]
    assert all(m.created_at == thread.created_at for m in messages)


def test_message_of_another_thread_is_404(client: openai.OpenAI) -> None:
    first = client.beta.threads.create(messages=[{"role": "user", "content": "a"}])
    second = client.beta.threads.create()
    message_id = client.beta.threads.messages.list(thread_id=first.id).data[0].id
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.retrieve(message_id, thread_id=second.id)


def test_deleting_a_thread_deletes_messages_runs_and_steps(server: LocalServer) -> None:
    with server.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        message_id = client.beta.threads.messages.list(thread_id=thread.id).data[0].id
        client.beta.threads.delete(thread.id)
        with pytest.raises(openai.NotFoundError):
            client.beta.threads.messages.retrieve(message_id, thread_id=thread.id)
        with pytest.raises(openai.NotFoundError):
            client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        with pytest.raises(openai.NotFoundError):
            client.beta.threads.messages.list(thread_id=thread.id)
        assert client.beta.assistants.retrieve(assistant.id).id == assistant.id


def test_deleting_a_thread_with_an_active_run(make_server: Any) -> None:
    server = make_server(run_latency=5)
    with server.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        assert client.beta.threads.delete(thread.id).deleted is True


def test_metadata_round_trips_on_every_object(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", metadata={"a": "1"})
    thread = client.beta.threads.create(metadata={"b": "2"})
    message = client.beta.threads.messages.create(
        thread_id=thread.id, role="user", content="x", metadata={"c": "3"}
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, metadata={"d": "4"}
    )
    assert (assistant.metadata, thread.metadata, message.metadata, run.metadata) == (
        {"a": "1"},
        {"b": "2"},
        {"c": "3"},
        {"d": "4"},
    )
    step = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data[0]
    assert step.metadata == {}
    assert client.beta.threads.update(thread.id, metadata={}).metadata == {}


async def test_async_crud(server: LocalServer) -> None:
    async with server.async_client() as client:
        assistant = await client.beta.assistants.create(model="gpt-4o", name="async")
        assert (await client.beta.assistants.retrieve(assistant.id)).name == "async"
        assert (await client.beta.assistants.update(assistant.id, name="b")).name == "b"
        thread = await client.beta.threads.create()
        message = await client.beta.threads.messages.create(thread_id=thread.id, role="user", content="hi")
        assert (await client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)).id == message.id
        assert (
            await client.beta.threads.messages.update(message.id, thread_id=thread.id, metadata={"x": "y"})
        ).metadata == {"x": "y"}
        listed = [m.id async for m in client.beta.threads.messages.list(thread_id=thread.id)]
        assert listed == [message.id]
        assert (await client.beta.threads.messages.delete(message.id, thread_id=thread.id)).deleted
        assert (await client.beta.threads.update(thread.id, metadata={"k": "v"})).metadata == {"k": "v"}
        assert (await client.beta.threads.retrieve(thread.id)).id == thread.id
        assert (await client.beta.threads.delete(thread.id)).deleted
        assert [a.id async for a in client.beta.assistants.list()] == [assistant.id]
        assert (await client.beta.assistants.delete(assistant.id)).deleted
