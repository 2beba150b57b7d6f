"""The asyncio run engine behind ``AsyncAssistDB.runs.create_and_wait`` and ``.wait``.

The same rules as the blocking engine (:func:`assistdb.runner.waiting.drive`), performed with
an ``AsyncOpenAI`` client; the store is blocking, so every database call runs in a worker
thread (``asyncio.to_thread``) and never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
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
from assistdb.runner.execution import answer_calls
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
    from assistdb.runner.async_db import AsyncAssistDB

log = logging.getLogger("assistdb.runner")


class AsyncRunEngine:
    """Drives runs of one :class:`AsyncAssistDB` with its ``AsyncOpenAI`` client."""

    def __init__(
        self,
        db: AsyncAssistDB,
        *,
        book: DurationBook = DURATIONS,
        clock: Clock = time.monotonic,
        on_event: Callable[[Any], None] | None = None,
    ) -> None:
        self.db = db
        self.book = book
        self.clock = clock
        self.on_event = on_event  # sees every streamed event (e.g. to print text deltas)

    async def create_and_wait(
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
        return await self._perform_all(core, Target(thread_id), session, registry)

    async def wait(
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
        return await self._perform_all(core, Target(thread_id, run_id), session, registry)

    async def _perform_all(
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
                result = await self._perform(effect, target, session, registry)
            except (AssistDBError, KeyboardInterrupt, asyncio.CancelledError) as exc:
                error = exc

    async def _perform(
        self, effect: Effect, target: Target, session: RunSession, registry: ToolRegistry | None
    ) -> Any:
        runs = self.db.client.beta.threads.runs
        if isinstance(effect, Poll):
            return await self._observe(
                lambda: api.acall_raw(runs.retrieve, target.known_run_id, thread_id=target.thread_id), target
            )
        if isinstance(effect, Sleep):
            await asyncio.sleep(effect.seconds)
            return None
        if isinstance(effect, Create):
            if effect.stream:
                return await self._follow(
                    lambda: stream_request(runs.stream)(
                        thread_id=target.thread_id, **effect.params, **stream_timeout(session)
                    ),
                    target,
                    session,
                )
            return await self._observe(
                lambda: api.acall_raw(runs.create, target.thread_id, **effect.params), target
            )
        if isinstance(effect, LoadHistory):
            return await asyncio.to_thread(
                archived_brackets, self.db.store.reader, effect.key, exclude=effect.exclude_run_id
            )
        if isinstance(effect, Answer):
            assert registry is not None
            return await answer_calls(
                effect.calls,
                registry,
                self.db.store.tools,
                run_id=target.known_run_id,
                thread_id=target.thread_id,
                deadline=effect.deadline,
            )
        if isinstance(effect, Submit):
            return await self._submit(effect, target, session)
        if isinstance(effect, Cancel):
            return await self._observe(
                lambda: api.acall_raw(runs.cancel, target.known_run_id, thread_id=target.thread_id), target
            )
        if isinstance(effect, Collect):
            await self.db.archive_results(target.known_run_id, thread_id=target.thread_id)
            return None
        raise TypeError(f"unknown effect {effect!r}")

    async def _observe(self, request: Callable[[], Awaitable[Any]], target: Target) -> Observed:
        sent = self.clock()
        raw = await request()
        received = self.clock()
        run: Run = raw.parse()
        target.run_id = run.id
        await asyncio.to_thread(self.db.store.record, [run.to_dict()])
        return Observed(run, sent, received, raw.headers.get(POLL_AFTER_HEADER))

    async def _submit(self, effect: Submit, target: Target, session: RunSession) -> Observed | Streamed:
        runs = self.db.client.beta.threads.runs
        run_id = target.known_run_id
        if effect.stream:
            return await self._follow(
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
        seen = await self._observe(
            lambda: api.acall_raw(
                runs.submit_tool_outputs, run_id, thread_id=target.thread_id, tool_outputs=effect.tool_outputs
            ),
            target,
        )
        await self._mark_submitted(effect, target)
        return seen

    async def _mark_submitted(self, effect: Submit, target: Target) -> None:
        ledger = self.db.store.tools
        run_id = target.known_run_id

        def mark() -> None:
            states = ledger.calls_of_run(run_id)
            submitted = [
                states[o["tool_call_id"]] for o in effect.tool_outputs if o["tool_call_id"] in states
            ]
            ledger.mark_submitted(submitted, run_id=run_id, thread_id=target.thread_id)

        await asyncio.to_thread(mark)

    async def _follow(
        self,
        open_stream: Callable[[], Any],
        target: Target,
        session: RunSession,
        on_open: Callable[[], Awaitable[None]] | None = None,
    ) -> Streamed:
        """Read a run's event stream until the run rests; a broken stream ends it early.

        Finished steps and messages are archived in one transaction with the run state that
        follows them, so the burst of events at a run's end costs one write, not three."""
        sent = self.clock()
        manager = open_stream()
        with api.translate_api_errors():
            handler = await manager.__aenter__()
        seen: list[Observed] = []
        unrecorded: list[dict[str, Any]] = []  # steps and messages, archived with the next run state
        try:
            if on_open is not None:
                await on_open()
            events: AsyncIterator[Any] = handler.__aiter__()
            while not session.timed_out():
                try:
                    event = await events.__anext__()
                except StopAsyncIteration:
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
                    await asyncio.to_thread(self.db.store.record, unrecorded)
                    unrecorded = []
                    target.run_id = run.id
                    seen.append(Observed(run, received, received))
                if is_resting(event):
                    return Streamed(sent, seen, rested=True)
            if unrecorded:
                await asyncio.to_thread(self.db.store.record, unrecorded)
            return Streamed(sent, seen, rested=False)
        finally:
            await manager.__aexit__(None, None, None)
