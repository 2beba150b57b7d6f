"""Which threads the archive keeps in sync, where each sync left off, and who is syncing it now."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, or_, select, update

from assistdb.store.archive import now_us
from assistdb.store.database import Database, upsert_insert
from assistdb.store.schema import TRACKED as TRACKED


@dataclass(frozen=True)
class SyncCursor:
    thread_id: str
    message_cursor: str | None
    run_cursor: str | None
    last_synced_at_us: int | None
    gone: bool


def track(connection: Connection, thread_ids: Iterable[str]) -> None:
    """Start keeping these threads in sync (a no-op for threads already tracked)."""
    rows = [{"thread_id": thread_id, "tracked_at_us": now_us(), "gone": False} for thread_id in thread_ids]
    if not rows:
        return
    insert = upsert_insert(connection)
    connection.execute(insert(TRACKED).on_conflict_do_nothing(index_elements=["thread_id"]), rows)


def untrack(connection: Connection, thread_id: str) -> None:
    """Stop keeping a thread in sync; what the archive holds of it stays."""
    connection.execute(delete(TRACKED).where(TRACKED.c.thread_id == thread_id))


def checkpoint(connection: Connection, thread_id: str, **cursors: str | bool | int | None) -> None:
    """Move a thread's sync cursors forward, inside the transaction that stored the page."""
    connection.execute(update(TRACKED).where(TRACKED.c.thread_id == thread_id).values(**cursors))


def release(connection: Connection, thread_id: str, owner: str) -> None:
    """Give up a lease held by ``owner`` (a no-op if the lease passed to someone else)."""
    connection.execute(
        update(TRACKED)
        .where(TRACKED.c.thread_id == thread_id, TRACKED.c.lease_owner == owner)
        .values(lease_owner=None, lease_until_us=None)
    )


class Tracking:
    def __init__(self, database: Database) -> None:
        self.database = database

    def track(self, thread_ids: Iterable[str]) -> None:
        with self.database.write() as connection:
            track(connection, thread_ids)

    def cursor(self, thread_id: str) -> SyncCursor | None:
        with self.database.read() as connection:
            row = connection.execute(select(TRACKED).where(TRACKED.c.thread_id == thread_id)).first()
        if row is None:
            return None
        return SyncCursor(row.thread_id, row.message_cursor, row.run_cursor, row.last_synced_at_us, row.gone)

    def thread_ids(self, *, include_gone: bool = False) -> list[str]:
        statement = select(TRACKED.c.thread_id).order_by(TRACKED.c.tracked_at_us, TRACKED.c.thread_id)
        if not include_gone:
            statement = statement.where(TRACKED.c.gone.is_(False))
        with self.database.read() as connection:
            return list(connection.execute(statement).scalars())

    def claim(self, thread_id: str, owner: str, lease_seconds: float) -> bool:
        """Lease a thread for syncing; False if another live worker holds it."""
        now = now_us()
        with self.database.write() as connection:
            result = connection.execute(
                update(TRACKED)
                .where(
                    TRACKED.c.thread_id == thread_id,
                    or_(
                        TRACKED.c.lease_until_us.is_(None),
                        TRACKED.c.lease_until_us < now,
                        TRACKED.c.lease_owner == owner,
                    ),
                )
                .values(lease_owner=owner, lease_until_us=now + int(lease_seconds * 1_000_000))
            )
            return bool(result.rowcount)

    def claim_next(
        self,
        owner: str,
        lease_seconds: float,
        *,
        synced_before_us: int,
        among: Collection[str] | None = None,
        exclude: Collection[str] = (),
        void_owners: Collection[str] = (),
    ) -> str | None:
        """Lease the least recently synced thread that nobody holds and that was not synced since
        ``synced_before_us``; None when there is none left. Leases of ``void_owners`` (processes
        known to be dead) count as free.

        On PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets concurrent claimers pass over each other's
        candidates instead of queueing behind them; on SQLite the write transaction serialises them.
        """
        now = now_us()
        statement = (
            select(TRACKED.c.thread_id)
            .where(
                TRACKED.c.gone.is_(False),
                or_(
                    TRACKED.c.lease_until_us.is_(None),
                    TRACKED.c.lease_until_us < now,
                    TRACKED.c.lease_owner.in_(list(void_owners)),
                ),
                or_(TRACKED.c.last_synced_at_us.is_(None), TRACKED.c.last_synced_at_us < synced_before_us),
            )
            .order_by(TRACKED.c.last_synced_at_us.asc().nulls_first(), TRACKED.c.thread_id)
            .limit(1)
        )
        if among is not None:
            statement = statement.where(TRACKED.c.thread_id.in_(list(among)))
        if exclude:
            statement = statement.where(TRACKED.c.thread_id.not_in(list(exclude)))
        if self.database.dialect == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        with self.database.write() as connection:
            thread_id: str | None = connection.execute(statement).scalar()
            if thread_id is not None:
                connection.execute(
                    update(TRACKED)
                    .where(TRACKED.c.thread_id == thread_id)
                    .values(lease_owner=owner, lease_until_us=now + int(lease_seconds * 1_000_000))
                )
            return thread_id

    def lease_owners(self) -> set[str]:
        """Who holds a lease that has not run out."""
        statement = select(TRACKED.c.lease_owner).where(TRACKED.c.lease_until_us >= now_us()).distinct()
        with self.database.read() as connection:
            return {str(owner) for owner in connection.execute(statement).scalars() if owner is not None}

    def release(self, thread_id: str, owner: str) -> None:
        with self.database.write() as connection:
            release(connection, thread_id, owner)
