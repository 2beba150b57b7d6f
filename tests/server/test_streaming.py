"""Streaming through the SDK's helpers: event order, accumulated snapshots, tool rounds, disconnects."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest
from openai import AssistantEventHandler, AsyncAssistantEventHandler

from assistdb.server import LocalServer
from tests.server.conftest import ResponseChecker

REPLY_EVENTS = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
]
FINISH_EVENTS = ["thread.message.completed", "thread.run.step.completed", "thread.run.completed"]


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.text: list[str] = []
        self.tool_calls: list[str] = []
        self.finished_tool_calls: list[Any] = []

    def on_event(self, event: Any) -> None:
        self.events.append(event.event)

    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.text.append(delta.value)

    def on_tool_call_created(self, tool_call: Any) -> None:
        self.tool_calls.append(tool_call.function.name)

    def on_tool_call_done(self, tool_call: Any) -> None:
        self.finished_tool_calls.append(tool_call)


def without_deltas(events: list[str]) -> list[str]:
    return [event for event in events if not event.endswith(".delta")]


@pytest.fixture
def tool_assistant(client: openai.OpenAI) -> Any:
    return client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "function", "function": {"name": name}} for name in ("a", "b")]
    )


def test_stream_of_a_plain_reply(client: openai.OpenAI, tool_assistant: Any) -> None:
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "stream me a fairly long reply please"}]
    )
    handler = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=tool_assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
        final_run = stream.get_final_run()
        final_messages = stream.get_final_messages()
    assert without_deltas(handler.events) == REPLY_EVENTS + FINISH_EVENTS
    assert handler.events.count("thread.message.delta") > 3
    assert "".join(handler.text) == "You said: stream me a fairly long reply please"
    assert final_run == client.beta.threads.runs.retrieve(final_run.id, thread_id=thread.id)
    assert final_messages == [client.beta.threads.messages.list(thread_id=thread.id).data[0]]


def test_stream_takes_the_same_time_as_polling(make_server: Any) -> None:
    server = make_server(run_latency=0.5)
    with server.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        started = time.monotonic()
        with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
            stream.until_done()
        elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 3.0


def test_create_and_run_stream_starts_with_the_thread(client: openai.OpenAI, tool_assistant: Any) -> None:
    handler = Recorder()
    with client.beta.threads.create_and_run_stream(
        assistant_id=tool_assistant.id,
        thread={"messages": [{"role": "user", "content": "hello"}]},
        event_handler=handler,
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
    assert handler.events[0] == "thread.created"
    assert without_deltas(handler.events)[1:] == REPLY_EVENTS + FINISH_EVENTS
    assert client.beta.threads.retrieve(run.thread_id).id == run.thread_id


def test_stream_through_tool_calls(client: openai.OpenAI, tool_assistant: Any) -> None:
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": '/tool a {"x": 1, "note": "several words of arguments"}\n/tool b'}
        ]
    )
    first = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=tool_assistant.id, event_handler=first
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
        steps = stream.get_final_run_steps()
    assert without_deltas(first.events) == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.requires_action",
    ]
    assert run.status == "requires_action"
    assert first.tool_calls == ["a", "b"]
    assert [call.function.arguments for call in first.finished_tool_calls] == [
        '{"x": 1, "note": "several words of arguments"}',
        "{}",
    ]
    api_step = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data[0]

    def calls(step: Any) -> list[tuple[str, str, str]]:
        return [(c.id, c.function.name, c.function.arguments) for c in step.step_details.tool_calls]

    assert calls(steps[0]) == calls(api_step)

    second = Recorder()
    outputs = [
        {"tool_call_id": call.id, "output": call.function.name.upper()}
        for call in run.required_action.submit_tool_outputs.tool_calls
    ]
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=outputs, event_handler=second
    ) as stream:
        stream.until_done()
        done = stream.get_final_run()
        messages = stream.get_final_messages()
    assert without_deltas(second.events) == [
        "thread.run.step.completed",
        "thread.run.queued",
        *REPLY_EVENTS[2:],
        *FINISH_EVENTS,
    ]
    assert done == client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert messages[0].content[0].text.value == "a -> A\nb -> B"


@pytest.mark.parametrize(
    ("text", "last_events"),
    [
        ("/fail nope", ["thread.run.in_progress", "thread.run.failed"]),
        ("/incomplete", ["thread.message.incomplete", "thread.run.step.completed", "thread.run.incomplete"]),
        ("/expire", ["thread.run.in_progress", "thread.run.expired"]),
        ("/tool nope {}", ["thread.run.in_progress", "thread.run.failed"]),
    ],
)
def test_stream_of_each_ending(
    client: openai.OpenAI, tool_assistant: Any, text: str, last_events: list[str]
) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": text}])
    handler = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=tool_assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
    assert without_deltas(handler.events)[-len(last_events) :] == last_events
    assert run == client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)


def test_cancelling_a_streamed_run(make_server: Any) -> None:
    server = make_server(run_latency=0.6)
    with server.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        handler = Recorder()
        with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
        ) as stream:
            for event in stream:
                if event.event == "thread.message.in_progress":
                    client.beta.threads.runs.cancel(event.data.run_id, thread_id=thread.id)
        assert without_deltas(handler.events)[-4:] == [
            "thread.run.cancelling",
            "thread.run.step.cancelled",
            "thread.message.incomplete",
            "thread.run.cancelled",
        ]


def test_client_disconnect_does_not_break_the_run(make_server: Any) -> None:
    server = make_server(run_latency=0.3)
    with server.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "leaving early"}])
        stream = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True)
        first = next(iter(stream))
        stream.close()
        assert first.event == "thread.run.created"
        run = client.beta.threads.runs.poll(first.data.id, thread_id=thread.id)
        assert run.status == "completed"
        reply = client.beta.threads.messages.list(thread_id=thread.id).data[0]
        assert reply.content[0].text.value == "You said: leaving early"


def test_raw_sse_wire_format(server: LocalServer, response_checker: ResponseChecker) -> None:
    with server.client() as client:
        assistant = client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": "/tool f {}\n/then\n/tool f {}"}]
        )
    frames: list[tuple[str, str]] = []
    with (
        httpx.Client(verify=False) as raw,
        raw.stream(
            "POST",
            f"{server.base_url}/threads/{thread.id}/runs",
            headers={"OpenAI-Beta": "assistants=v2", "Authorization": f"Bearer {server.api_key}"},
            json={"assistant_id": assistant.id, "stream": True},
        ) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                frames.append((event, line[len("data: ") :]))
    assert frames[-1] == ("done", "[DONE]")
    schemas = {
        "thread.run.step": "RunStepObject",
        "thread.run": "RunObject",
        "thread.message": "MessageObject",
    }
    for event, data in frames[:-1]:
        payload = json.loads(data)
        if event.endswith(".delta"):
            assert payload["object"] == event
            continue
        kind = event.rsplit(".", 1)[0]
        assert payload["object"] == kind
        if response_checker.validator is not None:
            assert response_checker.validator.object_errors(schemas[kind], payload) == [], event


async def test_async_event_handler(server: LocalServer) -> None:
    class AsyncRecorder(AsyncAssistantEventHandler):
        def __init__(self) -> None:
            super().__init__()
            self.events: list[str] = []

        async def on_event(self, event: Any) -> None:
            self.events.append(event.event)

    async with server.async_client() as client:
        assistant = await client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "/tool f {}"}])
        handler = AsyncRecorder()
        async with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
        ) as stream:
            await stream.until_done()
            run = await stream.get_final_run()
        assert handler.events[-1] == "thread.run.requires_action"
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        second = AsyncRecorder()
        async with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id,
            run_id=run.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "7"}],
            event_handler=second,
        ) as stream:
            await stream.until_done()
            done = await stream.get_final_run()
            messages = await stream.get_final_messages()
        assert second.events[-1] == "thread.run.completed"
        assert done == await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert messages[0].content[0].text.value == "f -> 7"
        created = AsyncRecorder()
        async with client.beta.threads.create_and_run_stream(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "hi"}]},
            event_handler=created,
        ) as stream:
            await stream.until_done()
        assert created.events[0] == "thread.created" and created.events[-1] == "thread.run.completed"
