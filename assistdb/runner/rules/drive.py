"""The rules of driving a run to its end, written once and free of I/O.

:func:`drive` is a generator that decides and yields *effects* (create, poll, sleep, answer
tools, submit, cancel, collect); the run engine (:mod:`assistdb.runner.engine`) performs each
and sends the result back, or throws the effect's exception in. So every rule (when to poll,
what is terminal, what a timeout or Ctrl-C does, how a refused submission is handled) lives
here, and the engine's I/O is itself written once for both faces.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from openai.types.beta.threads import Run

from assistdb.errors import (
    ApiConnectionError,
    ApiError,
    AssistDBError,
    Interrupted,
    RunError,
    RunTimeoutError,
)
from assistdb.runner.rules.calls import RequestedCall, requested_calls
from assistdb.runner.rules.durations import Bracket, Key
from assistdb.runner.rules.session import Observed, RunSession
from assistdb.runner.rules.statuses import REQUIRES_ACTION, is_terminal
from assistdb.runner.tools.registry import ToolRegistry


@dataclass(frozen=True)
class Create:
    """Create the run (streaming or not); answers :class:`Observed` or :class:`Streamed`."""

    params: Mapping[str, Any]
    stream: bool


@dataclass(frozen=True)
class Poll:
    """Retrieve the run and archive it; answers :class:`Observed`."""


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class LoadHistory:
    """Phase brackets of earlier runs of this assistant and model, from the archive."""

    key: Key
    exclude_run_id: str


@dataclass(frozen=True)
class Answer:
    """Answer the calls through the ledger; answers ``{call_id: output}`` (partial at the deadline)."""

    calls: list[RequestedCall]
    deadline: float | None


@dataclass(frozen=True)
class Submit:
    """Submit tool outputs (streaming or not) and mark them submitted in the ledger."""

    tool_outputs: list[dict[str, str]]
    stream: bool


@dataclass(frozen=True)
class Cancel:
    """Cancel the run and archive the answer; answers :class:`Observed`, or None if no run
    was ever created."""


@dataclass(frozen=True)
class Collect:
    """Archive the run's steps and the messages it created."""


Effect = Create | Poll | Sleep | LoadHistory | Answer | Submit | Cancel | Collect


@dataclass(frozen=True)
class Streamed:
    """What a stream delivered: the run states it carried, and whether the run came to rest
    (False if the stream broke or ended early, or the deadline passed while reading)."""

    sent_at: float
    seen: list[Observed] = field(default_factory=list)
    rested: bool = False


def drive(
    session: RunSession,
    first: Create | Poll,
    *,
    tools: ToolRegistry | None,
    cancel_on_timeout: bool,
    stream: bool,
) -> Generator[Effect, Any, Run]:
    """Drive the run to a terminal status (or to ``requires_action`` without tools) and return
    the final run; raises :class:`RunTimeoutError` or :class:`Interrupted`."""
    try:
        return (
            yield from _drive(session, first, tools=tools, cancel_on_timeout=cancel_on_timeout, stream=stream)
        )
    except KeyboardInterrupt:
        what = yield from _cancel_quietly(session)
        raise Interrupted(f"interrupted; {what}", hint=_interrupt_hint(session)) from None
    except asyncio.CancelledError:
        yield from _cancel_quietly(session)
        raise


def _drive(
    session: RunSession,
    first: Create | Poll,
    *,
    tools: ToolRegistry | None,
    cancel_on_timeout: bool,
    stream: bool,
) -> Generator[Effect, Any, Run]:
    collect = not stream  # a run followed wholly by its streams has had everything archived
    result = yield first
    if isinstance(first, Poll):
        session.observe(result)
        collect = True
    elif not (yield from _absorb_phase(session, result)) or isinstance(result, Observed):
        collect = True  # not followed by a stream (a lost streamed create's run is found by listing)
    if not session.book.knows(session.key):
        brackets: list[Bracket] = yield LoadHistory(session.key, session.run.id)
        session.book.seed(session.key, brackets)
    while True:
        run = session.run
        if is_terminal(run.status):
            break
        if session.timed_out():
            yield from _time_out(session, cancel_on_timeout)  # returns only if the run ended meanwhile
            collect = True
            break
        if run.status == REQUIRES_ACTION:
            if tools is None:
                return run
            calls = requested_calls(run)
            outputs: dict[str, str] = yield Answer(calls, session.deadline)
            if session.timed_out():
                continue
            if len(outputs) < len({call.call_id for call in calls}):
                raise RunError(f"could not answer every tool call of run {run.id}", hint="wait for it again")
            submission = [{"tool_call_id": call.call_id, "output": outputs[call.call_id]} for call in calls]
            try:
                result = yield Submit(submission, stream)
            except ApiError as refused:
                # Another process may have submitted, or the run moved on: look before deciding.
                session.observe((yield Poll()))
                collect = True
                if _same_calls(session, calls):
                    raise refused
                continue
            if not (yield from _absorb_phase(session, result)):
                collect = True
            continue
        delay = session.poll_delay()
        if delay > 0:
            yield Sleep(delay)
        if not session.timed_out():
            session.observe((yield Poll()))
            collect = True
    if collect:
        yield Collect()
    return session.run


def _absorb_phase(session: RunSession, result: Observed | Streamed) -> Generator[Effect, Any, bool]:
    """Take in the answer to a create or submit; False if a stream broke and we must poll."""
    if isinstance(result, Observed):
        session.begin_phase(result.sent_at)
        session.observe(result)
        return True
    if not result.seen and not session.has_run:
        raise ApiConnectionError(
            "the event stream broke before the new run was announced",
            hint="list the thread's runs to find it, then wait for it by ID",
        )
    session.begin_phase(result.sent_at)
    for seen in result.seen:
        session.observe(seen)
    if result.rested:
        return True
    session.observe((yield Poll()))  # the stream broke: our last state may be stale
    return False


def _time_out(session: RunSession, cancel: bool) -> Generator[Effect, Any, None]:
    """Cancel (if asked) and raise :class:`RunTimeoutError`, unless the run turns out to have
    ended just before the cancel reached it."""
    run = session.run
    timeout = f"{session.timeout:g} s" if session.timeout is not None else "the timeout"
    if not cancel:
        raise RunTimeoutError(
            f"run {run.id} did not end within {timeout}; it is still {run.status}",
            run=run,
            hint="wait for it again, or cancel it",
        )
    try:
        session.observe((yield Cancel()))
    except ApiError:
        session.observe((yield Poll()))  # it may have ended just now
        if is_terminal(session.run.status):
            return
        raise
    raise RunTimeoutError(
        f"run {run.id} did not end within {timeout}; it was cancelled",
        run=session.run,
        hint="pass a longer timeout, or cancel_on_timeout=False to let it run on",
    )


def _cancel_quietly(session: RunSession) -> Generator[Effect, Any, str]:
    # The run may exist even though the core has not seen it: an interrupt can land between the
    # create response and its archiving. Cancel answers None when no run ID came back at all.
    if session.has_run and is_terminal(session.run.status):
        return f"run {session.run.id} had already ended ({session.run.status})"
    try:
        seen: Observed | None = yield Cancel()
    except AssistDBError as exc:
        which = f"run {session.run.id}" if session.has_run else "the run"
        return f"cancelling {which} failed: {exc.message}"
    if seen is None:
        return "the run may not have been created"
    session.observe(seen)
    return f"run {session.run.id} was cancelled"


def _interrupt_hint(session: RunSession) -> str:
    if session.has_run and session.run.status == "cancelling":
        return "the archive keeps everything observed so far; start a new run when ready"
    return "check the run's status before starting another on its thread"


def _same_calls(session: RunSession, calls: list[RequestedCall]) -> bool:
    run = session.run
    return run.status == REQUIRES_ACTION and {c.call_id for c in requested_calls(run)} == {
        c.call_id for c in calls
    }
