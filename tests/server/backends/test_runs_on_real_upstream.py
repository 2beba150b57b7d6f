"""Runs through the server answered by a real, independently written upstream: llama.cpp's.

Runs when ``ASSISTDB_TEST_UPSTREAM_URL`` is set (``bash ../shared/upstream/llama-server.sh start``
prints it; the model is ``tiny``). The replies are noise; what is checked is the protocol: the
official SDK's streaming through the run driver, with the upstream's usage (tool rounds against
llama.cpp are covered at the backend level, in test_real_upstream).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from assistdb.server import LocalServer
from assistdb.server.backends.chat_completions import UpstreamSettings

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
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Say hello."}])
        events: list[str] = []
        text: list[str] = []
        with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
            for event in stream:
                events.append(event.event)
                if event.event == "thread.message.delta":
                    text.extend(part.text.value or "" for part in event.data.delta.content or [])  # type: ignore[union-attr]
            run = stream.get_final_run()
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
