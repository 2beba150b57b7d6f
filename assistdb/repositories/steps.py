"""Run steps: what a run did (messages it wrote, tools it called), archived in the thread's chain."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any

from openai.types.beta.threads.runs import RunStep

from assistdb.repositories import api
from assistdb.repositories.base import Repository
from assistdb.repositories.validation import check_id
from assistdb.store import Filters
from assistdb.store.queries import Order


class RunStepsRepository(Repository[RunStep]):
    object_type = "run_step"
    model = RunStep

    def retrieve(self, step_id: str, *, run_id: str, thread_id: str | None = None, **params: Any) -> RunStep:
        check_id("run_step", step_id)
        step = api.call(
            self._client.beta.threads.runs.steps.retrieve,
            step_id,
            run_id=check_id("run", run_id),
            thread_id=self._thread_of(run_id, thread_id),
            **params,
        )
        self._record(step)
        return step

    def list(
        self,
        run_id: str,
        *,
        thread_id: str | None = None,
        order: str = "asc",
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Iterator[RunStep]:
        """All steps of a run from the cursor on, lazily, each page archived as it arrives."""
        check_id("run", run_id)
        return self._pages(
            self._client.beta.threads.runs.steps.list,
            run_id,
            thread_id=self._thread_of(run_id, thread_id),
            order=order,
            limit=limit,
            after=after,
            before=before,
        )

    def find(
        self, run_id: str, *, order: Order = "asc", include_deleted: bool = False
    ) -> builtins.list[RunStep]:
        """A run's archived steps in order, without an API call."""
        found = self._store.reader.find(
            "run_step", Filters(run_id=check_id("run", run_id), include_deleted=include_deleted), order=order
        )
        return self._found(found)
