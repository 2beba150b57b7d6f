"""Run steps: what a run did (messages it wrote, tools it called), archived in the thread's chain."""

from __future__ import annotations

import builtins
from typing import Literal

from openai.types.beta.threads.runs import RunStep

from assistdb.repositories.base import (
    Face,
    Op,
    Paged,
    RepositoryOps,
    async_paged,
    awaitable_op,
    blocking,
    paged,
)
from assistdb.repositories.validation import check_id
from assistdb.store import Filters
from assistdb.store.queries import Order


class RunStepsOps(RepositoryOps[RunStep]):
    object_type = "run_step"
    model = RunStep

    def retrieve(self, step_id: str, *, run_id: str, thread_id: str | None = None) -> Op[RunStep]:
        check_id("run_step", step_id)
        check_id("run", run_id)
        thread = yield from self._thread_of(run_id, thread_id)
        step: RunStep = yield from self._call(
            lambda c: c.beta.threads.runs.steps.retrieve, step_id, run_id=run_id, thread_id=thread
        )
        return step

    def list(
        self,
        run_id: str,
        *,
        thread_id: str | None = None,
        order: Literal["asc", "desc"] = "asc",
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Paged:
        """All steps of a run from the cursor on, lazily, each page archived as it arrives."""
        check_id("run", run_id)
        thread = yield from self._thread_of(run_id, thread_id)
        yield from self._pages(
            lambda c: c.beta.threads.runs.steps.list,
            run_id,
            thread_id=thread,
            order=order,
            limit=limit,
            after=after,
            before=before,
        )

    def find(
        self,
        run_id: str,
        *,
        include_deleted: bool = False,
        order: Order = "asc",
        limit: int | None = None,
    ) -> Op[builtins.list[RunStep]]:
        """A run's archived steps in order, without an API call."""
        filters = Filters(run_id=check_id("run", run_id), include_deleted=include_deleted)
        return self._read(lambda: self._store.reader.find("run_step", filters, order=order, limit=limit))


class RunStepsRepository(Face):
    """Run steps, blocking (``db.steps``)."""

    retrieve = blocking(RunStepsOps.retrieve)
    list = paged(RunStepsOps.list, RunStep)
    find = blocking(RunStepsOps.find)
    archived = blocking(RunStepsOps.archived)
    history = blocking(RunStepsOps.history)


class AsyncRunStepsRepository(Face):
    """Run steps under asyncio (``adb.steps``)."""

    retrieve = awaitable_op(RunStepsOps.retrieve)
    list = async_paged(RunStepsOps.list, RunStep)
    find = awaitable_op(RunStepsOps.find)
    archived = awaitable_op(RunStepsOps.archived)
    history = awaitable_op(RunStepsOps.history)
