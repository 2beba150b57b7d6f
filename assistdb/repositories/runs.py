"""Runs of a thread, written through to the thread's chain; driving a run to its end lives in
:mod:`assistdb.runner`, reached from here by ``create_and_wait`` and ``wait``."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from typing import Any

from openai.types.beta.threads import Run

from assistdb.repositories import api
from assistdb.repositories.base import Repository
from assistdb.repositories.validation import check_id, check_metadata
from assistdb.store import Filters
from assistdb.store.queries import Order


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
        return [self._typed(stored) for stored in found if not stored.tombstone]
