"""Runs of a thread, written through to the thread's chain; driving a run to its end lives in
:mod:`assistdb.runner`, reached from here by ``create_and_wait`` and ``wait``."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from openai.types.beta.threads import Run

from assistdb.repositories import api
from assistdb.repositories.base import Repository
from assistdb.repositories.validation import check_id, check_metadata
from assistdb.store import Filters
from assistdb.store.queries import Order

if TYPE_CHECKING:
    from assistdb.runner.driving import ToolsArgument


class RunsRepository(Repository[Run]):
    object_type = "run"
    model = Run

    def create(self, thread_id: str, *, assistant_id: str, **params: Any) -> Run:
        check_metadata(params.get("metadata"))
        run = api.call(
            self._client.beta.threads.runs.create,
            check_id("thread", thread_id),
            assistant_id=check_id("assistant", assistant_id),
            **params,
        )
        self._record(run)
        return run

    def create_and_wait(
        self,
        thread_id: str,
        *,
        assistant_id: str,
        tools: ToolsArgument = None,
        timeout: float | None = None,
        cancel_on_timeout: bool = True,
        stream: bool = False,
        on_event: Callable[[Any], None] | None = None,
        **create_params: Any,
    ) -> Run:
        """Create a run and drive it to its end (see :meth:`wait`); with ``stream=True``,
        ``on_event`` sees each event as it arrives (text deltas, to show a reply as it comes)."""
        from assistdb.runner.engine import RunEngine  # the engine builds on these repositories

        check_metadata(create_params.get("metadata"))
        return RunEngine(self._owner, on_event=on_event).create_and_wait(
            check_id("thread", thread_id),
            assistant_id=check_id("assistant", assistant_id),
            tools=tools,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            stream=stream,
            **create_params,
        )

    def wait(
        self,
        run_id: str,
        *,
        thread_id: str | None = None,
        tools: ToolsArgument = None,
        timeout: float | None = None,
        cancel_on_timeout: bool = True,
        stream: bool = False,
    ) -> Run:
        """Drive a run to a terminal status and return it, answering its tool calls with
        ``tools`` (a :class:`ToolRegistry` or a list of ``@tool`` functions) exactly once each.

        Every state seen is archived, then the run's steps and messages. Without ``tools``, a
        run that requires action is returned as it is. Raises :class:`RunTimeoutError` after
        ``timeout`` seconds (cancelling the run unless ``cancel_on_timeout=False``) and
        :class:`Interrupted` on Ctrl-C (cancelling the run). ``stream=True`` follows the run's
        events wherever a request can stream (create, submit), falling back to polling.
        """
        from assistdb.runner.engine import RunEngine

        check_id("run", run_id)
        return RunEngine(self._owner).wait(
            run_id,
            thread_id=self._thread_of(run_id, thread_id),
            tools=tools,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            stream=stream,
        )

    def retrieve(self, run_id: str, *, thread_id: str | None = None) -> Run:
        check_id("run", run_id)
        run = api.call(
            self._client.beta.threads.runs.retrieve, run_id, thread_id=self._thread_of(run_id, thread_id)
        )
        self._record(run)
        return run

    def update(self, run_id: str, *, thread_id: str | None = None, **params: Any) -> Run:
        check_id("run", run_id)
        check_metadata(params.get("metadata"))
        run = api.call(
            self._client.beta.threads.runs.update,
            run_id,
            thread_id=self._thread_of(run_id, thread_id),
            **params,
        )
        self._record(run)
        return run

    def cancel(self, run_id: str, *, thread_id: str | None = None) -> Run:
        check_id("run", run_id)
        run = api.call(
            self._client.beta.threads.runs.cancel, run_id, thread_id=self._thread_of(run_id, thread_id)
        )
        self._record(run)
        return run

    def submit_tool_outputs(
        self, run_id: str, *, tool_outputs: Iterable[dict[str, str]], thread_id: str | None = None
    ) -> Run:
        """Answer a ``requires_action`` run by hand; ``create_and_wait``/``wait`` do this for you."""
        check_id("run", run_id)
        run = api.call(
            self._client.beta.threads.runs.submit_tool_outputs,
            run_id,
            thread_id=self._thread_of(run_id, thread_id),
            tool_outputs=list(tool_outputs),
        )
        self._record(run)
        return run

    def list(
        self,
        thread_id: str,
        *,
        order: str = "desc",
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Iterator[Run]:
        """All runs of a thread from the cursor on, lazily, each page archived as it arrives."""
        return self._pages(
            self._client.beta.threads.runs.list,
            check_id("thread", thread_id),
            order=order,
            limit=limit,
            after=after,
            before=before,
        )

    def find(
        self,
        *,
        thread_id: str | None = None,
        status: str | None = None,
        assistant_id: str | None = None,
        order: Order = "asc",
        limit: int | None = None,
        include_deleted: bool = False,
    ) -> builtins.list[Run]:
        """Archived runs by thread, status or assistant, without an API call."""
        filters = Filters(
            thread_id=check_id("thread", thread_id) if thread_id else None,
            status=status,
            assistant_id=check_id("assistant", assistant_id) if assistant_id else None,
            include_deleted=include_deleted,
        )
        found = self._store.reader.find("run", filters, order=order, limit=limit)
        return self._found(found)
