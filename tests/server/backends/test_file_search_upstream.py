"""file_search on a Chat Completions upstream: offered as a function, run by the server, cited.

On the scripted double always; on the real llama.cpp server when ``ASSISTDB_TEST_UPSTREAM_URL``
is set (its tiny model's words are noise, so only the protocol is checked there).
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import openai
import pytest

from assistdb.server import LocalServer
from assistdb.server.backends.chat_completions import UpstreamSettings
from assistdb.server.backends.scripted_upstream import Call, Reply, ScriptedUpstream
from tests.server.backends.conftest import settings_for

ZOO = b"Zebras are striped. Lions have manes. Penguins cannot fly."


def _setup(client: openai.OpenAI, **tool: Any) -> tuple[Any, Any]:
    zoo = client.files.create(file=("zoo.txt", io.BytesIO(ZOO)), purpose="assistants")
    store = client.vector_stores.create(file_ids=[zoo.id])
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search", **tool}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    return zoo, assistant


def test_the_model_calls_file_search_and_cites_the_result(upstream: ScriptedUpstream) -> None:
    upstream.script(
        Reply(calls=(Call("file_search", '{"query": "penguins fly"}'),)),
        Reply(text="Penguins cannot fly 【0†zoo.txt】."),
    )
    with LocalServer(upstream=settings_for(upstream), poll_after_ms=20) as server, server.client() as client:
        zoo, assistant = _setup(client)
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Can penguins fly?"}])
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        assert run.status == "completed", run.last_error
        text = client.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text
        assert text.value == "Penguins cannot fly 【0†zoo.txt】."
        (citation,) = text.annotations
        assert citation.file_citation.file_id == zoo.id and citation.text == "【0†zoo.txt】"
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
        assert steps[0].step_details.tool_calls[0].type == "file_search"
        assert steps[0].step_details.tool_calls[0].file_search.results[0].file_id == zoo.id

    first, second = (exchange.body for exchange in upstream.requests)
    offered = [tool["function"]["name"] for tool in first["tools"]]
    assert offered == ["file_search"]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["query"]
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool"
    results = json.loads(tool_message["content"])["results"]
    assert results[0]["n"] == 0 and results[0]["filename"] == "zoo.txt" and "Penguins" in results[0]["text"]
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "file_search"


UPSTREAM_URL = os.environ.get("ASSISTDB_TEST_UPSTREAM_URL")


@pytest.mark.skipif(not UPSTREAM_URL, reason="set ASSISTDB_TEST_UPSTREAM_URL (llama-server.sh start)")
def test_real_upstream_forced_file_search() -> None:
    settings = UpstreamSettings.from_values({"base_url": UPSTREAM_URL, "timeout": 120.0})
    with (
        LocalServer(upstream=settings, poll_after_ms=50, run_expiry=300) as server,
        server.client() as client,
    ):
        zoo, assistant = _setup(client)
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Can penguins fly?"}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id,
            assistant_id=assistant.id,
            tool_choice={"type": "file_search"},
            max_completion_tokens=256,
        )
        assert run.status in ("completed", "incomplete"), run.last_error
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
        call = steps[0].step_details.tool_calls[0]
        assert call.type == "file_search"
        assert all(result.file_id == zoo.id for result in call.file_search.results)
        assert steps[-1].type == "message_creation"
