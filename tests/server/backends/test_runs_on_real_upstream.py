"""Runs through the server answered by a real, independently written upstream: llama.cpp's.

Runs when ``ASSISTDB_TEST_UPSTREAM_URL`` is set (``bash ../shared/upstream/llama-server.sh start``
prints it; the model is ``tiny``). The replies are noise; what is checked is the protocol: the
official SDK's streaming through the run driver, with the upstream's usage, and a tool round
through the SDK's event handler (the backend alone is covered in test_real_upstream).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from assistdb.server import LocalServer
from assistdb.server.backends.chat_completions import UpstreamSettings
from tests.server.backends.test_translation import WEATHER

UPSTREAM_URL = os.environ.get("ASSISTDB_TEST_UPSTREAM_URL")

pytestmark = pytest.mark.skipif(
    not UPSTREAM_URL, reason="set ASSISTDB_TEST_UPSTREAM_URL (bash ../shared/upstream/llama-server.sh start)"
)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    settings = UpstreamSettings(base_url=UPSTREAM_URL, model_map={"*": "tiny"}, max_retries=1, timeout=60)
    with LocalServer(upstream=settings, poll_after_ms=20) as running:
        yield running


def test_a_streamed_run_on_llama_cpp(server: LocalServer) -> None:
    with server.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4o", instructions="You are a helpful assistant.")
        # The random-weight model ends its answer after one token now and then (5 answers in 300,
        # measured); such a run streams one delta and says nothing about the relay of several,
        # so it is run again on a new thread, up to 5 times.
        for _ in range(5):
            thread = client.beta.threads.create(messages=[{"role": "user", "content": "Say hello."}])
            events: list[str] = []
            text: list[str] = []
            with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
                for event in stream:
                    events.append(event.event)
                    if event.event == "thread.message.delta":
                        text.extend(part.text.value or "" for part in event.data.delta.content or [])  # type: ignore[union-attr]
                run = stream.get_final_run()
            if not (run.status == "completed" and events.count("thread.message.delta") < 2):
                break
        assert run.status == "completed"
        assert events.count("thread.message.delta") >= 2
        assert [e for e in events if not e.endswith(".delta")][-3:] == [
            "thread.message.completed",
            "thread.run.step.completed",
            "thread.run.completed",
        ]
        reply = client.beta.threads.messages.list(thread_id=thread.id).data[0]
        assert reply.role == "assistant" and reply.content[0].text.value == "".join(text) != ""
        assert run.usage is not None and run.usage.prompt_tokens > 0 and run.usage.completion_tokens > 0


def test_a_tool_round_on_llama_cpp_through_the_sdks_event_handler(server: LocalServer) -> None:
    """A forced call streams as step deltas, the outputs go back through
    ``submit_tool_outputs_stream``, and the model's second round is relayed the same way."""
    from openai import AssistantEventHandler

    class Recorder(AssistantEventHandler):
        def __init__(self) -> None:
            super().__init__()
            self.argument_deltas: list[str] = []

        def on_run_step_delta(self, delta: Any, snapshot: Any) -> None:
            for call in delta.step_details.tool_calls or []:
                if call.type == "function" and call.function is not None and call.function.arguments:
                    self.argument_deltas.append(call.function.arguments)

    with server.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER])  # type: ignore[list-item]
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather in Paris?"}])
        first = Recorder()
        with client.beta.threads.runs.stream(
            thread_id=thread.id,
            assistant_id=assistant.id,
            tool_choice="required",
            max_completion_tokens=256,  # the random model may otherwise ramble for a minute
            event_handler=first,
        ) as stream:
            stream.until_done()
        run = first.current_run
        assert run is not None and run.status == "requires_action"
        calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
        assert calls and all(call.function.name == "get_weather" for call in calls)
        assert "".join(first.argument_deltas) == "".join(call.function.arguments for call in calls)
        assert all(isinstance(json.loads(call.function.arguments), dict) for call in calls)

        second = Recorder()
        outputs = [{"tool_call_id": call.id, "output": '{"sky": "clear"}'} for call in calls]
        with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id,
            run_id=run.id,
            tool_outputs=outputs,
            event_handler=second,  # type: ignore[arg-type]
        ) as stream:
            stream.until_done()
        after = second.current_run
        assert after is not None and after.id == run.id
        # "required" holds for every round, as on the real API: the model calls again, unless the
        # run's token budget ends it first.
        assert after.status in ("requires_action", "incomplete"), after.status
        if after.status == "incomplete":
            assert after.incomplete_details is not None
            assert after.incomplete_details.reason == "max_completion_tokens"
            assert after.usage is not None and after.usage.completion_tokens > 0
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
        assert steps[0].type == "tool_calls" and steps[0].status == "completed" and len(steps) == 2
        first_step = steps[0].step_details
        assert [c.function.output for c in first_step.tool_calls] == ['{"sky": "clear"}'] * len(calls)  # type: ignore[union-attr]
        if after.status == "requires_action":
            cancelled = client.beta.threads.runs.cancel(run_id=run.id, thread_id=thread.id)
            assert cancelled.status in ("cancelling", "cancelled")
