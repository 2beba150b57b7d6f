"""Threads: created, adopted (``track``) and deleted through the API; listed and searched locally,
which the API itself cannot do."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from openai.types.beta import Thread, ThreadDeleted
from openai.types.beta.threads import Run
from typing_extensions import Unpack

from assistdb.repositories.base import PAGE_SIZE, Face, Op, RepositoryOps, awaitable_op, blocking
from assistdb.repositories.faces import Api, StoreWork
from assistdb.repositories.validation import check_id, check_metadata
from assistdb.store import Filters
from assistdb.store.queries import Order
from assistdb.store.tracking import checkpoint

if TYPE_CHECKING:
    from openai.types.beta.thread_create_and_run_params import ThreadCreateAndRunParamsNonStreaming
    from openai.types.beta.thread_create_params import ThreadCreateParams
    from openai.types.beta.thread_update_params import ThreadUpdateParams


class ThreadsOps(RepositoryOps[Thread]):
    object_type = "thread"
    model = Thread

    def create(self, **params: Unpack[ThreadCreateParams]) -> Op[Thread]:
        """Create a thread (optionally with ``messages``) and start tracking it."""
        check_metadata(params.get("metadata"))
        for message in params.get("messages") or ():
            check_metadata(message.get("metadata"))
        thread: Thread = yield Api(lambda c: c.beta.threads.create, (), dict(params))
        created: builtins.list[Any] = [thread]
        if params.get("messages"):
            page = yield Api(
                lambda c: c.beta.threads.messages.list, (thread.id,), {"order": "asc", "limit": PAGE_SIZE}
            )
            created.extend(page.data)
        yield from self._record(*created, track=(thread.id,))
        return thread

    def create_and_run(self, **params: Unpack[ThreadCreateAndRunParamsNonStreaming]) -> Op[Run]:
        """Create a thread and a run on it in one request; both are archived and the thread tracked."""
        check_id("assistant", params.get("assistant_id"))
        run: Run = yield Api(lambda c: c.beta.threads.create_and_run, (), dict(params))
        thread: Thread = yield Api(lambda c: c.beta.threads.retrieve, (run.thread_id,))
        yield from self._record(thread, run, track=(thread.id,))
        return run

    def retrieve(self, thread_id: str) -> Op[Thread]:
        check_id("thread", thread_id)
        thread: Thread = yield from self._call(lambda c: c.beta.threads.retrieve, thread_id)
        return thread

    def update(self, thread_id: str, **params: Unpack[ThreadUpdateParams]) -> Op[Thread]:
        check_id("thread", thread_id)
        check_metadata(params.get("metadata"))
        thread: Thread = yield from self._call(lambda c: c.beta.threads.update, thread_id, **params)
        return thread

    def delete(self, thread_id: str) -> Op[ThreadDeleted]:
        """Delete remotely; locally the thread and all it held get tombstones, and history stays."""
        check_id("thread", thread_id)
        deleted: ThreadDeleted = yield Api(lambda c: c.beta.threads.delete, (thread_id,))

        def forget() -> None:
            with self._store.writing() as writer:
                writer.record_deleted([thread_id])
                checkpoint(writer.connection, thread_id, gone=True)

        yield StoreWork(forget)
        return deleted

    def track(self, thread_id: str) -> Op[Thread]:
        """Adopt a thread created elsewhere: archive it now and keep it in sync from now on."""
        check_id("thread", thread_id)
        thread: Thread = yield Api(lambda c: c.beta.threads.retrieve, (thread_id,))
        yield from self._record(thread, track=(thread.id,))
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
    ) -> Op[builtins.list[Thread]]:
        """Archived threads: all of them, or those with these metadata pairs, run by this
        assistant, or created in ``[created_after, created_before)``."""
        filters = Filters(
            metadata=metadata,
            assistant_id=check_id("assistant", assistant_id) if assistant_id else None,
            created_after=_unix(created_after),
            created_before=_unix(created_before),
            include_deleted=include_deleted,
        )
        return self._read(lambda: self._store.reader.find("thread", filters, order=order, limit=limit))


def _unix(moment: datetime | int | None) -> int | None:
    if moment is None or isinstance(moment, int):
        return moment
    return int(moment.timestamp())


class ThreadsRepository(Face):
    """Threads, blocking (``db.threads``)."""

    create = blocking(ThreadsOps.create)
    create_and_run = blocking(ThreadsOps.create_and_run)
    retrieve = blocking(ThreadsOps.retrieve)
    update = blocking(ThreadsOps.update)
    delete = blocking(ThreadsOps.delete)
    track = blocking(ThreadsOps.track)
    find = blocking(ThreadsOps.find)
    archived = blocking(ThreadsOps.archived)
    history = blocking(ThreadsOps.history)


class AsyncThreadsRepository(Face):
    """Threads under asyncio (``adb.threads``)."""

    create = awaitable_op(ThreadsOps.create)
    create_and_run = awaitable_op(ThreadsOps.create_and_run)
    retrieve = awaitable_op(ThreadsOps.retrieve)
    update = awaitable_op(ThreadsOps.update)
    delete = awaitable_op(ThreadsOps.delete)
    track = awaitable_op(ThreadsOps.track)
    find = awaitable_op(ThreadsOps.find)
    archived = awaitable_op(ThreadsOps.archived)
    history = awaitable_op(ThreadsOps.history)
