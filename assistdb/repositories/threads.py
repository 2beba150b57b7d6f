"""Threads: created, adopted (``track``) and deleted through the API; listed and searched locally,
which the API itself cannot do."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from openai.types.beta import Thread, ThreadDeleted
from openai.types.beta.threads import Run

from assistdb.repositories import api
from assistdb.repositories.base import PAGE_SIZE, Repository
from assistdb.repositories.validation import check_id, check_metadata
from assistdb.store import Filters
from assistdb.store.queries import Order
from assistdb.store.tracking import checkpoint


class ThreadsRepository(Repository[Thread]):
    object_type = "thread"
    model = Thread

    def create(self, **params: Any) -> Thread:
        """Create a thread (optionally with ``messages``) and start tracking it."""
        check_metadata(params.get("metadata"))
        for message in params.get("messages") or ():
            check_metadata(message.get("metadata"))
        thread = api.call(self._client.beta.threads.create, **params)
        created: list[Any] = [thread]
        if params.get("messages"):
            page = api.call(self._client.beta.threads.messages.list, thread.id, order="asc", limit=PAGE_SIZE)
            created.extend(page.data)
        self._record(*created, track=(thread.id,))
        return thread

    def create_and_run(self, *, assistant_id: str, **params: Any) -> Run:
        """Create a thread and a run on it in one request; both are archived and the thread tracked."""
        check_id("assistant", assistant_id)
        run = api.call(self._client.beta.threads.create_and_run, assistant_id=assistant_id, **params)
        thread = api.call(self._client.beta.threads.retrieve, run.thread_id)
        self._record(thread, run, track=(thread.id,))
        return run

    def retrieve(self, thread_id: str) -> Thread:
        thread = api.call(self._client.beta.threads.retrieve, check_id("thread", thread_id))
        self._record(thread)
        return thread

    def update(self, thread_id: str, **params: Any) -> Thread:
        check_metadata(params.get("metadata"))
        thread = api.call(self._client.beta.threads.update, check_id("thread", thread_id), **params)
        self._record(thread)
        return thread

    def delete(self, thread_id: str) -> ThreadDeleted:
        """Delete remotely; locally the thread and all it held get tombstones, and history stays."""
        deleted = api.call(self._client.beta.threads.delete, check_id("thread", thread_id))
        with self._store.writing() as writer:
            writer.record_deleted([thread_id])
            checkpoint(writer.connection, thread_id, gone=True)
        return deleted

    def track(self, thread_id: str) -> Thread:
        """Adopt a thread created elsewhere: archive it now and keep it in sync from now on."""
        thread = api.call(self._client.beta.threads.retrieve, check_id("thread", thread_id))
        self._record(thread, track=(thread.id,))
        return thread

    def find(
        self,
        *,
        metadata: Mapping[str, str] | None = None,
        assistant_id: str | None = None,
        created_after: datetime | int | None = None,
        created_before: datetime | int | None = None,
        include_deleted: bool = False,
        order: Order = "asc",
        limit: int | None = None,
    ) -> list[Thread]:
        """Archived threads: all of them, or those with these metadata pairs, run by this
        assistant, or created in ``[created_after, created_before)``."""
        filters = Filters(
            metadata=metadata,
            assistant_id=check_id("assistant", assistant_id) if assistant_id else None,
            created_after=_unix(created_after),
            created_before=_unix(created_before),
            include_deleted=include_deleted,
        )
        found = self._store.reader.find("thread", filters, order=order, limit=limit)
        return self._found(found)


def _unix(moment: datetime | int | None) -> int | None:
    if moment is None or isinstance(moment, int):
        return moment
    return int(moment.timestamp())
