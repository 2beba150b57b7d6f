"""The blocking run engine behind ``db.runs.create_and_wait`` and ``db.runs.wait``.

It performs the effects that :func:`assistdb.runner.waiting.drive` decides on, with the
blocking SDK client: every run state it sees is archived as it arrives, tool calls go through
the ledger, and the run's steps and messages are archived at the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

from openai.types.beta.threads import Run

from assistdb.errors import AssistDBError
from assistdb.repositories import api
from assistdb.runner.driving import (
    POLL_AFTER_HEADER,
    Target,
    ToolsArgument,
    check_timeout,
    stream_request,
    stream_timeout,
)
from assistdb.runner.durations import DURATIONS, DurationBook, archived_brackets
from assistdb.runner.events import is_resting, kept_body, run_of
from assistdb.runner.execution import answer_calls, run_sync
from assistdb.runner.session import Clock, Observed, RunSession
from assistdb.runner.tools import ToolRegistry
from assistdb.runner.waiting import (
    Answer,
    Cancel,
    Collect,
    Create,
    Effect,
    LoadHistory,
    Poll,
    Sleep,
    Streamed,
    Submit,
    drive,
)

if TYPE_CHECKING:
    from assistdb.repositories.facade import AssistDB

log = logging.getLogger("assistdb.runner")


class RunEngine:
    """Drives runs of one :class:`AssistDB` with its blocking client and its store."""

    def __init__(
        self,
        db: AssistDB,
        *,
        book: DurationBook = DURATIONS,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Callable[[Any], None] | None = None,
    ) -> None:
        self.db = db
        self.book = book
        self.clock = clock
        self.sleep = sleep
        self.on_event = on_event  # sees every streamed event (e.g. to print text deltas)

    def create_and_wait(
        self,
        thread_id: str,
        *,
        assistant_id: str,
        tools: ToolsArgument = None,
        timeout: float | None = None,
        cancel_on_timeout: bool = True,
        stream: bool = False,
        **create_params: Any,
    ) -> Run:
        registry = ToolRegistry.of(tools)
        session = RunSession(timeout=check_timeout(timeout), book=self.book, clock=self.clock)
        first = Create({"assistant_id": assistant_id, **create_params}, stream)
        core = drive(session, first, tools=registry, cancel_on_timeout=cancel_on_timeout, stream=stream)
        return self._perform_all(core, Target(thread_id), session, registry)

    def wait(
        self,
        run_id: str,
        *,
        thread_id: str,
        tools: ToolsArgument = None,
        timeout: float | None = None,
        cancel_on_timeout: bool = True,
        stream: bool = False,
    ) -> Run:
        registry = ToolRegistry.of(tools)
        session = RunSession(timeout=check_timeout(timeout), book=self.book, clock=self.clock)
        core = drive(session, Poll(), tools=registry, cancel_on_timeout=cancel_on_timeout, stream=stream)
        return self._perform_all(core, Target(thread_id, run_id), session, registry)

    # performing effects -----------------------------------------------------------------------

    def _perform_all(
        self,
        core: Generator[Effect, Any, Run],
        target: Target,
        session: RunSession,
        registry: ToolRegistry | None,
    ) -> Run:
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = core.throw(error) if error is not None else core.send(result)
            except StopIteration as done:
                run: Run = done.value
                return run
            result, error = None, None
            try:
                result = self._perform(effect, target, session, registry)
            except (AssistDBError, KeyboardInterrupt) as exc:
                error = exc

    def _perform(
        self, effect: Effect, target: Target, session: RunSession, registry: ToolRegistry | None
    ) -> Any:
        runs = self.db.client.beta.threads.runs
        if isinstance(effect, Poll):
            return self._observe(
                lambda: api.call_raw(runs.retrieve, target.known_run_id, thread_id=target.thread_id), target
            )
        if isinstance(effect, Sleep):
            self.sleep(effect.seconds)
            return None
        if isinstance(effect, Create):
            if effect.stream:
                return self._follow(
                    lambda: stream_request(runs.stream)(
                        thread_id=target.thread_id, **effect.params, **stream_timeout(session)
                    ),
                    target,
                    session,
                )
            return self._observe(lambda: api.call_raw(runs.create, target.thread_id, **effect.params), target)
        if isinstance(effect, LoadHistory):
            return archived_brackets(self.db.store.reader, effect.key, exclude=effect.exclude_run_id)
        if isinstance(effect, Answer):
            assert registry is not None
            return run_sync(
                answer_calls(
                    effect.calls,
                    registry,
                    self.db.store.tools,
                    run_id=target.known_run_id,
                    thread_id=target.thread_id,
                    deadline=effect.deadline,
                )
            )
        if isinstance(effect, Submit):
            return self._submit(effect, target, session)
        if isinstance(effect, Cancel):
            return self._observe(
                lambda: api.call_raw(runs.cancel, target.known_run_id, thread_id=target.thread_id), target
            )
        if isinstance(effect, Collect):
            for _ in self.db.steps.list(target.known_run_id, thread_id=target.thread_id):
                pass
            for _ in self.db.messages.list(target.thread_id, run_id=target.known_run_id, order="asc"):
                pass
            return None
        raise TypeError(f"unknown effect {effect!r}")

    def _observe(self, request: Callable[[], Any], target: Target) -> Observed:
        sent = self.clock()
        raw = request()
        received = self.clock()
        run: Run = raw.parse()
        target.run_id = run.id
        self.db.store.record([run.to_dict()])
        return Observed(run, sent, received, raw.headers.get(POLL_AFTER_HEADER))

    def _submit(self, effect: Submit, target: Target, session: RunSession) -> Observed | Streamed:
        runs = self.db.client.beta.threads.runs
        run_id = target.known_run_id
        if effect.stream:
            streamed = self._follow(
                lambda: stream_request(runs.submit_tool_outputs_stream)(
                    thread_id=target.thread_id,
                    run_id=run_id,
                    tool_outputs=effect.tool_outputs,
                    **stream_timeout(session),
                ),
                target,
                session,
                on_open=lambda: self._mark_submitted(effect, target),
            )
            return streamed
        seen = self._observe(
            lambda: api.call_raw(
                runs.submit_tool_outputs,
                run_id,
                thread_id=target.thread_id,
                tool_outputs=effect.tool_outputs,
            ),
            target,
        )
        self._mark_submitted(effect, target)
        return seen

    def _mark_submitted(self, effect: Submit, target: Target) -> None:
        ledger = self.db.store.tools
        run_id = target.known_run_id
        states = ledger.calls_of_run(run_id)
        submitted = [states[o["tool_call_id"]] for o in effect.tool_outputs if o["tool_call_id"] in states]
        ledger.mark_submitted(submitted, run_id=run_id, thread_id=target.thread_id)

    def _follow(
        self,
        open_stream: Callable[[], Any],
        target: Target,
        session: RunSession,
        on_open: Callable[[], None] | None = None,
    ) -> Streamed:
        """Read a run's event stream until the run rests; a broken stream ends it early.

        Finished steps and messages are archived in one transaction with the run state that
        follows them, so the burst of events at a run's end costs one write, not three."""
        sent = self.clock()
        manager = open_stream()
        with api.translate_api_errors():
            handler = manager.__enter__()
        seen: list[Observed] = []
        unrecorded: list[dict[str, Any]] = []  # steps and messages, archived with the next run state
        try:
            if on_open is not None:
                on_open()
            events: Iterator[Any] = iter(handler)
            while not session.timed_out():
                try:
                    event = next(events)
                except StopIteration:
                    log.info("the event stream ended before the run rested; polling instead")
                    break
                except Exception as exc:
                    log.info("the event stream broke (%s); polling instead", type(exc).__name__)
                    break
                received = self.clock()
                if self.on_event is not None:
                    self.on_event(event)
                body = kept_body(event)
                if body is not None:
                    unrecorded.append(body)
                run = run_of(event)
                if run is not None:
                    self.db.store.record(unrecorded)
                    unrecorded = []
                    target.run_id = run.id
                    seen.append(Observed(run, received, received))
                if is_resting(event):
                    return Streamed(sent, seen, rested=True)
            if unrecorded:
                self.db.store.record(unrecorded)
            return Streamed(sent, seen, rested=False)
        finally:
            manager.__exit__(None, None, None)
