"""Cursor pagination: limits, order, after/before, has_more, first/last IDs, deleted cursors."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from assistdb.server import LocalServer


@pytest.fixture
def thread_of_25(client: openai.OpenAI) -> tuple[str, list[str]]:
    """A thread with 25 messages; returns its ID and the message IDs oldest first."""
    thread = client.beta.threads.create(messages=[{"role": "user", "content": f"m{i}"} for i in range(25)])
    ids = [m.id for m in client.beta.threads.messages.list(thread_id=thread.id, order="asc", limit=100).data]
    return thread.id, ids


def page(client: openai.OpenAI, thread_id: str, **query: Any) -> Any:
    return client.beta.threads.messages.list(thread_id=thread_id, **query)


def test_default_page_is_20_newest_first(client: openai.OpenAI, thread_of_25: tuple[str, list[str]]) -> None:
    thread_id, ids = thread_of_25
    first = page(client, thread_id)
    assert [m.id for m in first.data] == ids[::-1][:20]
    assert first.has_more is True
    assert first.first_id == ids[24] and first.last_id == ids[5]


def test_limits(client: openai.OpenAI, thread_of_25: tuple[str, list[str]]) -> None:
    thread_id, ids = thread_of_25
    assert [m.id for m in page(client, thread_id, limit=1).data] == [ids[24]]
    assert len(page(client, thread_id, limit=100).data) == 25
    assert page(client, thread_id, limit=100).has_more is False
    for bad, code in ((101, "integer_above_max_value"), (0, "integer_below_min_value")):
        with pytest.raises(openai.BadRequestError) as caught:
            page(client, thread_id, limit=bad)
        assert caught.value.body["param"] == "limit" and caught.value.body["code"] == code
    with pytest.raises(openai.BadRequestError) as caught:
        page(client, thread_id, limit=101)
    assert caught.value.body["message"] == (
        "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 101 instead."
    )


def test_exact_page_boundary(client: openai.OpenAI, thread_of_25: tuple[str, list[str]]) -> None:
    thread_id, ids = thread_of_25
    first = page(client, thread_id, order="asc", limit=5)
    assert first.has_more is True
    last = page(client, thread_id, order="asc", limit=5, after=ids[19])
    assert [m.id for m in last.data] == ids[20:25] and last.has_more is False
    empty = page(client, thread_id, order="asc", limit=5, after=ids[24])
    assert empty.data == [] and empty.has_more is False
    assert empty.first_id is None and empty.last_id is None


def test_walk_all_pages_both_orders(client: openai.OpenAI, thread_of_25: tuple[str, list[str]]) -> None:
    thread_id, ids = thread_of_25
    assert [m.id for m in page(client, thread_id, order="asc", limit=7)] == ids
    assert [m.id for m in page(client, thread_id, order="desc", limit=7)] == ids[::-1]


def test_before_returns_the_previous_page(client: openai.OpenAI, thread_of_25: tuple[str, list[str]]) -> None:
    thread_id, ids = thread_of_25
    asc = page(client, thread_id, order="asc", limit=3, before=ids[10])
    assert [m.id for m in asc.data] == ids[7:10] and asc.has_more is True
    desc = page(client, thread_id, order="desc", limit=3, before=ids[10])
    assert [m.id for m in desc.data] == [ids[13], ids[12], ids[11]] and desc.has_more is True
    edge = page(client, thread_id, order="asc", limit=3, before=ids[2])
    assert [m.id for m in edge.data] == ids[0:2] and edge.has_more is False


def test_after_and_before_together(client: openai.OpenAI, thread_of_25: tuple[str, list[str]]) -> None:
    thread_id, ids = thread_of_25
    window = page(client, thread_id, order="asc", after=ids[3], before=ids[9], limit=3)
    assert [m.id for m in window.data] == ids[4:7] and window.has_more is True
    rest = page(client, thread_id, order="asc", after=ids[6], before=ids[9], limit=3)
    assert [m.id for m in rest.data] == ids[7:9] and rest.has_more is False


def test_deleted_cursor_answers_from_its_position(
    client: openai.OpenAI, thread_of_25: tuple[str, list[str]]
) -> None:
    thread_id, ids = thread_of_25
    client.beta.threads.messages.delete(ids[10], thread_id=thread_id)
    after = page(client, thread_id, order="asc", limit=3, after=ids[10])
    assert [m.id for m in after.data] == ids[11:14]
    desc = page(client, thread_id, order="desc", limit=3, after=ids[10])
    assert [m.id for m in desc.data] == [ids[9], ids[8], ids[7]]
    listed = [m.id for m in page(client, thread_id, order="asc", limit=100).data]
    assert ids[10] not in listed and len(listed) == 24


def test_unknown_cursor_is_refused(client: openai.OpenAI, thread_of_25: tuple[str, list[str]]) -> None:
    thread_id, _ = thread_of_25
    with pytest.raises(openai.BadRequestError) as caught:
        page(client, thread_id, after="msg_doesnotexist")
    assert caught.value.body["param"] == "after"
    other = client.beta.threads.create(messages=[{"role": "user", "content": "x"}])
    foreign = page(client, other.id).data[0].id
    with pytest.raises(openai.BadRequestError):
        page(client, thread_id, before=foreign)


def test_bad_order_is_refused(client: openai.OpenAI, thread_of_25: tuple[str, list[str]]) -> None:
    thread_id, _ = thread_of_25
    with pytest.raises(openai.BadRequestError) as caught:
        page(client, thread_id, order="sideways")  # type: ignore[arg-type]
    assert (
        caught.value.body["message"] == "Invalid value: 'sideways'. Supported values are: 'asc' and 'desc'."
    )


def test_assistants_runs_and_steps_paginate(server: LocalServer) -> None:
    with server.client() as client:
        assistants = [client.beta.assistants.create(model="gpt-4o", name=f"a{i}").id for i in range(5)]
        listed = client.beta.assistants.list(limit=2, order="asc", after=assistants[0])
        assert [a.id for a in listed.data] == assistants[1:3] and listed.has_more is True
        assert [a.id for a in client.beta.assistants.list(limit=2)][:5] == assistants[::-1]
        client.beta.assistants.delete(assistants[2])
        assert [
            a.id for a in client.beta.assistants.list(order="asc", after=assistants[2]).data
        ] == assistants[3:]

        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": "/tool f {}\n/then\n/tool f {}"}]
        )
        assistant = client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        for _ in range(2):
            calls = run.required_action.submit_tool_outputs.tool_calls
            run = client.beta.threads.runs.submit_tool_outputs_and_poll(
                thread_id=thread.id,
                run_id=run.id,
                tool_outputs=[{"tool_call_id": c.id, "output": "x"} for c in calls],
            )
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc", limit=1)
        assert steps.has_more is True and steps.data[0].type == "tool_calls"
        all_steps = list(steps)
        assert [s.type for s in all_steps] == ["tool_calls", "tool_calls", "message_creation"]
        runs = client.beta.threads.runs.list(thread_id=thread.id, limit=1)
        assert runs.data[0].id == run.id and runs.has_more is False


def test_empty_lists(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    listed = client.beta.threads.messages.list(thread_id=thread.id)
    assert (
        listed.data == [] and listed.first_id is None and listed.last_id is None and listed.has_more is False
    )
    assert client.beta.threads.runs.list(thread_id=thread.id).data == []


def test_a_page_of_a_large_thread_costs_what_a_page_of_a_small_one_does(make_server: Any) -> None:
    """Paging reads the page, not the thread: counted in SQLite VM steps (how fast that is, is
    benchmarks/bench_server's job; wall time in a test is only noise)."""
    server = make_server(on_response=None)
    big = server.seed_thread(messages=100_000, runs=100)
    small = server.seed_thread(messages=100, runs=10)
    connection = server._running_app().store.database.engine.raw_connection().dbapi_connection
    assert connection is not None
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    with server.client() as client:

        def cost(**query: Any) -> int:
            steps[0] = 0
            connection.set_progress_handler(count, 100)
            try:
                result = client.beta.threads.messages.list(limit=100, **query)
            finally:
                connection.set_progress_handler(None, 0)
            assert len(result.data) == 100
            return steps[0]

        small_cost = cost(thread_id=small, order="asc")
        big_cost = cost(thread_id=big, order="asc")
        mid = client.beta.threads.messages.list(thread_id=big, limit=100).data[50].id
        cursor_cost = cost(thread_id=big, after=mid)
    assert small_cost > 0
    assert big_cost < small_cost * 2 and cursor_cost < small_cost * 2, (small_cost, big_cost, cursor_cost)
