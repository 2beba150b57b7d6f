"""The one run driver, whatever the model: it asks the backend and records what it answers.

Each active run is driven by exactly one process, the owner of its lease (``owner``,
``lease_until`` on the run row). The process that creates a run or accepts its tool outputs
claims it and drives it at once; a sweeper in every process renews its leases, notices cancels
made elsewhere, expires runs left waiting, and claims runs nobody drives (their process died and
its lease lapsed, or they were handed over at shutdown). A round that is run again reuses the
step and message it had opened, so a reply is never written twice nor lost.

Everything the driver changes is written, with its stream events, in one transaction per
transition. Text and tool-call deltas the model sends together are written together, as soon as
it has nothing more ready (or with the next transition). Streams in this process are handed
those events the moment they commit; streams in other processes read them back from the
database, woken by PostgreSQL's NOTIFY (``event_wakeups``) or by a short poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from assistdb.server import lifecycle, objects, run_file_search, tables
from assistdb.server.backends.base import (
    Finished,
    FunctionCall,
    ModelBackend,
    ModelError,
    ModelEvent,
    ModelRequest,
    PromptTooLong,
    TextDelta,
    ToolCallDelta,
    ToolRound,
)
from assistdb.server.backends.scripted import ExpireRun, unknown_function_message
from assistdb.server.config import ServerConfig
from assistdb.server.embeddings import Known, NeedEmbeddings, until_known
from assistdb.server.event_wakeups import EventWakeups
from assistdb.server.objects import Obj
from assistdb.server.state import Event, RunRow, ServerState, Tx

if TYPE_CHECKING:
    from assistdb.server.backends.embeddings import Embedder

log = logging.getLogger("assistdb.server")

#: A run whose model has not said anything after this long is shown ``in_progress`` anyway.
START_GRACE = 1.0
#: How long stream events are kept (streams only follow a run's newest events).
EVENT_RETENTION = 3600.0
#: A follower registered for a stream that never started is forgotten after this long.
ORPHAN_FOLLOWER_SECONDS = 60.0


class Follower:
    """One stream following a run in this process. Woken when the run changes; the events this
    process commits are handed over with the wake-up, so the stream need not read them back."""

    def __init__(self) -> None:
        self.woken = asyncio.Event()
        self._relayed: list[Event] = []
        self._look = False
        #: Set once a stream consumes it; one never adopted (its client left before the
        #: response began) is dropped by the sweeper after ``ORPHAN_FOLLOWER_SECONDS``.
        self.adopted = False
        self.made = time.monotonic()

    def relay(self, events: list[Event]) -> None:
        self._relayed.extend(events)
        self.woken.set()

    def alert(self) -> None:
        """Something changed that no relayed event carries: the stream must read the database."""
        self._look = True
        self.woken.set()

    def take(self, after: int) -> list[Event] | None:
        """The relayed events that follow event ``after`` without a gap, or None if the stream
        must read the database instead (it was alerted, or events arrived out of order)."""
        events = sorted(event for event in self._relayed if event[0] > after)
        self._relayed.clear()
        look, self._look = self._look, False
        if look or any(event[0] != after + 1 + k for k, event in enumerate(events)):
            return None
        return events


class _RoundOver(Exception):
    """The run left the driver's hands during a round (it was cancelled, ended or taken over)."""


@dataclass
class _Round:
    """What one round has produced so far (kept in memory; the stored run says where it is)."""

    started: bool
    text: list[str] = field(default_factory=list)
    message_id: str | None = None
    calls: dict[int, Obj] = field(default_factory=dict)
    step_open: bool = False
    step_id: str | None = None
    #: Delta events not written yet (name, payload): they go in the next write (see ``_consume``).
    pending: list[tuple[str, Obj]] = field(default_factory=list)
    #: The server answered this round's calls itself (file_search): the run goes on at once.
    again: bool = False
    #: The run object as the round began (its tools decide how tool-call deltas are shown).
    run_obj: Obj = field(default_factory=dict)


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Runtime:
    """Drives this process's runs, sweeps for orphaned ones, and wakes streams."""

    def __init__(
        self,
        store: ServerState,
        config: ServerConfig,
        backend: ModelBackend,
        clock: Callable[[], float] = time.time,
        embedder: Embedder | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.backend = backend
        self.clock = clock
        #: Embeds file_search queries when hybrid ranking is on.
        self.embedder = embedder
        self.owner = new_owner_id()
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.stopping = False
        self._cancels: set[str] = set()
        self._followers: dict[str, set[Follower]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._wakeups: EventWakeups | None = None
        self._last_prune = 0.0
        #: The text of each round in progress here, kept on the message if the round stops early.
        self._texts: dict[str, list[str]] = {}
        #: The delta events of each round in progress here that are not written yet.
        self._pending: dict[str, list[tuple[str, Obj]]] = {}
        #: The first request of runs created here, read in the transaction that created them.
        self._prepared: dict[str, tuple[RunRow, ModelRequest]] = {}
        store.on_commit = self._relay

    # lifecycle of the runtime -----------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._sweeper = self._loop.create_task(self._sweep_forever())
        if self.store.database.dialect == "postgresql":
            self._wakeups = EventWakeups(self.store.database.url, self._loop, self._wake_from_elsewhere)
            self._wakeups.start()

    def _wake_from_elsewhere(self, run_id: str) -> None:
        """Another process wrote events of ``run_id``: wake its streams here (ours wake anyway)."""
        if run_id not in self.tasks:
            self.notify(run_id)

    async def stop(self) -> None:
        """Stop driving: abort the model requests and hand the runs over to any other process."""
        self.stopping = True
        for followers in self._followers.values():
            for follower in followers:
                follower.alert()
        tasks = [task for task in (self._sweeper, *self.tasks.values()) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._sweeper = None
        if self._wakeups is not None:
            await asyncio.to_thread(self._wakeups.stop)
            self._wakeups = None
        try:
            with self.store.writing() as tx:
                table = tables.runs
                tx.connection.execute(
                    update(table).where(table.c.owner == self.owner).values(owner=None, lease_until=None)
                )
        except Exception:
            log.exception("could not hand over the runs of this process")
        with contextlib.suppress(Exception):
            await self.backend.aclose()

    def lease(self) -> float:
        return self.clock() + self.config.lease_seconds

    def claim(self) -> tuple[str | None, float | None]:
        """Owner and lease for a run this process is about to start, or none if it is full."""
        return (self.owner, self.lease()) if self.room() > 0 and not self.stopping else (None, None)

    # what handlers call -----------------------------------------------------------------------

    def drive(self, run_id: str) -> None:
        """Start driving a run this process has claimed (no-op if it is already driven here)."""
        loop = self._loop
        if loop is None or self.stopping or run_id in self.tasks:
            self._prepared.pop(run_id, None)
            return
        self.tasks[run_id] = loop.create_task(self._drive(run_id))

    def _text_of(self, run_id: str) -> str:
        return "".join(self._texts.get(run_id, ()))

    def prepare(self, tx: Tx, row: RunRow) -> None:
        """Read the first request of a run this process creates and claims, in the transaction
        that creates it: the model is then asked without another read of the thread."""
        if tx.embeddings is not None and tx.embeddings.missing:
            return  # the transaction is rolled back, and runs again once its vectors are known
        self._prepared[row.id] = (row, _request(tx, row))

    def drive_if_claimed(self, run_id: str) -> None:
        """Drive a run a handler just started, if it claimed it (``claim`` gave an owner)."""
        if self.room() > 0:
            self.drive(run_id)

    def cancel(self, run_id: str) -> None:
        """A client cancelled a run this process owns: abort its round now."""
        task = self.tasks.get(run_id)
        if task is None:
            self.drive(run_id)
            return
        self._cancels.add(run_id)
        task.cancel()

    def forget(self, run_ids: list[str]) -> None:
        """The runs were deleted with their thread: stop driving them and end their streams."""
        for run_id in run_ids:
            task = self.tasks.pop(run_id, None)
            if task is not None:
                task.cancel()
            self.notify(run_id)

    def waiting_runs(self) -> list[str]:
        return list(self._followers)

    def drives(self, run_id: str) -> bool:
        return run_id in self.tasks

    def notify(self, run_id: str) -> None:
        """The run changed in a way its streams must read from the database."""
        for follower in self._followers.get(run_id, ()):
            follower.alert()

    def _relay(self, written: dict[str, list[Event]]) -> None:
        """Hand the events of a committed write to the streams following their runs here."""
        loop = self._loop
        if loop is not None and not _on_loop(loop):
            loop.call_soon_threadsafe(self._relay, written)
            return
        for run_id, events in written.items():
            for follower in self._followers.get(run_id, ()):
                follower.relay(events)

    def follow(self, run_id: str) -> Follower:
        follower = Follower()
        self._followers.setdefault(run_id, set()).add(follower)
        return follower

    async def wait(self, follower: Follower, timeout: float) -> bool:
        """Wait until the run changes (True) or ``timeout`` seconds pass (False)."""
        try:
            await asyncio.wait_for(follower.woken.wait(), timeout)
        except TimeoutError:
            return False
        follower.woken.clear()
        return True

    def _drop_orphan_followers(self) -> None:
        oldest = time.monotonic() - ORPHAN_FOLLOWER_SECONDS
        for run_id, followers in list(self._followers.items()):
            for follower in [f for f in followers if not f.adopted and f.made < oldest]:
                self.unfollow(run_id, follower)

    def unfollow(self, run_id: str, follower: Follower) -> None:
        followers = self._followers.get(run_id)
        if followers is not None:
            followers.discard(follower)
            if not followers:
                del self._followers[run_id]

    # driving ----------------------------------------------------------------------------------

    async def _drive(self, run_id: str) -> None:
        try:
            while await self._round(run_id):
                pass
        except asyncio.CancelledError:
            if run_id in self._cancels and not self.stopping:
                with contextlib.suppress(_RoundOver):
                    cancel = functools.partial(lifecycle.cancel, text=self._text_of(run_id))
                    self._transition(run_id, cancel, allow_cancelling=True)
            elif not self.stopping:
                raise
        except Exception:
            log.exception("driving run %s failed", run_id)
            with contextlib.suppress(Exception, _RoundOver):
                self._transition(
                    run_id,
                    lambda tx, row, now: lifecycle.fail(
                        tx, row, now, "server_error", "The server failed while running the model."
                    ),
                )
        finally:
            if self.tasks.get(run_id) is asyncio.current_task():
                del self.tasks[run_id]
            self._cancels.discard(run_id)
            self._texts.pop(run_id, None)
            self._pending.pop(run_id, None)
            self._prepared.pop(run_id, None)

    def _transition(
        self,
        run_id: str,
        change: Callable[[Tx, RunRow, float], None],
        *,
        allow_cancelling: bool = False,
    ) -> None:
        """Apply ``change`` if this process still drives the run; a cancel seen here wins.

        The round's delta events not written yet go first, in the same transaction."""
        now = self.clock()
        outcome = "changed"
        waiting = self._pending.get(run_id)
        pending = list(waiting or ())
        if waiting:
            waiting.clear()
        try:
            with self.store.writing() as tx:  # its events reach this process's streams on commit
                row = tx.run_by_id(run_id, lock=True)
                if row is not None and row.owner == self.owner and pending:
                    for event, payload in pending:
                        tx.add_event(run_id, event, payload, now)
                if row is None or row.owner != self.owner:
                    outcome = "lost"
                elif row.status == "cancelling":
                    lifecycle.cancel(tx, row, now, self._text_of(run_id))
                    outcome = "cancelled"
                elif row.status not in ("queued", "in_progress"):
                    outcome = "lost"
                else:
                    change(tx, row, now)
        except NeedEmbeddings:
            if waiting is not None:
                waiting[:0] = pending  # rolled back: they go with the transition run again
            raise
        if outcome == "lost" or (outcome == "cancelled" and not allow_cancelling):
            raise _RoundOver

    def _fresh_request(self, run_id: str, now: float) -> tuple[RunRow, ModelRequest] | None:
        """The round's request read without a write, when this process claimed the run just now
        (a handler created it or took its tool outputs): there is nothing to change before asking
        the model, so the write transaction (and on PostgreSQL its commit's flush) is saved."""
        with self.store.reading() as tx:
            row = tx.run_by_id(run_id)
            if (
                row is None
                or row.owner != self.owner
                or row.status not in ("queued", "in_progress")
                or lifecycle.is_overdue(row, now)
                or (row.lease_until or 0.0) - now < self.config.lease_seconds / 2
            ):
                return None
            return row, _request(tx, row)

    async def _round(self, run_id: str) -> bool:
        """Drive one round; True if the run goes straight on to another (file_search answered)."""
        now = self.clock()
        fresh = self._prepared.pop(run_id, None) or self._fresh_request(run_id, now)
        if fresh is not None:
            return await self._ask(run_id, *fresh)
        request: ModelRequest | None
        with self.store.writing() as tx:
            row = tx.run_by_id(run_id, lock=True)
            if row is None or row.owner != self.owner:
                return False
            if row.status == "cancelling":
                lifecycle.cancel(tx, row, now)
                request = None
            elif row.status not in ("queued", "in_progress"):
                tx.set_run_owner(run_id, None, None)
                request = None
            elif lifecycle.is_overdue(row, now):
                lifecycle.expire(tx, row, now)
                request = None
            else:
                tx.set_run_owner(run_id, self.owner, self.lease())
                request = _request(tx, row)
        if request is None:
            return False
        return await self._ask(run_id, row, request)

    async def _ask(self, run_id: str, row: RunRow, request: ModelRequest) -> bool:
        """One round: ask the model and record its answer as it comes; True if the run goes
        straight on to another round."""
        state = _Round(started=row.status == "in_progress", run_obj=row.obj)
        self._texts[run_id] = state.text
        self._pending[run_id] = state.pending
        deadline = row.expire_at
        answer = self.backend.answer(request)
        try:
            await self._consume(run_id, answer, state, deadline)
        except _RoundOver:
            return False
        finally:
            aclose = getattr(answer, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(BaseException):
                    await aclose()
        return state.again

    async def _consume(
        self, run_id: str, answer: AsyncIterator[ModelEvent], state: _Round, deadline: float
    ) -> None:
        iterator = answer.__aiter__()
        next_event: asyncio.Future[ModelEvent] | None = None
        began = self.clock()
        try:
            while True:
                if next_event is None:
                    next_event = asyncio.ensure_future(iterator.__anext__())
                if state.pending:
                    # Deltas the model sent together are written together; as soon as it has
                    # nothing more ready, what arrived is written, so streams see it at once.
                    await asyncio.sleep(0)
                    if not next_event.done():
                        self._write_pending(run_id, state)
                now = self.clock()
                timeout = deadline - now
                if not state.started:
                    timeout = min(timeout, began + START_GRACE - now)
                done, _ = await asyncio.wait({next_event}, timeout=max(0.0, timeout))
                if not done:
                    if self.clock() >= deadline:
                        self._transition(
                            run_id, functools.partial(lifecycle.expire, text="".join(state.text))
                        )
                        return
                    self._transition(run_id, lifecycle.mark_in_progress)
                    state.started = True
                    continue
                finished, next_event = next_event, None
                try:
                    event: ModelEvent | None = finished.result()
                except StopAsyncIteration:
                    event = None
                except ModelError as exc:
                    failure = functools.partial(
                        lifecycle.fail, code=exc.code, message=exc.message, text="".join(state.text)
                    )
                    self._transition(run_id, failure)
                    return
                except PromptTooLong:
                    self._transition(run_id, _prompt_too_long)
                    return
                except ExpireRun:
                    self._transition(run_id, _expire_now)
                    return
                if event is None or isinstance(event, Finished):
                    await self._finish(run_id, state, event)
                    return
                if isinstance(event, TextDelta):
                    self._text(run_id, state, event)
                else:
                    self._tool_call(run_id, state, event)
        finally:
            if next_event is not None:
                next_event.cancel()
                with contextlib.suppress(BaseException):
                    await next_event

    # the model's events -----------------------------------------------------------------------

    def _text(self, run_id: str, state: _Round, delta: TextDelta) -> None:
        if state.message_id is None:

            def open_message(tx: Tx, row: RunRow, now: float) -> None:
                lifecycle.mark_in_progress(tx, row, now, save=False)
                message = lifecycle.open_message(tx, row, now)
                tx.save_run_with_events(row)
                state.message_id = message["id"]
                if delta.text:
                    self._text_event(tx, run_id, state, delta.text, now)

            self._transition(run_id, open_message)
            state.started = True
            return
        if not delta.text:
            return
        state.pending.append(("thread.message.delta", self._text_delta(state, delta.text)))

    def _write_pending(self, run_id: str, state: _Round) -> None:
        """Write the round's delta events that are waiting, in one transaction.

        Deltas are only for streams (the message's text is written when the round ends, and a
        round run again starts over), so on PostgreSQL their commit does not wait for the flush
        to disk; every transition still does."""
        if not state.pending:
            return
        now = self.clock()
        with self.store.writing(durable=False) as tx:
            for event, payload in state.pending:
                tx.add_event(run_id, event, payload, now)
        state.pending.clear()

    def _text_delta(self, state: _Round, text: str) -> Obj:
        part: Obj = {"value": text, "annotations": []} if not state.text else {"value": text}
        state.text.append(text)
        return {
            "id": state.message_id,
            "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": part}]},
        }

    def _text_event(self, tx: Tx, run_id: str, state: _Round, text: str, now: float) -> None:
        tx.add_event(run_id, "thread.message.delta", self._text_delta(state, text), now)

    def _tool_call(self, run_id: str, state: _Round, delta: ToolCallDelta) -> None:
        call = state.calls.get(delta.index)
        first = call is None
        if call is None:
            call = {"id": delta.id or self.store.new_id("call_"), "name": delta.name or "", "arguments": ""}
            state.calls[delta.index] = call
        elif delta.name and not call["name"]:
            call["name"] = delta.name
        call["arguments"] += delta.arguments
        tool_call: Obj = {"index": delta.index, "type": "function"}
        if first:
            tool_call.update(
                id=call["id"], function={"name": call["name"], "arguments": delta.arguments, "output": None}
            )
        else:
            tool_call["function"] = {"arguments": delta.arguments}

        def record(tx: Tx, row: RunRow, now: float) -> None:
            if not state.step_open:
                lifecycle.mark_in_progress(tx, row, now, save=False)
                self._drop_empty_message(tx, row, state, now)
                lifecycle.open_tool_step(tx, row, now)
                tx.save_run_with_events(row)
                state.step_open = True
                state.step_id = row.driver["step_id"]
            payload = step_payload(row.obj)
            if payload is not None:
                tx.add_event(run_id, "thread.run.step.delta", payload, now)

        def step_payload(run_obj: Obj) -> Obj | None:
            shown = run_file_search.stream_delta(run_obj, call["name"], tool_call, first)
            if shown is None:
                return None
            step_delta = {"step_details": {"type": "tool_calls", "tool_calls": [shown]}}
            return {"id": state.step_id, "object": "thread.run.step.delta", "delta": step_delta}

        if state.step_open:
            payload = step_payload(state.run_obj)
            if payload is not None:
                state.pending.append(("thread.run.step.delta", payload))
        else:
            self._transition(run_id, record)
            state.started = True

    def _drop_empty_message(self, tx: Tx, row: RunRow, state: _Round, now: float) -> None:
        """Text before tool calls: keep it as a completed message, or drop an empty one."""
        if state.message_id is None:
            return
        text = "".join(state.text)
        if text:
            lifecycle.close_message(tx, row, now, text, cut_short=False)
            lifecycle.complete_step(tx, row, now, objects.usage(0, 0))
        else:
            tx.discard_message(state.message_id)
            tx.discard_step(row.driver["step_id"])
        state.message_id = None
        state.text.clear()
        row.driver.update(message_id=None, step_id=None)

    async def _finish(self, run_id: str, state: _Round, finished: Finished | None) -> None:
        reason = finished.reason if finished is not None else "stop"
        usage_given = finished.usage if finished is not None else None
        usage = (
            objects.usage(usage_given.prompt_tokens, usage_given.completion_tokens)
            if usage_given is not None
            else objects.usage(0, 0)
        )

        def close(tx: Tx, row: RunRow, now: float) -> None:
            if state.calls:
                calls = [state.calls[index] for index in sorted(state.calls)]
                if run_file_search.handles(row.obj, calls):
                    run_file_search.execute(tx, row, now, calls, usage)
                    state.again = True
                    return
                offered = {t["function"]["name"] for t in row.obj["tools"] if t.get("type") == "function"}
                unknown = [call["name"] for call in calls if call["name"] not in offered]
                if unknown:
                    message = unknown_function_message(unknown[0], offered)
                    lifecycle.fail(tx, row, now, "invalid_prompt", message)
                    return
                required = [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]},
                    }
                    for call in calls
                ]
                lifecycle.require_action(tx, row, now, required, usage)
                return
            if state.message_id is None:
                lifecycle.mark_in_progress(tx, row, now)
                lifecycle.open_message(tx, row, now)
            cut_short = reason == "length"
            text = "".join(state.text)
            annotations = run_file_search.citations(text, row.driver)
            lifecycle.close_message(tx, row, now, text, cut_short=cut_short, annotations=annotations)
            lifecycle.complete_step(tx, row, now, usage)
            if cut_short:
                lifecycle.end(
                    tx, row, now, "incomplete", incomplete_details={"reason": "max_completion_tokens"}
                )
            else:
                lifecycle.end(tx, row, now, "completed")

        async def attempt() -> None:
            self._transition(run_id, close)

        embed = self.embedder.embed if self.embedder is not None else None
        await until_known(attempt, embed, await self._query_vectors(state))

    async def _query_vectors(self, state: _Round) -> Known:
        """The vectors of a file_search round's queries (hybrid ranking), computed before its
        transaction; a query the upstream cannot embed is then searched lexically."""
        calls = [state.calls[index] for index in sorted(state.calls)]
        if self.embedder is None or not run_file_search.handles(state.run_obj, calls):
            return {}
        return await self.embedder.embed(run_file_search.query_of(call["arguments"]) for call in calls)

    # sweeping ---------------------------------------------------------------------------------

    def room(self) -> int:
        """How many more runs this process may drive (``max_runs``; 0 serves the API only)."""
        limit = self.config.max_runs
        return 1_000_000 if limit is None else max(0, limit - len(self.tasks))

    def _dead_owners(self, tx: Tx, now: float) -> list[str]:
        """Owners on this host whose process is gone (killed): their runs need not wait for the
        lease to lapse, so a restarted single server resumes at once."""
        table = tables.runs
        owners = tx.connection.execute(
            select(table.c.owner)
            .where(
                table.c.status.in_(("queued", "in_progress", "cancelling")),
                table.c.owner.is_not(None),
                table.c.owner != self.owner,
                table.c.lease_until >= now,
            )
            .distinct()
        ).scalars()
        return [owner for owner in owners if owner is not None and _is_dead_local_owner(owner)]

    async def _sweep_forever(self) -> None:
        while not self.stopping:
            try:
                self.sweep()
            except Exception:
                log.exception("sweeping runs failed")
            await asyncio.sleep(self.config.sweep_interval)

    def sweep(self) -> None:
        """Renew this process's leases, pick up cancels made elsewhere, expire runs left
        waiting, and claim runs that nobody drives."""
        now = self.clock()
        for run_id in [run_id for run_id in self._prepared if run_id not in self.tasks]:
            del self._prepared[run_id]  # its transaction did not commit
        self._drop_orphan_followers()
        table = tables.runs
        claimed: list[str] = []
        cancelled: list[str] = []
        expired: list[str] = []
        with self.store.writing() as tx:
            mine = list(self.tasks)
            if mine:
                tx.connection.execute(
                    update(table)
                    .where(table.c.owner == self.owner, table.c.id.in_(mine))
                    .values(lease_until=self.lease())
                )
                cancelled = list(
                    tx.connection.execute(
                        select(table.c.id).where(
                            table.c.owner == self.owner, table.c.id.in_(mine), table.c.status == "cancelling"
                        )
                    ).scalars()
                )
            overdue = tx.connection.execute(
                select(table.c.id)
                .where(
                    (table.c.status == "requires_action")
                    | ((table.c.status == "queued") & table.c.owner.is_(None)),
                    table.c.expire_at <= now,
                )
                .limit(100)
                .with_for_update(skip_locked=True)
            ).scalars()
            for run_id in list(overdue):
                row = tx.run_by_id(run_id)
                if row is not None and lifecycle.is_overdue(row, now):
                    lifecycle.expire(tx, row, now)
                    expired.append(run_id)
            room = self.room()
            claimable = (table.c.owner.is_(None)) | (table.c.lease_until < now)
            dead = self._dead_owners(tx, now)
            if dead:
                claimable = claimable | table.c.owner.in_(dead)
            orphans: list[str] = (
                list(
                    tx.connection.execute(
                        select(table.c.id)
                        .where(table.c.status.in_(("queued", "in_progress", "cancelling")), claimable)
                        .order_by(table.c.seq)
                        .limit(min(room, 50))
                        .with_for_update(skip_locked=True)
                    ).scalars()
                )
                if room > 0
                else []
            )
            claimed = [run_id for run_id in orphans if run_id not in self.tasks]
            if claimed:
                tx.connection.execute(
                    update(table)
                    .where(table.c.id.in_(claimed))
                    .values(owner=self.owner, lease_until=self.lease())
                )
            if now - self._last_prune > 60:
                tx.forget_events_before(now - EVENT_RETENTION)
                self._last_prune = now
        for run_id in expired:
            self.notify(run_id)
        for run_id in cancelled:
            self.cancel(run_id)
        for run_id in claimed:
            log.info("taking over run %s", run_id)
            self.drive(run_id)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _is_dead_local_owner(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _prompt_too_long(tx: Tx, row: RunRow, now: float) -> None:
    lifecycle.abandon(tx, row, now, step_status="failed", message_reason="run_failed")
    lifecycle.end(tx, row, now, "incomplete", incomplete_details={"reason": "max_prompt_tokens"})


def _expire_now(tx: Tx, row: RunRow, now: float) -> None:
    row.expire_at = now
    lifecycle.mark_in_progress(tx, row, now)
    lifecycle.expire(tx, row, now)


def _request(tx: Tx, row: RunRow) -> ModelRequest:
    """What the model is asked this round: the run's settings, the thread, its earlier rounds."""
    run = row.obj
    messages = tx.thread_messages(run["thread_id"], exclude_run=row.id)
    rounds = tuple(
        ToolRound(
            calls=tuple(FunctionCall(c["id"], c["name"], c["arguments"]) for c in item["calls"]),
            outputs=dict(item["outputs"]),
        )
        for item in row.driver["rounds"]
    )
    return ModelRequest(
        run=run,
        model=run["model"],
        instructions=run["instructions"] or "",
        messages=tuple(messages),
        tool_rounds=rounds,
        tools=tuple(run["tools"]),
        tool_choice=run_file_search.tool_choice_for(run["tool_choice"], row.driver["rounds"]),
        parallel_tool_calls=bool(run["parallel_tool_calls"]),
        temperature=run["temperature"],
        top_p=run["top_p"],
        response_format=run["response_format"],
        truncation_strategy=dict(run["truncation_strategy"]),
        max_prompt_tokens=run["max_prompt_tokens"],
        max_completion_tokens=run["max_completion_tokens"],
        completion_tokens_used=int(row.driver.get("completion_used", 0)),
    )
