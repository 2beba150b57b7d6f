"""Writing to the archive: append a version when an object changed, never touch a written row.

All writes of one call happen in one transaction (a page of 100 messages is one bulk insert).
Appending to a chain first locks that chain's tip, so concurrent writers, in one process or many,
take turns per chain and never store the same version twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from assistdb.errors import InvalidInputError
from assistdb.store import hashing
from assistdb.store.bulk import bulk_insert
from assistdb.store.database import upsert_insert
from assistdb.store.objects import UNFINISHED, Indexed, ObjectType, index_of, tombstone_body

# Re-exported: the rest of assistdb reaches the tables through the module that writes them.
from assistdb.store.schema import CHAINS as CHAINS
from assistdb.store.schema import HEAD_METADATA as HEAD_METADATA
from assistdb.store.schema import HEADS as HEADS
from assistdb.store.schema import VERSIONS as VERSIONS

# Objects in the order they were created remotely, ties broken by the order the archive saw them.
ARRIVAL_ORDER = (
    func.coalesce(HEADS.c.created_at, 0),
    HEADS.c.first_observed_at_us,
    HEADS.c.first_seq,
    HEADS.c.object_id,
)


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class RecordResult:
    """What one write stored: new versions by object ID, and how many objects added nothing
    (unchanged, or an observation older than the archived final state)."""

    stored: list[str] = field(default_factory=list)
    unchanged: int = 0

    def __iadd__(self, other: RecordResult) -> RecordResult:
        self.stored.extend(other.stored)
        self.unchanged += other.unchanged
        return self


@dataclass
class _Pending:
    """One object to append: its index columns, canonical body, and whether it is a tombstone."""

    index: Indexed
    body: str
    content_hash: str
    tombstone: bool


@dataclass
class _HeadState:
    version: int
    content_hash: str
    tombstone: bool
    status: str | None
    first_observed_at_us: int
    first_seq: int

    def outdates(self, item: _Pending) -> bool:
        """Whether ``item`` is already known to be out of date: a message, run or step in a final
        status cannot go back to an unfinished one, so such an observation was made before the
        archived one and arrived after it (two processes watching one run). A vector store can:
        adding files takes it from ``completed`` back to ``in_progress``."""
        status = self.status
        return (
            item.index.thread_id is not None
            and not self.tombstone
            and not item.tombstone
            and status is not None
            and status not in UNFINISHED
            and item.index.status in UNFINISHED
        )


def index_rows(
    index: Indexed,
    *,
    version: int,
    content_hash: str,
    tombstone: bool,
    first_observed_at_us: int,
    first_seq: int,
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The index rows of an object's latest version: its ``heads`` row and its ``head_metadata``
    rows (none for a tombstone). ``index`` is that of the latest version that was not a tombstone."""
    head = {
        "object_id": index.object_id,
        "object_type": index.object_type,
        "chain_id": index.chain_id,
        "version": version,
        "content_hash": content_hash,
        "tombstone": tombstone,
        "thread_id": index.thread_id,
        "run_id": index.run_id,
        "assistant_id": index.assistant_id,
        "status": index.status,
        "created_at": index.created_at,
        "first_observed_at_us": first_observed_at_us,
        "first_seq": first_seq,
    }
    pairs = (
        []
        if tombstone
        else [{"object_id": index.object_id, "key": k, "value": v} for k, v in index.metadata.items()]
    )
    return head, pairs


class ArchiveWriter:
    """Appends versions within one open write transaction, sealing each row with ``sealer``."""

    def __init__(self, connection: Connection, sealer: hashing.Sealer | None = None) -> None:
        self.connection = connection
        self.sealer = sealer or hashing.PLAIN_SEALER

    def record(self, bodies: Iterable[Mapping[str, Any]]) -> RecordResult:
        """Store each API object whose content differs from its latest archived version."""
        pending = []
        for body in bodies:
            canonical = hashing.canonical_json(body)
            pending.append(_Pending(index_of(body), canonical, hashing.content_hash(canonical), False))
        return self._append(pending)

    def record_deleted(self, object_ids: Sequence[str], *, cascade: bool = True) -> RecordResult:
        """Store a tombstone for each object that is gone remotely, and with ``cascade``, for
        everything inside a deleted thread or run, and the files of a deleted vector store."""
        ids = list(dict.fromkeys(object_ids))
        if cascade:
            ids.extend(self._children_of(ids))
        rows = (
            self.connection.execute(
                select(HEADS).where(HEADS.c.object_id.in_(ids), HEADS.c.tombstone.is_(False))
            )
            .mappings()
            .all()
        )
        pending = []
        for row in rows:
            object_type: ObjectType = row["object_type"]
            canonical = hashing.canonical_json(tombstone_body(object_type, row["object_id"]))
            index = Indexed(
                object_type=object_type,
                object_id=row["object_id"],
                chain_id=row["chain_id"],
                thread_id=row["thread_id"],
                run_id=row["run_id"],
                assistant_id=row["assistant_id"],
                status=row["status"],
                created_at=row["created_at"],
                metadata={},
            )
            pending.append(_Pending(index, canonical, hashing.content_hash(canonical), True))
        order = {object_id: position for position, object_id in enumerate(ids)}
        pending.sort(key=lambda item: order.get(item.index.object_id, len(order)))
        return self._append(pending)

    def _children_of(self, ids: Sequence[str]) -> list[str]:
        if not ids:
            return []
        links = (HEADS.c.object_type == "vs_file") & HEADS.c.chain_id.in_(ids)  # a store's files
        rows = self.connection.execute(
            select(HEADS.c.object_id)
            .where(
                (HEADS.c.thread_id.in_(ids) | HEADS.c.run_id.in_(ids) | links),
                HEADS.c.object_id.not_in(ids),
                HEADS.c.tombstone.is_(False),
            )
            .order_by(*ARRIVAL_ORDER)
        ).scalars()
        return list(rows)

    def _append(self, pending: list[_Pending]) -> RecordResult:
        result = RecordResult()
        if not pending:
            return result
        by_chain: dict[str, list[_Pending]] = {}
        for item in pending:
            by_chain.setdefault(item.index.chain_id, []).append(item)
        observed_at_us = now_us()
        for chain_id in sorted(by_chain):  # a fixed lock order keeps concurrent writers deadlock-free
            result += self._append_chain(chain_id, by_chain[chain_id], observed_at_us)
        return result

    def _append_chain(self, chain_id: str, items: list[_Pending], observed_at_us: int) -> RecordResult:
        result = RecordResult()
        last_seq, last_hash = lock_tip(self.connection, chain_id, self.sealer)
        heads = self._heads_of({item.index.object_id for item in items})
        version_rows: list[dict[str, Any]] = []
        changed: dict[str, tuple[_Pending, _HeadState]] = {}
        for item in items:
            index = item.index
            head = heads.get(index.object_id)
            if head is not None and (
                (head.content_hash == item.content_hash and head.tombstone == item.tombstone)
                or head.outdates(item)
            ):
                result.unchanged += 1
                continue
            last_seq += 1
            version = head.version + 1 if head else 1
            row_hash = self.sealer.seal(
                hashing.version_fields(
                    prev_hash=last_hash,
                    chain_id=chain_id,
                    chain_seq=last_seq,
                    object_type=index.object_type,
                    object_id=index.object_id,
                    version=version,
                    tombstone=item.tombstone,
                    observed_at_us=observed_at_us,
                    content_hash=item.content_hash,
                )
            )
            version_rows.append(
                {
                    "chain_id": chain_id,
                    "chain_seq": last_seq,
                    "object_type": index.object_type,
                    "object_id": index.object_id,
                    "version": version,
                    "thread_id": index.thread_id,
                    "tombstone": item.tombstone,
                    "observed_at_us": observed_at_us,
                    "body": item.body,
                    "content_hash": item.content_hash,
                    "prev_hash": last_hash,
                    "row_hash": row_hash,
                    "scheme": self.sealer.scheme,
                }
            )
            last_hash = row_hash
            state = _HeadState(
                version,
                item.content_hash,
                item.tombstone,
                index.status,
                head.first_observed_at_us if head else observed_at_us,
                head.first_seq if head else last_seq,
            )
            heads[index.object_id] = state
            changed[index.object_id] = (item, state)
            result.stored.append(index.object_id)
        if version_rows:
            bulk_insert(self.connection, VERSIONS, version_rows)
            self._write_heads(chain_id, changed)
            move_tip(self.connection, chain_id, last_seq, last_hash, self.sealer.scheme)
        return result

    def _heads_of(self, object_ids: set[str]) -> dict[str, _HeadState]:
        rows = self.connection.execute(
            select(
                HEADS.c.object_id,
                HEADS.c.version,
                HEADS.c.content_hash,
                HEADS.c.tombstone,
                HEADS.c.status,
                HEADS.c.first_observed_at_us,
                HEADS.c.first_seq,
            ).where(HEADS.c.object_id.in_(object_ids))
        )
        return {
            row.object_id: _HeadState(
                row.version,
                row.content_hash,
                row.tombstone,
                row.status,
                row.first_observed_at_us,
                row.first_seq,
            )
            for row in rows
        }

    def _write_heads(self, chain_id: str, changed: dict[str, tuple[_Pending, _HeadState]]) -> None:
        head_rows = []
        metadata_rows: list[dict[str, str]] = []
        for item, state in changed.values():
            head, pairs = index_rows(
                item.index,
                version=state.version,
                content_hash=state.content_hash,
                tombstone=state.tombstone,
                first_observed_at_us=state.first_observed_at_us,
                first_seq=state.first_seq,
            )
            head_rows.append(head)
            metadata_rows.extend(pairs)
        bulk_insert(self.connection, HEADS, head_rows, upsert_on="object_id")
        self.connection.execute(delete(HEAD_METADATA).where(HEAD_METADATA.c.object_id.in_(list(changed))))
        bulk_insert(self.connection, HEAD_METADATA, metadata_rows)


def lock_tip(connection: Connection, chain_id: str, sealer: hashing.Sealer) -> tuple[int, str]:
    """Lock a chain's tip (creating it if new) and return its (seq, hash); refuse to append
    without the key to a chain sealed with one, or with another key."""
    insert = upsert_insert(connection)
    values = {"chain_id": chain_id, "last_seq": 0, "last_hash": hashing.GENESIS, "scheme": hashing.PLAIN}
    connection.execute(insert(CHAINS).values(values).on_conflict_do_nothing())
    row = connection.execute(
        select(CHAINS.c.last_seq, CHAINS.c.last_hash, CHAINS.c.scheme)
        .where(CHAINS.c.chain_id == chain_id)
        .with_for_update()
    ).one()
    if row.scheme != hashing.PLAIN and row.scheme != sealer.scheme:
        what = (
            "another archive key"
            if sealer.keyed
            else f"an archive key, and {hashing.ARCHIVE_KEY_ENV} is not set"
        )
        raise InvalidInputError(
            f"chain {chain_id} is sealed with {what}",
            hint=f"set {hashing.ARCHIVE_KEY_ENV} to the key this archive was written with",
        )
    return int(row.last_seq), str(row.last_hash)


def move_tip(connection: Connection, chain_id: str, seq: int, last_hash: str, scheme: str) -> None:
    """Move a locked chain's tip forward to its new last row."""
    connection.execute(
        update(CHAINS)
        .where(CHAINS.c.chain_id == chain_id)
        .values(last_seq=seq, last_hash=last_hash, scheme=scheme)
    )
