"""The run engine behind ``runs.create_and_wait`` and ``runs.wait``, written once for both faces.

:func:`assistdb.runner.rules.drive.drive` decides (the rules, sans I/O); :class:`RunEngine` turns
each of its effects into I/O requests (:mod:`assistdb.repositories.faces`), which the blocking
face performs with ``OpenAI`` and the asyncio face with ``AsyncOpenAI``. Every run state seen is
archived as it arrives, tool calls go through the ledger, and the run's steps and messages are
archived at the end.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from openai.types.beta.threads import Run

from assistdb.errors import (
    ApiConnectionError,
    ApiError,
    ApiUnreachableError,
    AssistDBError,
    InvalidInputError,
)
from assistdb.repositories.faces import (
    END,
    Api,
    CloseStream,
    EventStream,
    Gather,
    NextEvent,
    Op,
    OpenStream,
    Pause,
    StoreWork,
)
from assistdb.repositories.messages import MessagesOps
from assistdb.repositories.steps import RunStepsOps
from assistdb.runner.events import is_resting, kept_body, run_of
from assistdb.runner.rules.drive import (
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
from assistdb.runner.rules.durations import DurationBook, archived_brackets
from assistdb.runner.rules.session import Clock, Observed, RunSession
from assistdb.runner.tools.answering import answer_calls
from assistdb.runner.tools.registry import ToolRegistry, ToolsArgument
from assistdb.store import Store

log = logging.getLogger("assistdb.runner")
POLL_AFTER_HEADER = "openai-poll-after-ms"
CREATE_BACKOFF = 0.5  # seconds before the first resend of a failed create, doubling after
CLOCK_SLACK = 5.0  # seconds the API's clock may lag ours when a lost create's run is looked for


def check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout < math.inf:
        raise InvalidInputError(
            f"timeout must be a positive number of seconds, not {timeout!r}", hint="pass e.g. timeout=60"
        )
    return float(timeout)


def stream_timeout(session: RunSession) -> dict[str, float]:
    """A create or stream request must not outlive the wait: it times out at the deadline."""
    remaining = session.remaining()
    return {} if remaining is None else {"timeout": remaining + 0.05}


@dataclass
class Target:
    """The run being driven; ``run_id`` is known once the run exists."""

    thread_id: str
    run_id: str | None = None

    @property
    def known_run_id(self) -> str:
        if self.run_id is None:
            raise RuntimeError("the run has not been created yet")
        return self.run_id


OnEvent = Callable[[Any], None] | None


class RunEngine:
    """Drives the runs of one archive. ``book`` learns how long runs take (one per engine, so
    two archives never share what they learnt); ``clock`` can be replaced in tests."""

    def __init__(
        self,
        store: Store,
        *,
        steps: RunStepsOps,
        messages: MessagesOps,
        book: DurationBook | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.store = store
        self.steps = steps
        self.messages = messages
        self.book = book if book is not None else DurationBook()
        self.clock = clock

    def drive(
        self,
        thread_id: str,
        *,
        create: dict[str, Any] | None,
        run_id: str | None,
        tools: ToolsArgument,
        timeout: float | None,
        cancel_on_timeout: bool,
        stream: bool,
        on_event: OnEvent,
    ) -> Op[Run]:
        """Create a run (``create``: its parameters) or take run ``run_id``, and drive it to its end."""
        registry = ToolRegistry.of(tools)
        session = RunSession(timeout=check_timeout(timeout), book=self.book, clock=self.clock)
        first: Create | Poll = Poll() if create is None else Create(create, stream)
        core = drive(session, first, tools=registry, cancel_on_timeout=cancel_on_timeout, stream=stream)
        target = Target(thread_id, run_id)
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
                result = yield from self._perform(effect, target, session, registry, on_event)
            except (AssistDBError, KeyboardInterrupt, asyncio.CancelledError) as exc:
                error = exc

    def _perform(
        self,
        effect: Effect,
        target: Target,
        session: RunSession,
        registry: ToolRegistry | None,
        on_event: OnEvent,
    ) -> Op[Any]:
        if isinstance(effect, Poll):
            return (
                yield from self._observe(
                    Api(
                        lambda c: c.beta.threads.runs.retrieve, (target.known_run_id,), _in(target), raw=True
                    ),
                    target,
                )
            )
        if isinstance(effect, Sleep):
            yield Pause(effect.seconds)
            return None
        if isinstance(effect, Create):
            return (yield from self._create(effect, target, session, on_event))
        if isinstance(effect, LoadHistory):
            return (
                yield StoreWork(
                    lambda: archived_brackets(self.store.reader, effect.key, exclude=effect.exclude_run_id)
                )
            )
        if isinstance(effect, Answer):
            assert registry is not None
            run_id = target.known_run_id
            return (
                yield Gather(
                    lambda: answer_calls(
                        effect.calls,
                        registry,
                        self.store.tools,
                        run_id=run_id,
                        thread_id=target.thread_id,
                        deadline=effect.deadline,
                    )
                )
            )
        if isinstance(effect, Submit):
            return (yield from self._submit(effect, target, session, on_event))
        if isinstance(effect, Cancel):
            if target.run_id is None:
                return None
            request = Api(lambda c: c.beta.threads.runs.cancel, (target.known_run_id,), _in(target), raw=True)
            return (yield from self._observe(request, target))
        if isinstance(effect, Collect):
            yield from _drain(self.steps.list(target.known_run_id, thread_id=target.thread_id))
            yield from _drain(self.messages.list(target.thread_id, run_id=target.known_run_id))
            return None
        raise TypeError(f"unknown effect {effect!r}")

    def _create(
        self, effect: Create, target: Target, session: RunSession, on_event: OnEvent
    ) -> Op[Observed | Streamed]:
        """Create the run, without the SDK's own retries.

        After a create whose answer was lost (no answer in time, a dropped connection, a 5xx)
        the run may exist, and a blind resend is refused while it is active (one active run per
        thread), leaving it unwatched and uncancelled. So the thread's newest run is looked up
        first (:meth:`_find_created`); only when this create made none is it sent again, after
        a pause, as often as the client's ``max_retries`` allows (after a 429 without looking:
        a refusal made nothing)."""
        no_retries = _WithoutRetries()
        failures = 0
        while True:
            sent_at, sent_wall = self.clock(), time.time()
            try:
                if effect.stream:
                    params = {"thread_id": target.thread_id, **effect.params, **stream_timeout(session)}
                    streamed = yield from self._follow(
                        functools.partial(_open_run_stream, no_retries, params),
                        target,
                        session,
                        on_event,
                    )
                    if streamed.seen:
                        return streamed
                    # The stream broke before it announced the run: was it created?
                    found = yield from self._find_created(effect, target, sent_at, sent_wall)
                    return streamed if found is None else found
                request = Api(
                    lambda c: no_retries.of(c).beta.threads.runs.create,
                    (target.thread_id,),
                    {**effect.params, **stream_timeout(session)},
                    raw=True,
                )
                return (yield from self._observe(request, target))
            except ApiError as exc:
                uncertain = _uncertain(exc)
                if not uncertain and exc.status_code != 429:
                    raise
                if uncertain:
                    found = yield from self._find_created(effect, target, sent_at, sent_wall)
                    if found is not None:
                        return found
                failures += 1
                remaining = session.remaining()
                if failures > no_retries.allowed or (remaining is not None and remaining <= 0):
                    raise
                pause = min(CREATE_BACKOFF * 2 ** (failures - 1), 8.0)
                log.info("creating the run failed (%s); trying again in %.2f s", exc.message, pause)
                yield Pause(pause if remaining is None else min(pause, remaining))

    def _find_created(
        self, effect: Create, target: Target, sent_at: float, sent_wall: float
    ) -> Op[Observed | None]:
        """The run a create whose answer was lost made, if any: the thread's newest run, when it
        is for the create's assistant and was created since the request went out (by the
        server's clock, in whole seconds: :data:`CLOCK_SLACK` allows for the difference)."""
        newest = {"limit": 1, "order": "desc"}
        page = yield Api(lambda c: c.beta.threads.runs.list, (target.thread_id,), newest)
        received = self.clock()
        runs: list[Run] = list(page.data)
        if not runs:
            return None
        run = runs[0]
        if run.assistant_id != effect.params.get("assistant_id") or run.created_at < sent_wall - CLOCK_SLACK:
            return None
        log.info("the create's answer was lost, but it made run %s", run.id)
        target.run_id = run.id
        body = run.to_dict()
        yield StoreWork(lambda: self.store.record([body]))
        return Observed(run, sent_at, received)

    def _observe(self, request: Api, target: Target) -> Op[Observed]:
        sent = self.clock()
        raw = yield request
        received = self.clock()
        run: Run = raw.parse()
        target.run_id = run.id
        body = run.to_dict()
        yield StoreWork(lambda: self.store.record([body]))
        return Observed(run, sent, received, raw.headers.get(POLL_AFTER_HEADER))

    def _submit(self, effect: Submit, target: Target, session: RunSession, on_event: OnEvent) -> Op[Any]:
        run_id = target.known_run_id
        outputs = effect.tool_outputs
        if effect.stream:
            params = {
                "thread_id": target.thread_id,
                "run_id": run_id,
                "tool_outputs": outputs,
                **stream_timeout(session),
            }
            return (
                yield from self._follow(
                    lambda c: c.beta.threads.runs.submit_tool_outputs_stream(**params),
                    target,
                    session,
                    on_event,
                    on_open=lambda: self._mark_submitted(effect, target),
                )
            )
        request = Api(
            lambda c: c.beta.threads.runs.submit_tool_outputs,
            (run_id,),
            {"thread_id": target.thread_id, "tool_outputs": outputs},
            raw=True,
        )
        seen = yield from self._observe(request, target)
        yield from self._mark_submitted(effect, target)
        return seen

    def _mark_submitted(self, effect: Submit, target: Target) -> Op[None]:
        ledger = self.store.tools
        run_id = target.known_run_id

        def mark() -> None:
            states = ledger.calls_of_run(run_id)
            submitted = [
                states[o["tool_call_id"]] for o in effect.tool_outputs if o["tool_call_id"] in states
            ]
            ledger.mark_submitted(submitted, run_id=run_id, thread_id=target.thread_id)

        yield StoreWork(mark)

    def _follow(
        self,
        open_stream: Callable[[Any], Any],
        target: Target,
        session: RunSession,
        on_event: OnEvent,
        on_open: Callable[[], Op[None]] | None = None,
    ) -> Op[Streamed]:
        """Read a run's event stream until the run rests; a broken stream ends it early.

        Finished steps and messages are archived in one transaction with the run state that
        follows them, so the burst of events at a run's end costs one write, not three."""
        sent = self.clock()
        stream: EventStream = yield OpenStream(open_stream)
        seen: list[Observed] = []
        unrecorded: list[dict[str, Any]] = []  # steps and messages, archived with the next run state
        try:
            if on_open is not None:
                yield from on_open()
            while not session.timed_out():
                try:
                    event = yield NextEvent(stream)
                except Exception as exc:
                    log.info("the event stream broke (%s); polling instead", type(exc).__name__)
                    break
                if event is END:
                    log.info("the event stream ended before the run rested; polling instead")
                    break
                received = self.clock()
                if on_event is not None:
                    on_event(event)
                body = kept_body(event)
                if body is not None:
                    unrecorded.append(body)
                run = run_of(event)
                if run is not None:
                    batch, unrecorded = unrecorded, []
                    yield StoreWork(functools.partial(self.store.record, batch))
                    target.run_id = run.id
                    seen.append(Observed(run, received, received))
                if is_resting(event):
                    return Streamed(sent, seen, rested=True)
            if unrecorded:
                yield StoreWork(lambda: self.store.record(unrecorded))
            return Streamed(sent, seen, rested=False)
        finally:
            yield CloseStream(stream)


class _WithoutRetries:
    """The client for a create, with the SDK's retries off; remembers how many it allowed."""

    allowed = 0

    def of(self, client: Any) -> Any:
        self.allowed = int(client.max_retries)
        return client.with_options(max_retries=0)


def _open_run_stream(no_retries: _WithoutRetries, params: dict[str, Any], client: Any) -> Any:
    return no_retries.of(client).beta.threads.runs.stream(**params)


def _uncertain(error: ApiError) -> bool:
    """Whether a failed create may have made the run anyway: no answer, or a server error.
    (Nothing answering at the address at all is not retried: it is not going to answer.)"""
    if isinstance(error, ApiUnreachableError):
        return False
    if isinstance(error, ApiConnectionError):
        return True
    return error.status_code is not None and (error.status_code >= 500 or error.status_code in (408, 409))


def _in(target: Target) -> dict[str, Any]:
    return {"thread_id": target.thread_id}


def _drain(pages: Generator[Any, Any, None]) -> Op[None]:
    """Run a paged operation for its archiving only."""
    from assistdb.repositories.faces import Emit

    result: Any = None
    while True:
        try:
            request = pages.send(result)
        except StopIteration:
            return
        result = None if isinstance(request, Emit) else (yield request)
