"""Syncing one thread: what is new since the last sync, or (``full``) a complete reconcile.

A sync is a plan and a writer. The plan runs in a background thread (see ``prefetch``) and turns
API responses into batches; the writer stores each batch in one transaction together with the
cursors that say how far the sync got. Whatever stops a sync (a crash, Ctrl-C, a request that
fails after its retries), the archive holds whole batches only, and the next sync carries on
from the last checkpoint; content hashes make anything fetched twice a no-op.

An incremental sync asks for: the thread; each message and run that was unfinished at the last
sync, with the run's steps; messages after the message cursor; runs after the run cursor, with
their steps. With nothing new that is three requests, whatever the thread's size.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection

from assistdb.errors import ApiError, ApiUnreachableError, AuthenticationError, Interrupted, NotFoundError
from assistdb.facades import AssistDB
from assistdb.repositories.validation import check_id
from assistdb.store import Filters, hashing
from assistdb.store.archive import now_us
from assistdb.store.objects import UNFINISHED, ObjectType
from assistdb.store.tracking import checkpoint, release, track, untrack
from assistdb.sync.listing import Listed, list_thread, tombstone, unlisted, with_steps
from assistdb.sync.prefetch import Prefetched
from assistdb.sync.remote import Body, Page, Remote
from assistdb.sync.results import ThreadSyncResult

#: Archived objects just before a refused cursor to try as cursors, before listing from the start.
CURSOR_FALLBACKS = 3


def sync_thread(db: AssistDB, thread_id: str, *, full: bool = False) -> ThreadSyncResult:
    """Bring one thread's archive up to date, tracking it from now on if it was not tracked.

    An API failure (after retries) ends up in the result's ``error``; a thread that never
    existed raises :class:`NotFoundError`; one that was deleted remotely is tombstoned.
    """
    sync = ThreadSync(db, check_id("thread", thread_id), full=full)
    result = sync.run()
    if sync.missing:
        raise NotFoundError(f"thread {thread_id} does not exist", hint="check the ID")
    return result


@dataclass(frozen=True)
class Lease:
    """The lease a worker of ``sync_threads`` holds on the thread; renewed at each checkpoint."""

    owner: str
    seconds: float


@dataclass
class _Batch:
    """What to store in one transaction: objects, objects that answered 404, and new cursors."""

    bodies: list[Body] = field(default_factory=list)
    cursors: dict[str, str] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)
    thread_gone: bool = False
    listed: Listed | None = None


@dataclass(frozen=True)
class _Start:
    """What the archive knew when the sync began."""

    tracked: bool
    message_cursor: str | None
    run_cursor: str | None
    unfinished_messages: list[str]
    unfinished_runs: list[str]


class ThreadSync:
    """One sync of one thread (``sync_threads`` runs several at once, each under a lease)."""

    def __init__(
        self,
        db: AssistDB,
        thread_id: str,
        *,
        full: bool = False,
        lease: Lease | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.db = db
        self.store = db.store
        self.thread_id = thread_id
        self.full = full
        self.lease = lease
        self.stop = stop
        self.result = ThreadSyncResult(thread_id, full=full)
        self.missing = False  # the API does not know the thread, and neither does the archive
        self.tracked = False

    def run(self) -> ThreadSyncResult:
        finished = False
        try:
            remote = Remote(self.db.client)
            try:
                self._sync(remote)
            finally:
                remote.close()
                self.result.requests, self.result.pages = remote.requests, remote.pages
            finished = True
        except (ApiError, NotFoundError) as exc:
            if isinstance(exc, AuthenticationError | ApiUnreachableError):
                raise  # no other thread would fare better: stop the whole sync now
            self.result.error = str(exc)
        finally:
            if not finished:
                self._release_quietly()
        if finished and self.missing:
            self.result.error = f"thread {self.thread_id} does not exist"
        if finished and not self.missing:
            self._finish()
        return self.result

    def _sync(self, remote: Remote) -> None:
        start = self._start()
        self.tracked = start.tracked
        with Prefetched(self._plan(remote, start), name=f"assistdb-sync-{self.thread_id}") as batches:
            for batch in batches:
                self._write(batch)
                if self.stop is not None and self.stop.is_set():
                    raise Interrupted("sync interrupted", hint="run it again; it resumes where it stopped")

    # what the archive knows ------------------------------------------------------------------

    def _start(self) -> _Start:
        cursor = self.store.tracking.cursor(self.thread_id)
        unfinished = self.store.reader.with_status(self.thread_id, UNFINISHED)
        # A run is fetched again, with all its steps, when it or one of its steps was unfinished.
        runs = dict.fromkeys(run_id for kind, _, run_id in unfinished if kind != "message" and run_id)
        return _Start(
            tracked=cursor is not None,
            message_cursor=cursor.message_cursor if cursor else None,
            run_cursor=cursor.run_cursor if cursor else None,
            unfinished_messages=[object_id for kind, object_id, _ in unfinished if kind == "message"],
            unfinished_runs=list(runs),
        )

    # the plan: runs in the prefetch thread and only reads --------------------------------------

    def _plan(self, remote: Remote, start: _Start) -> Iterator[_Batch]:
        try:
            if self.full:
                yield from self._reconcile(remote, start)
            else:
                yield from self._incremental(remote, start)
        except NotFoundError:
            # A list answering 404 mid-sync: the thread was most likely deleted meanwhile.
            if remote.thread(self.thread_id) is not None:
                raise
            yield _Batch(thread_gone=True)

    def _incremental(self, remote: Remote, start: _Start) -> Iterator[_Batch]:
        # The first page of each listing is on its way while the thread is fetched: a sync that
        # finds nothing new waits for one round trip, not three. Writes keep their order.
        message_pages = self._after_cursor(remote, "message", start.message_cursor)
        run_pages = self._after_cursor(remote, "run", start.run_cursor)
        thread = remote.thread(self.thread_id)
        if thread is None:
            yield _Batch(thread_gone=True)
            return
        first = _Batch(bodies=[thread])
        for message_id in start.unfinished_messages:
            message = remote.message(self.thread_id, message_id)
            if message is None:
                first.gone.append(message_id)
            else:
                first.bodies.append(message)
        runs: Page = []
        for run_id in start.unfinished_runs:
            run = remote.run(self.thread_id, run_id)
            if run is None:
                first.gone.append(run_id)
            else:
                runs.append(run)
        first.bodies.extend(with_steps(remote, self.thread_id, runs))
        yield first
        for page in message_pages:
            yield _Batch(page, {"message_cursor": page[-1]["id"]})
        for page in run_pages:
            yield _Batch(with_steps(remote, self.thread_id, page), {"run_cursor": page[-1]["id"]})

    def _reconcile(self, remote: Remote, start: _Start) -> Iterator[_Batch]:
        listed = Listed(started_us=now_us())
        thread = remote.thread(self.thread_id)
        if thread is None:
            yield _Batch(thread_gone=True)
            return
        yield _Batch([thread])
        cursors = {"message": start.message_cursor, "run": start.run_cursor}
        passed = {kind: cursor is None for kind, cursor in cursors.items()}
        ends: dict[str, str] = {}
        for page in list_thread(remote, self.thread_id, listed):
            # A cursor moves only once the listing has passed it, so that an interrupted reconcile
            # never sends the next incremental sync back over what it had already seen.
            kind, name = page.object_type, f"{page.object_type}_cursor"
            passed[kind] = passed[kind] or cursors[kind] in page.ids
            ends[name] = page.ids[-1]
            yield _Batch(page.bodies, {name: page.ids[-1]} if passed[kind] else {})
        yield _Batch(cursors=ends, listed=listed)

    def _after_cursor(self, remote: Remote, object_type: ObjectType, cursor: str | None) -> Iterator[Page]:
        """Pages after the cursor, the first one requested at once. If the API refuses the cursor
        (its object was deleted remotely and the API no longer knows where it stood), try the
        archived objects just before it, then the start: that re-lists some objects, which costs
        requests but stores nothing twice."""
        pages = remote.messages if object_type == "message" else remote.runs
        return self._with_fallbacks(
            pages, remote.ahead(pages(self.thread_id, after=cursor)), object_type, cursor
        )

    def _with_fallbacks(
        self,
        pages: Callable[..., Iterator[Page]],
        started: Iterator[Page],
        object_type: ObjectType,
        cursor: str | None,
    ) -> Iterator[Page]:
        for after in self._cursor_candidates(object_type, cursor):
            yielded = False
            try:
                for page in started if after == cursor else pages(self.thread_id, after=after):
                    yielded = True
                    yield page
                return
            except (ApiError, NotFoundError) as exc:
                refused = isinstance(exc, NotFoundError) or exc.status_code == 400
                if yielded or after is None or not refused:
                    raise

    def _cursor_candidates(self, object_type: ObjectType, cursor: str | None) -> Iterator[str | None]:
        if cursor is not None:
            yield cursor
            earlier = self.store.reader.find(
                object_type,
                Filters(thread_id=self.thread_id),
                order="desc",
                after=cursor,
                limit=CURSOR_FALLBACKS,
            )
            for stored in earlier:
                if stored.object_id != cursor:
                    yield stored.object_id
        yield None

    # the writer: runs in the calling thread ----------------------------------------------------

    def _write(self, batch: _Batch) -> None:
        if batch.thread_gone:
            self._thread_gone()
            return
        if batch.listed is not None:
            self._tombstone_unlisted(batch.listed)
        must_write = bool(batch.cursors or batch.gone) or not self.tracked
        if not must_write:
            if not batch.bodies:
                return
            if not self._any_changed(batch.bodies):
                self.result.unchanged += len(batch.bodies)
                return
        with self.store.writing() as writer:
            self.result.add_versions(writer.record(batch.bodies))
            if batch.gone:
                self.result.tombstones += len(writer.record_deleted(batch.gone).stored)
            self._checkpoint(writer.connection, **batch.cursors)

    def _any_changed(self, bodies: list[Body]) -> bool:
        """Whether storing these would add a version: checked with a read, so that a sync that
        finds nothing new never queues for the write lock."""
        heads = self.store.reader.head_hashes(str(body["id"]) for body in bodies)
        for body in bodies:
            head = heads.get(str(body["id"]))
            if head != (hashing.content_hash(hashing.canonical_json(body)), False):
                return True
        return False

    def _checkpoint(self, connection: Connection, **columns: str | bool | int | None) -> None:
        if not self.tracked:
            track(connection, [self.thread_id])
            self.tracked = True
        if self.lease is not None:
            columns["lease_until_us"] = now_us() + int(self.lease.seconds * 1_000_000)
        if columns:
            checkpoint(connection, self.thread_id, **columns)

    def _thread_gone(self) -> None:
        if not self.store.reader.current(self.thread_id, include_deleted=True):
            # Never archived: not a deleted thread but a wrong ID, which must not stay tracked
            # (``sync_threads`` tracks the threads it is given before syncing them).
            self.missing = True
            if self.tracked:
                with self.store.database.write() as connection:
                    untrack(connection, self.thread_id)
            return
        with self.store.writing() as writer:
            self.result.tombstones += len(writer.record_deleted([self.thread_id]).stored)
            if self.tracked:
                checkpoint(writer.connection, self.thread_id, gone=True)
        self.result.gone = True

    def _tombstone_unlisted(self, listed: Listed) -> None:
        thread = Filters(thread_id=self.thread_id)
        for object_type, seen in listed.kinds():
            gone = unlisted(self.store, object_type, thread, seen, since_us=listed.started_us)
            self.result.tombstones += tombstone(self.store, gone)

    def _finish(self) -> None:
        """The last checkpoint: the sync is complete, and the lease goes back."""
        with self.store.writing() as writer:
            if not self.result.gone:
                self._checkpoint(writer.connection, last_synced_at_us=now_us())
            if self.lease is not None:
                release(writer.connection, self.thread_id, self.lease.owner)

    def _release_quietly(self) -> None:
        if self.lease is None:
            return
        try:
            with self.store.database.write() as connection:
                release(connection, self.thread_id, self.lease.owner)
        except Exception:  # the lease expires by itself; the original error matters more
            pass
