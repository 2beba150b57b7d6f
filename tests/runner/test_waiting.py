"""The waiting rules on their own: the core is driven here by a scripted stand-in for the I/O."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest
from openai.types.beta.threads import Run

from assistdb.cli.errors import exit_code
from assistdb.errors import ApiConnectionError, ApiError, Interrupted, RunTimeoutError
from assistdb.runner.rules.calls import RequestedCall
from assistdb.runner.rules.drive import (
    Answer,
    Cancel,
    Create,
    Effect,
    LoadHistory,
    Poll,
    Sleep,
    Streamed,
    Submit,
    drive,
)
from assistdb.runner.rules.durations import DurationBook
from assistdb.runner.rules.session import Observed, RunSession
from assistdb.runner.tools.registry import ToolRegistry
from tests.factories import run as run_body


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def a_run(status: str, *calls: str) -> Run:
    body = run_body("run_a", status=status)
    if calls:
        body["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {"id": call, "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    for call in calls
                ]
            },
        }
    return Run.construct(**body)  # as the SDK builds responses: no validation


def seen(clock: Clock, status: str, *calls: str) -> Observed:
    return Observed(a_run(status, *calls), clock.now, clock.now, "1000")


def play(
    core: Generator[Effect, Any, Run], respond: Callable[[Effect], Any]
) -> tuple[Run | BaseException, list[Effect]]:
    """Run the core to its end; ``respond`` answers each effect or raises."""
    effects: list[Effect] = []
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = core.throw(error) if error is not None else core.send(result)
        except StopIteration as done:
            return done.value, effects
        except BaseException as exc:
            return exc, effects
        effects.append(effect)
        result, error = None, None
        try:
            result = respond(effect)
        except BaseException as exc:
            error = exc


def kinds(effects: list[Effect]) -> list[str]:
    return [type(effect).__name__ for effect in effects]


def session(clock: Clock, timeout: float | None = None) -> RunSession:
    return RunSession(timeout=timeout, book=DurationBook(), clock=clock)


def polling(
    clock: Clock, answers: list[Observed], extra: Callable[[Effect], Any] | None = None
) -> Callable[[Effect], Any]:
    """Answer polls from ``answers`` in turn; sleeps move the clock."""

    def respond(effect: Effect) -> Any:
        if isinstance(effect, Sleep):
            clock.now += effect.seconds
            return None
        if isinstance(effect, LoadHistory):
            return []
        if isinstance(effect, Poll):
            return answers.pop(0)
        if extra is not None:
            return extra(effect)
        return None

    return respond


def test_an_unknown_status_ends_the_wait_at_once() -> None:
    clock = Clock()
    result, effects = play(
        drive(session(clock), Poll(), tools=None, cancel_on_timeout=True, stream=False),
        polling(clock, [seen(clock, "paused_for_review")]),
    )
    assert isinstance(result, Run) and result.status == "paused_for_review"
    assert kinds(effects) == ["Poll", "LoadHistory", "Collect"]


def test_busy_runs_are_polled_after_sleeping_until_they_end() -> None:
    clock = Clock()
    answers = [
        seen(clock, "queued"),
        seen(clock, "in_progress"),
        seen(clock, "cancelling"),
        seen(clock, "completed"),
    ]
    result, effects = play(
        drive(session(clock), Poll(), tools=None, cancel_on_timeout=True, stream=False),
        polling(clock, answers),
    )
    assert isinstance(result, Run) and result.status == "completed"
    assert kinds(effects) == [
        "Poll",
        "LoadHistory",
        "Sleep",
        "Poll",
        "Sleep",
        "Poll",
        "Sleep",
        "Poll",
        "Collect",
    ]


def test_without_tools_a_run_that_requires_action_is_returned_as_it_is() -> None:
    clock = Clock()
    result, effects = play(
        drive(session(clock), Poll(), tools=None, cancel_on_timeout=True, stream=False),
        polling(clock, [seen(clock, "requires_action", "call_1")]),
    )
    assert isinstance(result, Run) and result.status == "requires_action"
    assert "Answer" not in kinds(effects)


def test_tool_calls_are_answered_then_submitted_and_the_new_phase_followed() -> None:
    clock = Clock()

    def tools_and_submit(effect: Effect) -> Any:
        if isinstance(effect, Answer):
            assert effect.calls == [RequestedCall("call_1", "f", "{}"), RequestedCall("call_2", "f", "{}")]
            return {"call_1": "one", "call_2": "two"}
        if isinstance(effect, Submit):
            assert effect.tool_outputs == [
                {"tool_call_id": "call_1", "output": "one"},
                {"tool_call_id": "call_2", "output": "two"},
            ]
            return seen(clock, "queued")
        return None

    answers = [seen(clock, "requires_action", "call_1", "call_2"), seen(clock, "completed")]
    result, effects = play(
        drive(session(clock), Poll(), tools=ToolRegistry(), cancel_on_timeout=True, stream=False),
        polling(clock, answers, tools_and_submit),
    )
    assert isinstance(result, Run) and result.status == "completed"
    assert kinds(effects) == ["Poll", "LoadHistory", "Answer", "Submit", "Sleep", "Poll", "Collect"]


def test_a_timeout_cancels_the_run_and_raises_with_the_last_state() -> None:
    clock = Clock()
    answers = [seen(clock, "in_progress")] * 50

    def cancel(effect: Effect) -> Any:
        return seen(clock, "cancelling") if isinstance(effect, Cancel) else None

    result, effects = play(
        drive(session(clock, timeout=2.0), Poll(), tools=None, cancel_on_timeout=True, stream=False),
        polling(clock, answers, cancel),
    )
    assert isinstance(result, RunTimeoutError)
    assert result.run.status == "cancelling"  # type: ignore[attr-defined]
    assert "within 2 s; it was cancelled" in result.message
    assert kinds(effects)[-1] == "Cancel"
    assert clock.now == pytest.approx(2.0)


def test_a_timeout_without_cancelling_leaves_the_run_alone() -> None:
    clock = Clock()
    result, effects = play(
        drive(session(clock, timeout=0.5), Poll(), tools=None, cancel_on_timeout=False, stream=False),
        polling(clock, [seen(clock, "in_progress")] * 50),
    )
    assert isinstance(result, RunTimeoutError) and "still in_progress" in result.message
    assert "Cancel" not in kinds(effects)


def test_a_run_that_ended_as_the_timeout_struck_is_returned_normally() -> None:
    clock = Clock()

    ended = False

    def refuse_cancel(effect: Effect) -> Any:
        nonlocal ended
        if isinstance(effect, Sleep):
            clock.now += effect.seconds
        if isinstance(effect, Poll):
            return seen(clock, "completed" if ended else "in_progress")
        if isinstance(effect, Cancel):
            ended = True
            raise ApiError("Cannot cancel run with status 'completed'", status_code=400)
        return []

    result, effects = play(
        drive(session(clock, timeout=0.1), Poll(), tools=None, cancel_on_timeout=True, stream=False),
        refuse_cancel,
    )
    assert isinstance(result, Run) and result.status == "completed"
    assert kinds(effects)[-3:] == ["Cancel", "Poll", "Collect"]


def test_ctrl_c_cancels_the_run_and_raises_interrupted() -> None:
    clock = Clock()

    def interrupt_sleep(effect: Effect) -> Any:
        if isinstance(effect, Sleep):
            raise KeyboardInterrupt
        if isinstance(effect, Poll):
            return seen(clock, "in_progress")
        if isinstance(effect, Cancel):
            return seen(clock, "cancelling")
        return []

    result, effects = play(
        drive(session(clock), Poll(), tools=None, cancel_on_timeout=True, stream=False), interrupt_sleep
    )
    assert isinstance(result, Interrupted) and exit_code(result) == 130
    assert result.message == "interrupted; run run_a was cancelled"
    assert kinds(effects)[-2:] == ["Sleep", "Cancel"]


def test_ctrl_c_before_the_run_exists_cancels_nothing() -> None:
    def interrupt(effect: Effect) -> Any:
        if isinstance(effect, Cancel):
            return None  # the engine knows of no run ID
        raise KeyboardInterrupt

    result, effects = play(
        drive(session(Clock()), Create({}, False), tools=None, cancel_on_timeout=True, stream=False),
        interrupt,
    )
    assert isinstance(result, Interrupted) and "may not have been created" in result.message
    assert kinds(effects) == ["Create", "Cancel"]


def test_ctrl_c_while_the_new_run_is_archived_still_cancels_it() -> None:
    clock = Clock()

    def interrupt_archiving(effect: Effect) -> Any:
        if isinstance(effect, Create):
            raise KeyboardInterrupt  # the run exists; the core has not seen it yet
        if isinstance(effect, Cancel):
            return seen(clock, "cancelling")
        return None

    result, effects = play(
        drive(session(clock), Create({}, False), tools=None, cancel_on_timeout=True, stream=False),
        interrupt_archiving,
    )
    assert isinstance(result, Interrupted) and result.message == "interrupted; run run_a was cancelled"
    assert kinds(effects) == ["Create", "Cancel"]


@pytest.mark.parametrize("moved_on", [True, False])
def test_a_refused_submission_is_checked_against_the_run(moved_on: bool) -> None:
    clock = Clock()
    refusal = ApiError('Runs in status "queued" do not accept tool outputs', status_code=400)

    def refuse(effect: Effect) -> Any:
        if isinstance(effect, Answer):
            return {"call_1": "done"}
        if isinstance(effect, Submit):
            raise refusal
        return None

    after = seen(clock, "in_progress") if moved_on else seen(clock, "requires_action", "call_1")
    answers = [seen(clock, "requires_action", "call_1"), after, seen(clock, "completed")]
    result, _ = play(
        drive(session(clock), Poll(), tools=ToolRegistry(), cancel_on_timeout=True, stream=False),
        polling(clock, answers, refuse),
    )
    if moved_on:  # another process submitted: carry on
        assert isinstance(result, Run) and result.status == "completed"
    else:
        assert result is refusal


def test_a_broken_stream_is_followed_by_an_immediate_poll() -> None:
    clock = Clock()

    def stream(effect: Effect) -> Any:
        if isinstance(effect, Create):
            return Streamed(0.0, [Observed(a_run("queued"), 0.0, 0.0)], rested=False)
        return None

    result, effects = play(
        drive(session(clock), Create({}, True), tools=None, cancel_on_timeout=True, stream=True),
        polling(clock, [seen(clock, "in_progress"), seen(clock, "completed")], stream),
    )
    assert isinstance(result, Run) and result.status == "completed"
    assert kinds(effects) == ["Create", "Poll", "LoadHistory", "Sleep", "Poll", "Collect"]


def test_a_fully_streamed_run_is_not_polled_nor_collected() -> None:
    def stream(effect: Effect) -> Any:
        if isinstance(effect, Create):
            return Streamed(0.0, [Observed(a_run("completed"), 0.1, 0.1)], rested=True)
        return []

    result, effects = play(
        drive(session(Clock()), Create({}, True), tools=None, cancel_on_timeout=True, stream=True), stream
    )
    assert isinstance(result, Run) and result.status == "completed"
    assert kinds(effects) == ["Create"]  # the stream saw the whole phase: nothing to look up


def test_a_stream_that_breaks_before_the_run_is_announced_is_an_error() -> None:
    result, _ = play(
        drive(session(Clock()), Create({}, True), tools=None, cancel_on_timeout=True, stream=True),
        lambda effect: Streamed(0.0, [], rested=False),
    )
    assert isinstance(result, ApiConnectionError)
