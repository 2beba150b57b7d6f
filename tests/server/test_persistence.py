"""Durable state: a restarted server has the same objects, and its runs carry on, on SQLite and
PostgreSQL; several servers on one database enforce one active run per thread together."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

import openai
import pytest


def snapshot(client: openai.OpenAI, thread_id: str) -> dict[str, Any]:
    runs = client.beta.threads.runs.list(thread_id=thread_id, limit=100).data
    return {
        "assistants": [a.model_dump() for a in client.beta.assistants.list(limit=100).data],
        "thread": client.beta.threads.retrieve(thread_id).model_dump(),
        "messages": [
            m.model_dump() for m in client.beta.threads.messages.list(thread_id=thread_id, limit=100).data
        ],
        "runs": [r.model_dump() for r in runs],
        "steps": [
            s.model_dump()
            for r in runs
            for s in client.beta.threads.runs.steps.list(run_id=r.id, thread_id=thread_id).data
        ],
    }


def test_state_survives_a_restart(make_server: Any, database_url: str) -> None:
    first = make_server(database_url=database_url)
    with first.client() as client:
        assistant = client.beta.assistants.create(
            model="gpt-4o", name="kept", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        doomed = client.beta.assistants.create(model="gpt-4o", name="deleted")
        client.beta.assistants.delete(doomed.id)
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": f"m{i}"} for i in range(5)], metadata={"a": "b"}
        )
        messages = client.beta.threads.messages.list(thread_id=thread.id, order="asc").data
        client.beta.threads.messages.delete(messages[2].id, thread_id=thread.id)
        client.beta.threads.messages.update(messages[0].id, thread_id=thread.id, metadata={"edited": "yes"})
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="/tool f {}")
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        client.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "out"}]
        )
        gone = client.beta.threads.create()
        client.beta.threads.delete(gone.id)
        before = snapshot(client, thread.id)
    first.stop()

    second = make_server(database_url=database_url)
    with second.client() as client:
        assert snapshot(client, thread.id) == before
        after_deleted = client.beta.threads.messages.list(
            thread_id=thread.id, order="asc", after=messages[2].id
        ).data
        assert [m.id for m in after_deleted][:2] == [messages[3].id, messages[4].id]
        assert client.beta.assistants.list(order="asc", after=doomed.id).data == []
        with pytest.raises(openai.NotFoundError):
            client.beta.threads.retrieve(gone.id)
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="after restart")


def test_active_runs_carry_on_after_a_restart(make_server: Any, database_url: str) -> None:
    first = make_server(database_url=database_url, run_latency=0.4)
    with first.client() as client:
        assistant = client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        waiting_thread = client.beta.threads.create(messages=[{"role": "user", "content": "/tool f {}"}])
        waiting = client.beta.threads.runs.create_and_poll(
            thread_id=waiting_thread.id, assistant_id=assistant.id
        )
        busy_thread = client.beta.threads.create(messages=[{"role": "user", "content": "busy"}])
        busy = client.beta.threads.runs.create(thread_id=busy_thread.id, assistant_id=assistant.id)
    first.stop()

    second = make_server(database_url=database_url, run_latency=0.4)
    with second.client() as client:
        resumed = client.beta.threads.runs.poll(busy.id, thread_id=busy_thread.id)
        assert resumed.status == "completed"
        assert resumed.completed_at - busy.created_at <= 2
        replies = client.beta.threads.messages.list(thread_id=busy_thread.id, run_id=busy.id).data
        assert [m.content[0].text.value for m in replies] == ["You said: busy"]
        still = client.beta.threads.runs.retrieve(waiting.id, thread_id=waiting_thread.id)
        assert still.status == "requires_action"
        call = still.required_action.submit_tool_outputs.tool_calls[0]
        done = client.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=waiting_thread.id,
            run_id=waiting.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "1"}],
        )
        assert done.status == "completed"


def test_seeded_ids_do_not_collide_after_restart(make_server: Any, database_url: str) -> None:
    first = make_server(database_url=database_url, seed=42)
    with first.client() as client:
        original = client.beta.threads.create().id
    first.stop()
    second = make_server(database_url=database_url, seed=42)
    with second.client() as client:
        assert client.beta.threads.create().id != original
        assert client.beta.threads.retrieve(original).id == original


def test_seeded_threads_are_stored(make_server: Any, database_url: str) -> None:
    first = make_server(database_url=database_url)
    thread_id = first.seed_thread(messages=300, runs=10)
    first.stop()
    second = make_server(database_url=database_url)
    with second.client() as client:
        listed = client.beta.threads.messages.list(thread_id=thread_id, limit=100, order="asc")
        assert listed.has_more and listed.data[0].content[0].text.value == "Seeded message 1"
        assert len(client.beta.threads.runs.list(thread_id=thread_id, limit=100).data) == 10


def test_servers_on_one_database_allow_one_active_run_per_thread(make_server: Any, database_url: str) -> None:
    servers = [make_server(database_url=database_url, run_latency=1.0) for _ in range(3)]
    clients = [server.client(max_retries=0) for server in servers]
    assistant = clients[0].beta.assistants.create(model="gpt-4o")
    thread = clients[1].beta.threads.create(messages=[{"role": "user", "content": "one at a time"}])

    def create(index: int) -> str | None:
        try:
            return (
                clients[index % 3].beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id).id
            )
        except openai.BadRequestError as exc:
            assert "already has an active run" in str(exc)
            return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=9) as pool:
        created = [run_id for run_id in pool.map(create, range(9)) if run_id is not None]
    assert len(created) == 1
    runs = clients[2].beta.threads.runs.list(thread_id=thread.id).data
    assert [run.id for run in runs] == created
    done = clients[2].beta.threads.runs.poll(created[0], thread_id=thread.id)
    assert done.status == "completed"
    for client in clients:
        client.close()


def test_the_run_lifecycle_on_each_database(make_server: Any, database_url: str) -> None:
    server = make_server(database_url=database_url, run_latency=0.2, run_expiry=3.0)
    with server.client() as client:
        assistant = client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "/tool f {}"}])
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        assert run.status == "requires_action"
        with pytest.raises(openai.BadRequestError, match="already has an active run"):
            client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "42"}]
        ) as stream:
            events = [event.event for event in stream]
        assert events[0] == "thread.run.step.completed" and events[-1] == "thread.run.completed"
        assert (
            client.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value == "f -> 42"
        )

        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="/sleep 5\nslow")
        slow = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        assert client.beta.threads.runs.cancel(slow.id, thread_id=thread.id).status == "cancelling"
        assert client.beta.threads.runs.poll(slow.id, thread_id=thread.id).status == "cancelled"

        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="/tool f {}")
        waiting = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        assert waiting.status == "requires_action"
        deadline = time.monotonic() + 10
        while client.beta.threads.runs.retrieve(waiting.id, thread_id=thread.id).status == "requires_action":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        expired = client.beta.threads.runs.retrieve(waiting.id, thread_id=thread.id)
        assert expired.status == "expired" and expired.expires_at is not None
