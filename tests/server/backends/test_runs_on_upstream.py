"""The server's runs answered by a Chat Completions upstream (the scripted double), through the SDK.

The same clients as with the scripted model (sync and async, polling and streaming event
handlers) hold conversations through the run driver; every request the runtime makes upstream
and every chunk the double answers is checked against the Chat Completions spec (conftest).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import AssistantEventHandler

from assistdb.server import LocalServer
from assistdb.server.backends.scripted_upstream import Call, Failure, Reply, ScriptedUpstream
from tests.server.backends.conftest import SECRET_KEY, settings_for

TOOLS = [{"type": "function", "function": {"name": name}} for name in ("lookup", "weather")]
REPLY_EVENTS = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.completed",
    "thread.run.step.completed",
    "thread.run.completed",
]


@pytest.fixture
def server(upstream: ScriptedUpstream) -> Iterator[LocalServer]:
    with LocalServer(upstream=settings_for(upstream), poll_after_ms=20) as running:
        yield running


@pytest.fixture
def client(server: LocalServer) -> Iterator[openai.OpenAI]:
    with server.client() as sdk:
        yield sdk


@pytest.fixture
def assistant(client: openai.OpenAI) -> Any:
    return client.beta.assistants.create(model="gpt-4o", instructions="Be brief.", tools=TOOLS)  # type: ignore[arg-type]


def thread_saying(client: openai.OpenAI, text: str) -> Any:
    return client.beta.threads.create(messages=[{"role": "user", "content": text}])


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.text: list[str] = []

    def on_event(self, event: Any) -> None:
        self.events.append(event.event)

    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.text.append(delta.value)


def test_a_conversation_with_usage_from_the_upstream(
    client: openai.OpenAI, assistant: Any, upstream: ScriptedUpstream
) -> None:
    thread = thread_saying(client, "Hello there")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed"
    reply = client.beta.threads.messages.list(thread_id=thread.id).data[0]
    assert reply.content[0].text.value == "You said: Hello there" and reply.status == "completed"
    sent = upstream.requests[0].body
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello there"},
    ]
    usage = next(answer["usage"] for answer in upstream.requests[0].answers if answer.get("usage"))
    assert run.usage.prompt_tokens == usage["prompt_tokens"]
    assert run.usage.completion_tokens == usage["completion_tokens"]
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="And again")
    client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert [m["role"] for m in upstream.requests[1].body["messages"]] == [
        "system",
        "user",
        "assistant",
        "user",
    ]


def test_streaming_relays_the_upstream_chunks_in_the_official_order(
    client: openai.OpenAI, assistant: Any, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="one two three four five six", chunk_delay=0.01))
    handler = Recorder()
    thread = thread_saying(client, "count")
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
        final = stream.get_final_messages()
    assert [e for e in handler.events if not e.endswith(".delta")] == REPLY_EVENTS
    assert handler.events.count("thread.message.delta") == 6
    assert "".join(handler.text) == "one two three four five six"
    assert final == [client.beta.threads.messages.list(thread_id=thread.id).data[0]]


def test_tool_rounds_go_back_to_the_model(
    client: openai.OpenAI, assistant: Any, upstream: ScriptedUpstream
) -> None:
    upstream.script(
        Reply(calls=(Call("lookup", '{"q": "cats"}'), Call("weather", '{"city": "Oslo"}'))),
        Reply(calls=(Call("lookup", "{}"),)),
        Reply(text="All done."),
    )
    thread = thread_saying(client, "use tools")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("lookup", '{"q": "cats"}'),
        ("weather", '{"city": "Oslo"}'),
    ]
    outputs = [{"tool_call_id": c.id, "output": f"out-{c.function.name}"} for c in calls]
    second = client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id, run_id=run.id, tool_outputs=outputs
    )
    assert second.status == "requires_action"
    last_call = second.required_action.submit_tool_outputs.tool_calls[0]
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": last_call.id, "output": "3"}]
    )
    assert done.status == "completed"
    messages = upstream.requests[2].body["messages"]
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "tool",
    ]
    assert [c["id"] for c in messages[2]["tool_calls"]] == [c.id for c in calls]
    assert messages[3] == {"role": "tool", "tool_call_id": calls[0].id, "content": "out-lookup"}
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
    assert [s.type for s in steps] == ["tool_calls", "tool_calls", "message_creation"]
    assert sum(s.usage.total_tokens for s in steps) == done.usage.total_tokens
    replies = [
        m for m in client.beta.threads.messages.list(thread_id=thread.id).data if m.role == "assistant"
    ]
    assert [m.content[0].text.value for m in replies] == ["All done."]


async def test_async_streaming_through_a_tool_round(server: LocalServer, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(calls=(Call("weather", '{"city": "Paris"}'),)), Reply(text="Sunny in Paris."))
    async with server.async_client() as client:
        assistant = await client.beta.assistants.create(model="gpt-4o", tools=TOOLS)  # type: ignore[arg-type]
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "weather?"}])
        async with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
            await stream.until_done()
            run = await stream.get_final_run()
        assert run.status == "requires_action"
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        assert call.function.arguments == '{"city": "Paris"}'
        async with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}]
        ) as stream:
            await stream.until_done()
            final = await stream.get_final_run()
            messages = await stream.get_final_messages()
        assert final.status == "completed"
        assert messages[0].content[0].text.value == "Sunny in Paris."  # type: ignore[union-attr]


def test_a_length_cutoff_ends_the_run_incomplete(
    client: openai.OpenAI, assistant: Any, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="a reply that the upstream cuts off", finish_reason="length"))
    thread = thread_saying(client, "talk")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=300
    )
    assert run.status == "incomplete" and run.incomplete_details.reason == "max_completion_tokens"
    message = client.beta.threads.messages.list(thread_id=thread.id).data[0]
    assert message.status == "incomplete" and message.incomplete_details.reason == "max_tokens"


def test_an_upstream_error_fails_the_run_with_what_it_said(
    client: openai.OpenAI, assistant: Any, upstream: ScriptedUpstream
) -> None:
    upstream.script(Failure(404, "The model 'gpt-4o' does not exist", echo_authorization=True))
    thread = thread_saying(client, "hi")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "failed" and run.last_error.code == "server_error"
    assert "does not exist" in run.last_error.message and SECRET_KEY not in run.last_error.message
    assert client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data == []


def test_a_stream_cut_mid_reply_keeps_one_message_with_what_arrived(
    client: openai.OpenAI, assistant: Any, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="alpha beta gamma delta epsilon zeta", disconnect_after=3))
    thread = thread_saying(client, "go")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "failed" and run.last_error.code == "server_error"
    replies = [
        m for m in client.beta.threads.messages.list(thread_id=thread.id).data if m.role == "assistant"
    ]
    assert len(replies) == 1 and replies[0].status == "incomplete"
    assert "alpha" in replies[0].content[0].text.value
    assert "zeta" not in replies[0].content[0].text.value
    step = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data[0]
    assert step.status == "failed" and step.last_error.code == "server_error"


def test_cancel_aborts_the_upstream_request_within_a_second(
    client: openai.OpenAI, assistant: Any, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="a slow answer that takes a long time to stream out", chunk_delay=0.5))
    thread = thread_saying(client, "slowly")
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    deadline = time.monotonic() + 10
    while client.beta.threads.messages.list(thread_id=thread.id).data[0].role != "assistant":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    cancelled_at = time.monotonic()
    assert client.beta.threads.runs.cancel(run.id, thread_id=thread.id).status == "cancelling"
    done = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    assert done.status == "cancelled"
    exchange = upstream.requests[0]
    while exchange.disconnected_at is None and time.monotonic() - cancelled_at < 2:
        time.sleep(0.01)
    assert exchange.disconnected_at is not None and exchange.disconnected_at - cancelled_at < 1.0
    message = client.beta.threads.messages.list(thread_id=thread.id).data[0]
    assert message.status == "incomplete" and message.incomplete_details.reason == "run_cancelled"
