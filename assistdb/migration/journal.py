"""The migration journal in the archive: which conversation each thread became, and which of its
planned items the target confirmed. Rows are only ever added (the tables are append-only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select

from assistdb.store.archive import now_us
from assistdb.store.database import Database
from assistdb.store.schema import MIGRATION_ATTEMPTS as ATTEMPTS
from assistdb.store.schema import MIGRATION_CONVERSATIONS as CONVERSATIONS
from assistdb.store.schema import MIGRATION_ITEMS as ITEMS


@dataclass(frozen=True)
class Progress:
    """How far a thread's migration to a target got, as the journal knows it."""

    conversation_id: str | None
    confirmed: int  # planned items confirmed, positions 0 .. confirmed - 1
    last_item_id: str | None
    attempts: int  # creates sent for this thread and target


class Journal:
    """Reads and appends journal rows, each append in its own transaction."""

    def __init__(self, database: Database, target: str) -> None:
        self.database = database
        self.target = target

    def progress(self, thread_id: str) -> Progress:
        with self.database.read() as connection:
            conversation_id = connection.execute(
                select(CONVERSATIONS.c.conversation_id).where(
                    CONVERSATIONS.c.thread_id == thread_id, CONVERSATIONS.c.target == self.target
                )
            ).scalar()
            attempts = connection.execute(
                select(func.count()).where(
                    ATTEMPTS.c.thread_id == thread_id, ATTEMPTS.c.target == self.target
                )
            ).scalar_one()
            if conversation_id is None:
                return Progress(None, 0, None, int(attempts))
            last = connection.execute(
                select(ITEMS.c.position, ITEMS.c.item_id)
                .where(ITEMS.c.conversation_id == conversation_id)
                .order_by(ITEMS.c.position.desc())
                .limit(1)
            ).first()
        confirmed = 0 if last is None else int(last.position) + 1
        return Progress(
            str(conversation_id), confirmed, None if last is None else str(last.item_id), int(attempts)
        )

    def attempt(self, thread_id: str) -> None:
        """Note a create about to be sent (before sending it)."""
        with self.database.write() as connection:
            connection.execute(
                insert(ATTEMPTS).values(thread_id=thread_id, target=self.target, attempted_at_us=now_us())
            )

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
        """Record items confirmed at consecutive positions, all in one transaction.

        Not flushed to disk before the next batch goes out (``durable=False``): if a crash of
        the database server loses some confirmations, the next run finds its journal behind the
        target and reconciles by listing, as after any uncertain request. The records that
        prevent a second conversation (``attempt``, ``created``) stay durable."""
        if not item_ids:
            return
        at = now_us()
        with self.database.write(durable=False) as connection:
            connection.execute(
                insert(ITEMS),
                [
                    {
                        "conversation_id": conversation_id,
                        "position": first_position + offset,
                        "item_id": item_id,
                        "confirmed_at_us": at,
                    }
                    for offset, item_id in enumerate(item_ids)
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
