"""Answering a run's tool calls: one, several at once, several rounds, and every way a call fails."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from assistdb import AssistDB, ToolRegistry, tool
from tests.runner.conftest import assistant_for, function, reply_of, statuses, thread_saying


@tool
def add(a: int, b: int = 1) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def test_one_call_is_answered_and_everything_is_archived(db: AssistDB) -> None:
    registry = ToolRegistry([add])
    thread_id = thread_saying(db, '/tool add {"a": 2, "b": 3}')
    run = db.runs.create_and_wait(thread_id, assistant_id=assistant_for(db, registry), tools=registry)
    assert run.status == "completed"
    assert reply_of(db, thread_id, run.id) == "add -> 5"
    seen = statuses(db, run.id)
    assert seen[0] == "queued" and seen[-1] == "completed"
    assert "requires_action" in seen and seen.count("queued") == 2  # created, then given the output
    steps = db.steps.find(run.id)
    assert [(step.type, step.status) for step in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    details: Any = steps[0].step_details
    assert [(call.function.name, call.function.output) for call in details.tool_calls] == [("add", "5")]
    (state,) = db.store.tools.calls_of_run(run.id).values()
    assert (state.function_name, state.output, state.is_error) == ("add", "5", False)
    assert state.events == ["started", "finished", "submitted"]


def test_parallel_calls_run_at_once_within_the_concurrency_bound(db: AssistDB) -> None:
    barrier = threading.Barrier(3, timeout=10)  # only passable if the three calls run together

    @tool
    def meet(name: str) -> str:
        barrier.wait()
        return f"met {name}"

    registry = ToolRegistry([meet])
    script = "\n".join(f'/tool meet {{"name": "{name}"}}' for name in ("ann", "bob", "cy"))
    thread_id = thread_saying(db, script)
    run = db.runs.create_and_wait(thread_id, assistant_id=assistant_for(db, registry), tools=registry)
    assert reply_of(db, thread_id, run.id) == "meet -> met ann\nmeet -> met bob\nmeet -> met cy"
    assert [state.events for state in db.store.tools.calls_of_run(run.id).values()] == [
        ["started", "finished", "submitted"]
    ] * 3


def test_no_more_calls_run_at_once_than_the_registry_allows(sqlite_db: AssistDB) -> None:
    lock = threading.Lock()
    running, most = 0, 0

    @tool
    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.1)
        with lock:
            running -= 1
        return n

    registry = ToolRegistry([work], max_concurrency=2)
    thread_id = thread_saying(sqlite_db, "\n".join(f'/tool work {{"n": {n}}}' for n in range(5)))
    run = sqlite_db.runs.create_and_wait(
        thread_id, assistant_id=assistant_for(sqlite_db, registry), tools=registry
    )
    assert run.status == "completed"
    assert most == 2


def test_several_rounds_of_calls(db: AssistDB) -> None:
    calls: list[str] = []

    @tool
    def first() -> str:
        calls.append("first")
        return "1"

    @tool
    async def second(x: int) -> dict[str, int]:
        calls.append("second")
        return {"x": x}

    registry = ToolRegistry([first, second])
    thread_id = thread_saying(db, '/tool first {}\n/then\n/tool second {"x": 7}\n/then\n/tool first {}')
    run = db.runs.create_and_wait(thread_id, assistant_id=assistant_for(db, registry), tools=[first, second])
    assert run.status == "completed"
    assert calls == ["first", "second", "first"]
    assert reply_of(db, thread_id, run.id) == 'first -> 1\nsecond -> {"x":7}\nfirst -> 1'
    assert statuses(db, run.id).count("requires_action") == 3
    assert [step.type for step in db.steps.find(run.id)] == ["tool_calls"] * 3 + ["message_creation"]


def test_every_kind_of_failing_call_becomes_an_error_output(db: AssistDB) -> None:
    @tool
    def explode(secret: str) -> str:
        raise ValueError(f"cannot handle {secret}")

    @tool(timeout=0.2)
    def dawdle() -> str:
        time.sleep(5)
        return "too late"

    registry = ToolRegistry([explode, dawdle, add])
    script = "\n".join(
        [
            '/tool explode {"secret": "x"}',
            "/tool dawdle {}",
            '/tool add {"a": "two"}',
            "/tool add {not json",
            "/tool missing {}",
        ]
    )
    thread_id = thread_saying(db, script)
    assistant_id = assistant_for(
        db, registry, function("missing")
    )  # offered to the model, not in our registry
    run = db.runs.create_and_wait(thread_id, assistant_id=assistant_id, tools=registry)
    assert run.status == "completed"
    outputs = [line.split(" -> ", 1) for line in reply_of(db, thread_id, run.id).splitlines()]
    errors = {name + str(index): json.loads(output) for index, (name, output) in enumerate(outputs)}
    assert errors == {
        "explode0": {"error": "ValueError: cannot handle x", "type": "tool_error"},
        "dawdle1": {"error": "dawdle did not finish within 0.2 s", "type": "timeout"},
        "add2": {
            "error": "invalid arguments: a: Input should be a valid integer, "
            "unable to parse string as an integer",
            "type": "invalid_arguments",
        },
        "add3": {
            "error": "the arguments are not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
            "type": "invalid_arguments",
        },
        "missing4": {"error": "unknown function 'missing'", "type": "unknown_function"},
    }
    states = db.store.tools.calls_of_run(run.id).values()
    assert all(state.is_error and state.finished and state.submitted for state in states)


def test_an_empty_registry_answers_every_call_with_an_error(sqlite_db: AssistDB) -> None:
    thread_id = thread_saying(sqlite_db, "/tool anything {}")
    run = sqlite_db.runs.create_and_wait(
        thread_id, assistant_id=assistant_for(sqlite_db, function("anything")), tools=ToolRegistry()
    )
    assert run.status == "completed"
    assert '"type": "unknown_function"' in reply_of(sqlite_db, thread_id, run.id)


def test_without_tools_the_run_is_returned_when_it_requires_action(sqlite_db: AssistDB) -> None:
    registry = ToolRegistry([add])
    thread_id = thread_saying(sqlite_db, '/tool add {"a": 1}')
    run = sqlite_db.runs.create_and_wait(thread_id, assistant_id=assistant_for(sqlite_db, registry))
    assert run.status == "requires_action"
    finished = sqlite_db.runs.wait(run.id, tools=registry)  # answered later, by another call
    assert finished.status == "completed"


def test_a_call_to_a_function_the_run_does_not_offer_fails_the_run(sqlite_db: AssistDB) -> None:
    thread_id = thread_saying(sqlite_db, "/tool ghost {}")
    run = sqlite_db.runs.create_and_wait(thread_id, assistant_id=assistant_for(sqlite_db), tools=[add])
    assert run.status == "failed"
    assert run.last_error is not None and "ghost" in run.last_error.message


def test_two_waiters_on_one_run_call_the_tool_once(database_url: str, assistdb_server: Any) -> None:
    invocations: list[str] = []

    @tool
    def pay(amount: int) -> str:
        invocations.append("pay")
        time.sleep(0.3)
        return f"paid {amount}"

    registry = ToolRegistry([pay])
    with (
        AssistDB(database_url, client=assistdb_server.client()) as first,
        AssistDB(database_url, client=assistdb_server.client()) as second,
    ):
        thread_id = thread_saying(first, '/tool pay {"amount": 5}')
        run = first.runs.create_and_wait(thread_id, assistant_id=assistant_for(first, registry))
        assert run.status == "requires_action"
        results: list[str] = []
        waiters = [
            threading.Thread(target=lambda db=db: results.append(db.runs.wait(run.id, tools=registry).status))
            for db in (first, second)
        ]
        for waiter in waiters:
            waiter.start()
        for waiter in waiters:
            waiter.join(timeout=30)
        assert results == ["completed", "completed"]
        assert invocations == ["pay"]
        assert reply_of(first, thread_id, run.id) == "pay -> paid 5"


@pytest.mark.parametrize("bad", ["not a registry", 3])
def test_bad_tools_arguments_are_refused_before_anything_happens(sqlite_db: AssistDB, bad: Any) -> None:
    from assistdb import InvalidInputError

    thread_id = thread_saying(sqlite_db, "hi")
    with pytest.raises(InvalidInputError):
        sqlite_db.runs.create_and_wait(thread_id, assistant_id=assistant_for(sqlite_db), tools=bad)
    assert sqlite_db.runs.find(thread_id=thread_id) == []
