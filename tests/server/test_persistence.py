"""``state_file``: a restarted server has the same objects, and active runs keep their schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai


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


def test_state_survives_a_restart(make_server: Any, tmp_path: Path) -> None:
    state = tmp_path / "state.jsonl"
    first = make_server(state_file=state)
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

    second = make_server(state_file=state)
    with second.client() as client:
        assert snapshot(client, thread.id) == before
        after_deleted = client.beta.threads.messages.list(
            thread_id=thread.id, order="asc", after=messages[2].id
        ).data
        assert [m.id for m in after_deleted][:2] == [messages[3].id, messages[4].id]
        listed = client.beta.assistants.list(order="asc", after=doomed.id).data
        assert listed == []
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="after restart")
    second.stop()
    lines = state.read_text().splitlines()
    objects = 1 + 1 + 7 + 1 + 3  # assistant, thread, messages, run, steps
    assert (
        objects <= len(lines) <= objects + 3
    )  # compacted on start, plus the deleted positions and one append


def test_active_runs_keep_their_schedule(make_server: Any, tmp_path: Path) -> None:
    state = tmp_path / "state.jsonl"
    first = make_server(state_file=state, run_latency=0.4)
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

    second = make_server(state_file=state, run_latency=0.4)
    with second.client() as client:
        resumed = client.beta.threads.runs.poll(busy.id, thread_id=busy_thread.id)
        assert resumed.status == "completed"
        assert resumed.completed_at - busy.created_at <= 1
        still = client.beta.threads.runs.retrieve(waiting.id, thread_id=waiting_thread.id)
        assert still.status == "requires_action"
        call = still.required_action.submit_tool_outputs.tool_calls[0]
        done = client.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=waiting_thread.id,
            run_id=waiting.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "1"}],
        )
        assert done.status == "completed"


def test_a_torn_last_line_is_skipped(make_server: Any, tmp_path: Path) -> None:
    state = tmp_path / "state.jsonl"
    first = make_server(state_file=state)
    with first.client() as client:
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "safe"}])
    first.stop()
    with state.open("a") as journal:
        journal.write('{"op": "put", "kind": "message", "obj": {"id": "msg_tor')
    second = make_server(state_file=state)
    with second.client() as client:
        assert client.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value == "safe"
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="next")
    second.stop()
    third = make_server(state_file=state)
    with third.client() as client:
        assert len(client.beta.threads.messages.list(thread_id=thread.id).data) == 2


def test_message_create_appends_one_line(make_server: Any, tmp_path: Path) -> None:
    state = tmp_path / "state.jsonl"
    server = make_server(state_file=state)
    thread_id = server.seed_thread(messages=5000)
    with server.client() as client:
        sizes = []
        for text in ("aaaa", "bbbb"):
            before = state.stat().st_size
            client.beta.threads.messages.create(thread_id=thread_id, role="user", content=text)
            sizes.append(state.stat().st_size - before)
    assert sizes[0] == sizes[1] < 1000


def test_seeded_ids_do_not_collide_after_restart(make_server: Any, tmp_path: Path) -> None:
    state = tmp_path / "state.jsonl"
    first = make_server(state_file=state, seed=42)
    with first.client() as client:
        original = client.beta.threads.create().id
    first.stop()
    second = make_server(state_file=state, seed=42)
    with second.client() as client:
        assert client.beta.threads.create().id != original
        assert client.beta.threads.retrieve(original).id == original
