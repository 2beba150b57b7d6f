"""Reading the archive: current state, version history, and the searches the API cannot do."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Select, and_, exists, false, func, literal, select, tuple_

from assistdb.store.archive import ARRIVAL_ORDER, HEAD_METADATA, HEADS, VERSIONS
from assistdb.store.database import Database
from assistdb.store.filters import Filters
from assistdb.store.objects import (
    LINK_SEPARATOR,
    METADATA_KEY_LENGTH,
    METADATA_VALUE_LENGTH,
    ObjectType,
    indexable,
)

Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class StoredVersion:
    """One archived version of one object, exactly as it was written."""

    id: int
    chain_id: str
    chain_seq: int
    object_type: ObjectType
    object_id: str
    version: int
    thread_id: str | None
    tombstone: bool
    observed_at_us: int
    body_json: str
    content_hash: str
    prev_hash: str
    row_hash: str

    @property
    def body(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body_json)
        return value

    @property
    def observed_at(self) -> datetime:
        return datetime.fromtimestamp(self.observed_at_us / 1_000_000, tz=UTC)


@dataclass(frozen=True)
class ThreadContents:
    """The bodies of a thread and of what it holds (see :meth:`ArchiveReader.thread_contents`)."""

    thread: dict[str, Any]
    messages: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    steps: list[dict[str, Any]]


VERSION_COLUMNS = (
    VERSIONS.c.id,
    VERSIONS.c.chain_id,
    VERSIONS.c.chain_seq,
    VERSIONS.c.object_type,
    VERSIONS.c.object_id,
    VERSIONS.c.version,
    VERSIONS.c.thread_id,
    VERSIONS.c.tombstone,
    VERSIONS.c.observed_at_us,
    VERSIONS.c.body,
    VERSIONS.c.content_hash,
    VERSIONS.c.prev_hash,
    VERSIONS.c.row_hash,
)


def stored_version(row: Any) -> StoredVersion:
    return StoredVersion(
        id=row.id,
        chain_id=row.chain_id,
        chain_seq=row.chain_seq,
        object_type=row.object_type,
        object_id=row.object_id,
        version=row.version,
        thread_id=row.thread_id,
        tombstone=bool(row.tombstone),
        observed_at_us=row.observed_at_us,
        body_json=row.body,
        content_hash=row.content_hash,
        prev_hash=row.prev_hash,
        row_hash=row.row_hash,
    )


class ArchiveReader:
    """Read-only queries over the archive; no API call is ever made here."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def current(self, object_id: str, *, include_deleted: bool = False) -> StoredVersion | None:
        """The latest version of an object, or None if unknown (or deleted, unless asked)."""
        statement = _joined_heads().where(HEADS.c.object_id == object_id)
        if not include_deleted:
            statement = statement.where(HEADS.c.tombstone.is_(False))
        with self.database.read() as connection:
            row = connection.execute(statement).first()
        return stored_version(row) if row else None

    def thread_contents(self, thread_id: str) -> ThreadContents | None:
        """The bodies of a live thread and of its live messages, runs and steps, each kind in
        arrival order, or None if the archive has no such thread: one statement, so one moment of
        the archive and one round trip (a migration plans each thread from this)."""
        statement = (
            select(HEADS.c.object_type, VERSIONS.c.body)
            .select_from(
                HEADS.join(
                    VERSIONS,
                    and_(VERSIONS.c.object_id == HEADS.c.object_id, VERSIONS.c.version == HEADS.c.version),
                )
            )
            .where(
                HEADS.c.thread_id == thread_id,
                HEADS.c.object_type.in_(("thread", "message", "run", "run_step")),
                HEADS.c.tombstone.is_(False),
            )
            .order_by(*ARRIVAL_ORDER)
        )
        kinds: dict[str, list[dict[str, Any]]] = {"thread": [], "message": [], "run": [], "run_step": []}
        with self.database.read() as connection:
            for object_type, body in connection.execute(statement):
                kinds[object_type].append(json.loads(body))
        if not kinds["thread"]:
            return None
        return ThreadContents(kinds["thread"][0], kinds["message"], kinds["run"], kinds["run_step"])

    def last_live(self, object_id: str) -> StoredVersion | None:
        """The latest version that is not a tombstone: what a deleted object was when last seen."""
        statement = (
            select(*VERSION_COLUMNS)
            .where(VERSIONS.c.object_id == object_id, VERSIONS.c.tombstone.is_(False))
            .order_by(VERSIONS.c.version.desc())
            .limit(1)
        )
        with self.database.read() as connection:
            row = connection.execute(statement).first()
        return stored_version(row) if row else None

    def history(self, object_id: str) -> list[StoredVersion]:
        """Every archived version of an object, oldest first, tombstones included."""
        statement = (
            select(*VERSION_COLUMNS).where(VERSIONS.c.object_id == object_id).order_by(VERSIONS.c.version)
        )
        with self.database.read() as connection:
            return [stored_version(row) for row in connection.execute(statement)]

    def find(
        self,
        object_type: ObjectType,
        filters: Filters = Filters(),
        *,
        order: Order = "asc",
        limit: int | None = None,
        after: str | None = None,
    ) -> list[StoredVersion]:
        """Current objects of one type matching ``filters``, ordered by creation time.

        ``after`` continues from the object with that ID (keyset paging, like the API's cursors).
        """
        statement = _joined_heads().where(HEADS.c.object_type == object_type)
        statement = _apply_filters(statement, object_type, filters)
        key = tuple_(*ARRIVAL_ORDER)
        if after is not None:
            with self.database.read() as connection:
                anchor = connection.execute(select(*ARRIVAL_ORDER).where(HEADS.c.object_id == after)).first()
            if anchor is not None:
                anchor_key = tuple_(*(literal(value) for value in anchor))
                statement = statement.where(key > anchor_key if order == "asc" else key < anchor_key)
        statement = statement.order_by(*(c.asc() if order == "asc" else c.desc() for c in ARRIVAL_ORDER))
        if limit is not None:
            statement = statement.limit(limit)
        with self.database.read() as connection:
            return [stored_version(row) for row in connection.execute(statement)]

    def iter_find(
        self,
        object_type: ObjectType,
        filters: Filters = Filters(),
        *,
        order: Order = "asc",
        page_size: int = 500,
    ) -> Iterator[StoredVersion]:
        """Like :meth:`find`, but in pages, so memory stays flat however many objects match."""
        after: str | None = None
        while True:
            page = self.find(object_type, filters, order=order, limit=page_size, after=after)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].object_id

    def iter_object_ids(
        self,
        object_type: ObjectType,
        filters: Filters = Filters(),
        *,
        observed_before_us: int | None = None,
        page_size: int = 1000,
    ) -> Iterator[str]:
        """IDs of current objects matching ``filters``, in ID order and in pages (no bodies read);
        with ``observed_before_us``, only objects whose latest version was observed before then."""
        statement = _apply_filters(
            select(HEADS.c.object_id).where(HEADS.c.object_type == object_type), object_type, filters
        )
        if observed_before_us is not None:
            statement = statement.join(
                VERSIONS,
                and_(VERSIONS.c.object_id == HEADS.c.object_id, VERSIONS.c.version == HEADS.c.version),
            ).where(VERSIONS.c.observed_at_us < observed_before_us)
        statement = statement.order_by(HEADS.c.object_id).limit(page_size)
        after: str | None = None
        while True:
            page_statement = statement if after is None else statement.where(HEADS.c.object_id > after)
            with self.database.read() as connection:
                page = list(connection.execute(page_statement).scalars())
            yield from page
            if len(page) < page_size:
                return
            after = page[-1]

    def ids_starting_with(self, object_type: ObjectType, prefix: str, *, limit: int = 100) -> list[str]:
        """IDs of archived objects of one type that start with ``prefix`` (shell completion)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = (
            select(HEADS.c.object_id)
            .where(HEADS.c.object_type == object_type, HEADS.c.object_id.like(f"{escaped}%", escape="\\"))
            .order_by(HEADS.c.object_id)
            .limit(limit)
        )
        with self.database.read() as connection:
            return list(connection.execute(statement).scalars())

    def links_of_file(self, file_id: str) -> list[str]:
        """Archive IDs of the live vector store files (``vs_file``) of one file, in any store."""
        statement = select(HEADS.c.object_id).where(
            HEADS.c.object_type == "vs_file",
            HEADS.c.tombstone.is_(False),
            HEADS.c.object_id.endswith(LINK_SEPARATOR + file_id, autoescape=True),
        )
        with self.database.read() as connection:
            return list(connection.execute(statement.order_by(HEADS.c.object_id)).scalars())

    def with_status(
        self, thread_id: str, statuses: Collection[str]
    ) -> list[tuple[ObjectType, str, str | None]]:
        """(type, ID, run ID) of the thread's live messages, runs and steps in one of these statuses."""
        # Only messages, runs and steps have a status; leaving the type out of the condition
        # leaves the planner one index to use, (thread, status), whatever its statistics say.
        statement = select(HEADS.c.object_type, HEADS.c.object_id, HEADS.c.run_id).where(
            HEADS.c.thread_id == thread_id,
            HEADS.c.status.in_(list(statuses)),
            HEADS.c.tombstone.is_(False),
        )
        with self.database.read() as connection:
            return [(row.object_type, row.object_id, row.run_id) for row in connection.execute(statement)]

    def head_hashes(self, object_ids: Iterable[str]) -> dict[str, tuple[str, bool]]:
        """The content hash and tombstone flag of each given object's latest version, if archived."""
        ids = list(object_ids)
        if not ids:
            return {}
        statement = select(HEADS.c.object_id, HEADS.c.content_hash, HEADS.c.tombstone).where(
            HEADS.c.object_id.in_(ids)
        )
        with self.database.read() as connection:
            return {
                row.object_id: (row.content_hash, bool(row.tombstone))
                for row in connection.execute(statement)
            }

    def count(self, object_type: ObjectType, filters: Filters = Filters()) -> int:
        statement = _apply_filters(
            select(func.count()).select_from(HEADS).where(HEADS.c.object_type == object_type),
            object_type,
            filters,
        )
        with self.database.read() as connection:
            return int(connection.execute(statement).scalar_one())

    def object_type_of(self, object_id: str) -> ObjectType | None:
        with self.database.read() as connection:
            value = connection.execute(
                select(HEADS.c.object_type).where(HEADS.c.object_id == object_id)
            ).scalar()
        return value

    def thread_of(self, object_id: str) -> str | None:
        """The thread an archived message, run or step belongs to."""
        with self.database.read() as connection:
            return connection.execute(
                select(HEADS.c.thread_id).where(HEADS.c.object_id == object_id)
            ).scalar()


def _joined_heads() -> Select[Any]:
    return select(*VERSION_COLUMNS).select_from(
        HEADS.join(
            VERSIONS, and_(VERSIONS.c.object_id == HEADS.c.object_id, VERSIONS.c.version == HEADS.c.version)
        )
    )


def _apply_filters(statement: Select[Any], object_type: ObjectType, filters: Filters) -> Select[Any]:
    if not filters.include_deleted:
        statement = statement.where(HEADS.c.tombstone.is_(False))
    if filters.thread_id is not None:
        statement = statement.where(HEADS.c.thread_id == filters.thread_id)
    if filters.run_id is not None:
        statement = statement.where(HEADS.c.run_id == filters.run_id)
    if filters.vector_store_id is not None:
        statement = statement.where(HEADS.c.chain_id == filters.vector_store_id)
    if filters.status is not None:
        statement = statement.where(HEADS.c.status == filters.status)
    if filters.assistant_id is not None:
        if object_type == "thread":
            # A thread belongs to every assistant that ran on it.
            ran = HEADS.alias("ran")
            statement = statement.where(
                exists().where(
                    ran.c.thread_id == HEADS.c.object_id,
                    ran.c.object_type == "run",
                    ran.c.assistant_id == filters.assistant_id,
                )
            )
        else:
            statement = statement.where(HEADS.c.assistant_id == filters.assistant_id)
    if filters.created_after is not None:
        statement = statement.where(HEADS.c.created_at >= filters.created_after)
    if filters.created_before is not None:
        statement = statement.where(HEADS.c.created_at < filters.created_before)
    for key, value in (filters.metadata or {}).items():
        if not (indexable(key, METADATA_KEY_LENGTH) and indexable(value, METADATA_VALUE_LENGTH)):
            # The index holds no such pair (see ``indexable``): nothing can match it.
            statement = statement.where(false())
            continue
        pair = HEAD_METADATA.alias()
        statement = statement.where(
            exists().where(pair.c.object_id == HEADS.c.object_id, pair.c.key == key, pair.c.value == value)
        )
    return statement
