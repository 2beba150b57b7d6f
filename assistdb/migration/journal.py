"""The migration journal in the archive: which conversation each thread became, and which of its
planned items the target confirmed. Rows are only ever added (the tables are append-only)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Insert, func, insert, select

from assistdb.store.archive import now_us
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


@dataclass
class _Pending:
    """Confirmations not written yet: consecutive positions of one conversation."""

    conversation_id: str
    first_position: int
    item_ids: list[str]


class Journal:
    """Reads and appends journal rows. Confirmations are kept back and written together
    (:meth:`confirm`); every other append is a transaction of its own, or shares the one that
    reads a thread's progress (:meth:`start`)."""

    def __init__(self, database: Database, target: str) -> None:
        self.database = database
        self.target = target
        self._pending: _Pending | None = None
        self._written_at = time.monotonic()

    def progress(self, thread_id: str) -> Progress:
        with self.database.read() as connection:
            return self._progress(connection, thread_id)

    def start(self, thread_id: str) -> Progress:
        """The thread's progress; when it has no conversation yet, a create is about to be
        sent, and its note (see :meth:`attempt`) is written in the same transaction, which
        saves a new thread one round trip. ``attempts`` counts the earlier ones."""
        with self.database.write(durable=False) as connection:
            progress = self._progress(connection, thread_id)
            if progress.conversation_id is None:
                connection.execute(self._attempt_row(thread_id))
            return progress

    def _progress(self, connection: Connection, thread_id: str) -> Progress:
        """Read in one statement (one round trip, one moment of the journal)."""
        conversation = (
            select(CONVERSATIONS.c.conversation_id)
            .where(CONVERSATIONS.c.thread_id == thread_id, CONVERSATIONS.c.target == self.target)
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
            .where(ATTEMPTS.c.thread_id == thread_id, ATTEMPTS.c.target == self.target)
            .scalar_subquery()
        )
        statement = select(
            conversation.label("conversation_id"),
            attempts.label("attempts"),
            select(last.c.position).scalar_subquery().label("position"),
            select(last.c.item_id).scalar_subquery().label("item_id"),
        )
        row = connection.execute(statement).one()
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
        with self.database.write(durable=False) as connection:
            connection.execute(self._attempt_row(thread_id))

    def _attempt_row(self, thread_id: str) -> Insert:
        return insert(ATTEMPTS).values(thread_id=thread_id, target=self.target, attempted_at_us=now_us())

    def created(self, thread_id: str, conversation_id: str) -> None:
        with self.database.write() as connection:
            connection.execute(
                insert(CONVERSATIONS).values(
                    thread_id=thread_id,
                    target=self.target,
                    conversation_id=conversation_id,
                    created_at_us=now_us(),
                )
            )

    def confirm(self, conversation_id: str, first_position: int, item_ids: Sequence[str]) -> None:
        """Record items confirmed at consecutive positions.

        Confirmations are kept back and written together, once :data:`WRITE_EVERY` seconds have
        passed since the last write or at :meth:`flush` (the migration flushes before it lists a
        conversation and when it leaves a thread), without waiting for PostgreSQL's flush to disk
        (``durable=False``). Losing some, to a kill or a crash of the database server, costs
        only a listing: the next run finds the journal behind the target and reconciles, as
        after any uncertain request. The records that prevent a second conversation
        (``created``) are written at once and durably."""
        if not item_ids:
            return
        pending = self._pending
        if pending is not None and (
            pending.conversation_id != conversation_id
            or pending.first_position + len(pending.item_ids) != first_position
        ):
            self.flush()
            pending = None
        if pending is None:
            self._pending = _Pending(conversation_id, first_position, list(item_ids))
        else:
            pending.item_ids.extend(item_ids)
        if time.monotonic() - self._written_at >= WRITE_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write the confirmations kept back, in one transaction."""
        pending, self._pending = self._pending, None
        self._written_at = time.monotonic()
        if pending is None:
            return
        at = now_us()
        with self.database.write(durable=False) as connection:
            connection.execute(
                insert(ITEMS),
                [
                    {
                        "conversation_id": pending.conversation_id,
                        "position": pending.first_position + offset,
                        "item_id": item_id,
                        "confirmed_at_us": at,
                    }
                    for offset, item_id in enumerate(pending.item_ids)
                ],
            )

    def confirm_missing(self, conversation_id: str, item_ids: Sequence[str]) -> None:
        """Record the positions of ``item_ids`` (a whole conversation) that have no row yet."""
        with self.database.read() as connection:
            known = set(
                connection.execute(
                    select(ITEMS.c.position).where(ITEMS.c.conversation_id == conversation_id)
                ).scalars()
            )
        at = now_us()
        rows = [
            {
                "conversation_id": conversation_id,
                "position": position,
                "item_id": item_id,
                "confirmed_at_us": at,
            }
            for position, item_id in enumerate(item_ids)
            if position not in known
        ]
        if rows:
            with self.database.write() as connection:
                connection.execute(insert(ITEMS), rows)
