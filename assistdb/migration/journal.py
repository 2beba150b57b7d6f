"""The migration journal in the archive: which conversation each thread became, and which of its
planned items the target confirmed. Rows are only ever added (the tables are append-only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, String, bindparam, func, insert, select

from assistdb.store.archive import now_us
from assistdb.store.bulk import bulk_insert
from assistdb.store.database import Database
from assistdb.store.schema import MIGRATION_ATTEMPTS as ATTEMPTS
from assistdb.store.schema import MIGRATION_CONVERSATIONS as CONVERSATIONS
from assistdb.store.schema import MIGRATION_ITEMS as ITEMS

WRITE_EVERY = 1.0  # seconds between writes of kept-back confirmations (see Journal.confirm)


@dataclass(frozen=True)
class Progress:
    """How far a thread's migration to a target got, as the journal knows it."""

    conversation_id: str | None
    confirmed: int  # planned items confirmed, positions 0 .. confirmed - 1
    last_item_id: str | None
    attempts: int  # creates sent for this thread and target


class Journal:
    """Reads and appends journal rows. Confirmations are kept back and written together
    (:meth:`confirm`), with the next thread's :meth:`start` at the latest; every other append
    is a transaction of its own, or shares the one that reads a thread's progress.

    Not thread-safe: one migration uses it, from one thread."""

    def __init__(self, database: Database, target: str) -> None:
        self.database = database
        self.target = target
        self._pending: dict[tuple[str, int], str] = {}  # (conversation, position) -> item ID
        self._written_at = time.monotonic()
        self._writing: Future[None] | None = None  # the record ``created`` is writing

    def progress(self, thread_id: str) -> Progress:
        """The thread's progress as written (confirmations kept back are not in it)."""
        self.settle()
        with self.database.read() as connection:
            return self._progress(connection, thread_id)

    def start(self, thread_id: str) -> Progress:
        """The thread's progress; the confirmations kept back are written first, and when the
        thread has no conversation yet, a create is about to be sent and its note (see
        :meth:`attempt`) is written too: one transaction, where a thread would otherwise
        need three. ``attempts`` counts the earlier creates."""
        self.settle()
        with self.database.write(durable=False) as connection:
            self._write_pending(connection)
            progress = self._progress(connection, thread_id)
            if progress.conversation_id is None:
                self._note_attempt(connection, thread_id)
        self._written()
        return progress

    def _progress(self, connection: Connection, thread_id: str) -> Progress:
        """Read in one statement (one round trip, one moment of the journal)."""
        row = connection.execute(_PROGRESS, {"thread_id": thread_id, "target": self.target}).one()
        if row.conversation_id is None:
            return Progress(None, 0, None, int(row.attempts))
        confirmed = 0 if row.position is None else int(row.position) + 1
        return Progress(
            str(row.conversation_id),
            confirmed,
            None if row.item_id is None else str(row.item_id),
            int(row.attempts),
        )

    def attempt(self, thread_id: str) -> None:
        """Note a create about to be sent (before sending it).

        Only a note (the count tells the user a stray conversation may exist), so it does not
        wait for PostgreSQL's flush; ``created``, which keeps a rerun from making a second
        conversation, does."""
        self.settle()
        with self.database.write(durable=False) as connection:
            self._note_attempt(connection, thread_id)

    def _note_attempt(self, connection: Connection, thread_id: str) -> None:
        row = {"thread_id": thread_id, "target": self.target, "attempted_at_us": now_us()}
        connection.execute(_ATTEMPT, row)

    def created(self, thread_id: str, conversation_id: str) -> None:
        """Record the conversation a create made, durably (it keeps a rerun from making a
        second one), on a thread of its own: the caller goes on sending the conversation's next
        items while it waits for the disk. Every other write and read of the journal waits for
        it first (:meth:`settle`), and so should the caller before it leaves the thread, to hear
        of a failure. Sending before the record is on disk loses nothing: a crash before then
        leaves a stray conversation whether or not more items went into it."""
        self.settle()
        row = {
            "thread_id": thread_id,
            "target": self.target,
            "conversation_id": conversation_id,
            "created_at_us": now_us(),
        }
        self._writing = _in_background(lambda: self._write_durably(row))

    def _write_durably(self, row: dict[str, object]) -> None:
        with self.database.write() as connection:
            connection.execute(_CONVERSATION, row)

    def settle(self) -> None:
        """Wait for the record :meth:`created` is writing; raise its failure, if it failed."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def confirm(self, conversation_id: str, first_position: int, item_ids: Sequence[str]) -> None:
        """Record items confirmed at consecutive positions.

        Confirmations are kept back and written together: by the next :meth:`start`, once
        :data:`WRITE_EVERY` seconds have passed since the last write, or at :meth:`flush` (the
        migration flushes when a thread fails or is interrupted, and when it ends), without
        waiting for PostgreSQL's flush to disk. Losing some, to a kill or a crash of the
        database server, costs only a listing: the next run finds the journal behind the target
        and reconciles, as after any uncertain request. The records that prevent a second
        conversation (:meth:`created`) are written durably, before the thread ends."""
        for offset, item_id in enumerate(item_ids):
            self._pending[(conversation_id, first_position + offset)] = item_id
        if self._pending and time.monotonic() - self._written_at >= WRITE_EVERY:
            self.flush()

    def confirm_missing(self, conversation_id: str, item_ids: Sequence[str]) -> None:
        """Record ``item_ids``, a whole conversation as listed, at the positions that have no
        row yet (kept back like :meth:`confirm`; rows already written are left as they are)."""
        for position, item_id in enumerate(item_ids):
            self._pending.setdefault((conversation_id, position), item_id)

    def flush(self) -> None:
        """Write the confirmations kept back, in one transaction."""
        self.settle()
        if self._pending:
            with self.database.write(durable=False) as connection:
                self._write_pending(connection)
        self._written()

    def _write_pending(self, connection: Connection) -> None:
        """Insert the kept-back rows (forgotten by :meth:`_written` once committed)."""
        if not self._pending:
            return
        at = now_us()
        rows = [
            {"conversation_id": conversation, "position": position, "item_id": item_id, "confirmed_at_us": at}
            for (conversation, position), item_id in self._pending.items()
        ]
        bulk_insert(connection, ITEMS, rows, skip_existing=("conversation_id", "position"))

    def _written(self) -> None:
        self._pending = {}
        self._written_at = time.monotonic()


# The journal's statements, built once: building one costs more than running it (about 0.7 ms
# of SQLAlchemy's time against 0.3 ms of PostgreSQL's for the progress query), and a migration
# runs them a few times per thread.


def _progress_statement() -> Select[Any]:
    thread_id, target = bindparam("thread_id", type_=String), bindparam("target", type_=String)
    conversation = (
        select(CONVERSATIONS.c.conversation_id)
        .where(CONVERSATIONS.c.thread_id == thread_id, CONVERSATIONS.c.target == target)
        .scalar_subquery()
    )
    last = (
        select(ITEMS.c.position, ITEMS.c.item_id)
        .where(ITEMS.c.conversation_id == conversation)
        .order_by(ITEMS.c.position.desc())
        .limit(1)
        .subquery()
    )
    attempts = (
        select(func.count())
        .where(ATTEMPTS.c.thread_id == thread_id, ATTEMPTS.c.target == target)
        .scalar_subquery()
    )
    return select(
        conversation.label("conversation_id"),
        attempts.label("attempts"),
        select(last.c.position).scalar_subquery().label("position"),
        select(last.c.item_id).scalar_subquery().label("item_id"),
    )


_PROGRESS = _progress_statement()
_ATTEMPT = insert(ATTEMPTS)
_CONVERSATION = insert(CONVERSATIONS)


def _in_background(work: Callable[[], None]) -> Future[None]:
    """Run ``work`` on a new thread. Not a daemon: an interpreter that is exiting (after Ctrl-C,
    say) still finishes the write."""
    future: Future[None] = Future()

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)

    threading.Thread(target=run, name="assistdb-journal").start()
    return future
