"""file_search in runs on the scripted model: the server searches, records the step, cites."""

from __future__ import annotations

import io
from typing import Any

import openai

INCLUDE = "step_details.tool_calls[*].file_search.results[*].content"
ZOO = b"Zebras are striped. Lions have manes.\n\nPenguins cannot fly, but they swim very well."


def _assistant_with_store(client: openai.OpenAI) -> tuple[Any, Any, Any]:
    zoo = client.files.create(file=("zoo.txt", io.BytesIO(ZOO)), purpose="assistants")
    store = client.vector_stores.create(file_ids=[zoo.id])
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search", "file_search": {"ranking_options": {"score_threshold": 0.1}}}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    return zoo, store, assistant


def test_search_directive_runs_file_search_and_cites(make_server: Any, database_url: str) -> None:
    server = make_server(database_url=database_url)
    with server.client() as client:
        zoo, _, assistant = _assistant_with_store(client)
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": "/search can penguins fly"}]
        )
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        assert run.status == "completed", run.last_error
        reply = client.beta.threads.messages.list(thread_id=thread.id).data[0]
        text = reply.content[0].text
        assert text.value.startswith("zoo.txt says: Zebras are striped.")
        (citation,) = text.annotations
        assert citation.type == "file_citation" and citation.file_citation.file_id == zoo.id
        assert text.value[citation.start_index : citation.end_index] == citation.text == "【0†zoo.txt】"

        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
        assert [step.type for step in steps] == ["tool_calls", "message_creation"]
        (call,) = steps[0].step_details.tool_calls
        assert call.type == "file_search"
        assert call.file_search.ranking_options.score_threshold == 0.1
        (result,) = call.file_search.results
        assert (result.file_id, result.file_name, result.score, result.content) == (
            zoo.id,
            "zoo.txt",
            1.0,
            None,
        )
        full = client.beta.threads.runs.steps.retrieve(
            step_id=steps[0].id, run_id=run.id, thread_id=thread.id, include=[INCLUDE]
        )
        assert full.step_details.tool_calls[0].file_search.results[0].content[0].text == ZOO.decode()
        assert run.required_action is None


def test_thread_attachment_is_searched_and_nothing_found_is_said(client: openai.OpenAI) -> None:
    notes = client.files.create(
        file=("notes.md", io.BytesIO(b"The launch code is tangerine.")), purpose="assistants"
    )
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "file_search"}])
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={
            "messages": [
                {
                    "role": "user",
                    "content": "/search launch code",
                    "attachments": [{"file_id": notes.id, "tools": [{"type": "file_search"}]}],
                }
            ]
        },
    )
    assert run.status == "completed"
    reply = client.beta.threads.messages.list(thread_id=run.thread_id).data[0].content[0].text
    assert "tangerine" in reply.value and reply.annotations[0].file_citation.file_id == notes.id
    empty = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "/search anything"}]}
    )
    assert empty.status == "completed"
    answer = client.beta.threads.messages.list(thread_id=empty.thread_id).data[0].content[0].text
    assert answer.value == "I found nothing about that in the files." and answer.annotations == []


def test_without_the_tool_the_search_is_an_unknown_function(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "/search x"}]}
    )
    assert run.status == "failed" and run.last_error is not None
    assert "file_search" in run.last_error.message


def test_a_streamed_search_shows_file_search_deltas(client: openai.OpenAI) -> None:
    _, _, assistant = _assistant_with_store(client)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "/search penguins"}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        deltas = [event.data.delta for event in stream if event.event == "thread.run.step.delta"]
        run = stream.get_final_run()
        messages = stream.get_final_messages()
    assert run.status == "completed"
    (delta,) = deltas
    assert delta.step_details.tool_calls[0].type == "file_search"
    assert messages[0].content[0].text.annotations[0].type == "file_citation"
