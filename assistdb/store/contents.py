"""File content, content-addressed: each distinct content stored once under its SHA-256, in
bounded parts, so that a large file is streamed into and out of the database (SQLite or
PostgreSQL) without being held in memory; and which content each API file has.

Content is first spooled (hashed as it arrives, kept in memory only while small), then written
in one transaction: a content is either all there or absent, and one already stored is never
written again. ``audit verify`` re-hashes every content (:func:`content_problems`).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Connection, func, select

from assistdb.store.archive import now_us
from assistdb.store.database import Database, upsert_insert
from assistdb.store.schema import FILE_CONTENTS, FILE_HASHES, FILE_PARTS

PART_SIZE = 1 << 20  # 1 MiB: a part is the most of a file held in memory at once


class Spool:
    """A writable sink that hashes what it is given and keeps it in a temporary file (in memory
    up to one part), to be stored once complete."""

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep  # False: only hash and count
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=PART_SIZE)  # noqa: SIM115
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, piece: bytes) -> int:
        self._hash.update(piece)
        self.size += len(piece)
        return self.file.write(piece) if self.keep else len(piece)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class FileHash:
    """The content an API file has: its SHA-256 (hex) and size; ``archived`` if the content
    itself is in the archive."""

    file_id: str
    sha256: str
    bytes: int
    archived: bool


@dataclass(frozen=True)
class ContentProblem:
    """A stored content that does not hash to its name, or a file whose size disagrees with it."""

    sha256: str
    detail: str

    def describe(self) -> str:
        return f"file content {self.sha256}: altered: {self.detail}"


def _insert_ignoring(connection: Connection, table: Any, values: dict[str, Any]) -> None:
    insert = upsert_insert(connection)
    connection.execute(insert(table).values(values).on_conflict_do_nothing())


class FileContents:
    """The content tables of one archive."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def record_hash(self, file_id: str, sha256: str, size: int) -> None:
        """Remember which content an API file has (an ID's content never changes)."""
        with self.database.write() as connection:
            _insert_ignoring(
                connection,
                FILE_HASHES,
                {"file_id": file_id, "sha256": sha256, "bytes": size, "recorded_at_us": now_us()},
            )

    def store(self, spool: Spool, *, file_id: str | None = None) -> bool:
        """Store a spooled content (and, with ``file_id``, that this file has it), in one
        transaction; False if that content was stored already (nothing is written twice)."""
        sha256, size = spool.sha256, spool.size
        with self.database.write() as connection:
            if file_id is not None:
                _insert_ignoring(
                    connection,
                    FILE_HASHES,
                    {"file_id": file_id, "sha256": sha256, "bytes": size, "recorded_at_us": now_us()},
                )
            if connection.execute(
                select(FILE_CONTENTS.c.sha256).where(FILE_CONTENTS.c.sha256 == sha256)
            ).first():
                return False
            spool.file.seek(0)
            part = 0
            while piece := spool.file.read(PART_SIZE):
                connection.execute(FILE_PARTS.insert().values(sha256=sha256, part=part, data=piece))
                part += 1
            connection.execute(
                FILE_CONTENTS.insert().values(sha256=sha256, bytes=size, parts=part, stored_at_us=now_us())
            )
        return True

    def hash_of(self, file_id: str) -> FileHash | None:
        with self.database.read() as connection:
            row = connection.execute(
                select(FILE_HASHES.c.sha256, FILE_HASHES.c.bytes, FILE_CONTENTS.c.sha256.label("stored"))
                .select_from(
                    FILE_HASHES.outerjoin(FILE_CONTENTS, FILE_CONTENTS.c.sha256 == FILE_HASHES.c.sha256)
                )
                .where(FILE_HASHES.c.file_id == file_id)
            ).first()
        if row is None:
            return None
        return FileHash(file_id, row.sha256, int(row.bytes), row.stored is not None)

    def files_with(self, sha256: str) -> list[str]:
        """The IDs of the files known to have this content, oldest record first."""
        with self.database.read() as connection:
            rows = connection.execute(
                select(FILE_HASHES.c.file_id)
                .where(FILE_HASHES.c.sha256 == sha256)
                .order_by(FILE_HASHES.c.recorded_at_us, FILE_HASHES.c.file_id)
            )
            return [row.file_id for row in rows]

    def read(self, sha256: str, sink: Callable[[bytes], Any]) -> int | None:
        """Write a stored content to ``sink`` part by part; its size, or None if not stored."""
        with self.database.snapshot() as connection:
            parts = connection.execute(
                select(FILE_CONTENTS.c.parts, FILE_CONTENTS.c.bytes).where(FILE_CONTENTS.c.sha256 == sha256)
            ).first()
            if parts is None:
                return None
            for data in _parts(connection, sha256, int(parts.parts)):
                sink(data)
            return int(parts.bytes)

    def pieces(self, sha256: str) -> Iterator[bytes]:
        """A stored content's parts in order, one in memory at a time (nothing if not stored)."""
        with self.database.snapshot() as connection:
            parts = connection.execute(
                select(FILE_CONTENTS.c.parts).where(FILE_CONTENTS.c.sha256 == sha256)
            ).scalar()
            if parts is not None:
                yield from _parts(connection, sha256, int(parts))

    def count(self) -> tuple[int, int]:
        """How many contents are stored, and their total size."""
        with self.database.read() as connection:
            row = connection.execute(
                select(func.count(), func.coalesce(func.sum(FILE_CONTENTS.c.bytes), 0))
            ).one()
            return int(row[0]), int(row[1])


def _parts(connection: Connection, sha256: str, parts: int) -> Iterator[bytes]:
    """A content's parts in order, one query each so that only one part is in memory."""
    for part in range(parts):
        data = connection.execute(
            select(FILE_PARTS.c.data).where(FILE_PARTS.c.sha256 == sha256, FILE_PARTS.c.part == part)
        ).scalar()
        if data is None:
            return
        yield bytes(data)


def content_problems(
    connection: Connection, on_content: Callable[[], None] | None = None
) -> Iterator[ContentProblem]:
    """Every stored content re-hashed from its parts, and every file's recorded size checked
    against the content it names."""
    contents = connection.execute(
        select(FILE_CONTENTS.c.sha256, FILE_CONTENTS.c.bytes, FILE_CONTENTS.c.parts).order_by(
            FILE_CONTENTS.c.sha256
        )
    ).all()
    for row in contents:
        if on_content is not None:
            on_content()
        digest, size, seen = hashlib.sha256(), 0, 0
        for data in _parts(connection, row.sha256, int(row.parts)):
            digest.update(data)
            size += len(data)
            seen += 1
        extra = connection.execute(
            select(func.count()).where(FILE_PARTS.c.sha256 == row.sha256, FILE_PARTS.c.part >= row.parts)
        ).scalar()
        if seen != row.parts or extra:
            yield ContentProblem(row.sha256, f"it has {seen + int(extra or 0)} part(s), not {row.parts}")
        elif size != row.bytes:
            yield ContentProblem(row.sha256, f"its parts hold {size} bytes, not {row.bytes}")
        elif digest.hexdigest() != row.sha256:
            yield ContentProblem(row.sha256, "its parts do not hash to its name")
    mismatched = connection.execute(
        select(
            FILE_HASHES.c.file_id,
            FILE_HASHES.c.sha256,
            FILE_HASHES.c.bytes,
            FILE_CONTENTS.c.bytes.label("stored"),
        )
        .join(FILE_CONTENTS, FILE_CONTENTS.c.sha256 == FILE_HASHES.c.sha256)
        .where(FILE_HASHES.c.bytes != FILE_CONTENTS.c.bytes)
        .order_by(FILE_HASHES.c.file_id)
    )
    for mismatch in mismatched:
        yield ContentProblem(
            mismatch.sha256,
            f"file {mismatch.file_id} is recorded with {mismatch.bytes} bytes, "
            f"the content has {mismatch.stored}",
        )
    orphans = connection.execute(
        select(FILE_PARTS.c.sha256)
        .where(FILE_PARTS.c.sha256.not_in(select(FILE_CONTENTS.c.sha256)))
        .group_by(FILE_PARTS.c.sha256)
        .order_by(FILE_PARTS.c.sha256)
    )
    for orphan in orphans:
        yield ContentProblem(orphan.sha256, "parts of a content that was never completed")
