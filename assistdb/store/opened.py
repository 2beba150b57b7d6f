"""One archive database opened: :class:`Store`, with its readers and writers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from assistdb.store import migrations
from assistdb.store.archive import ArchiveWriter, RecordResult
from assistdb.store.contents import FileContents
from assistdb.store.database import Database
from assistdb.store.hashing import Sealer
from assistdb.store.queries import ArchiveReader
from assistdb.store.tool_ledger import ToolLedger
from assistdb.store.tracking import Tracking
from assistdb.store.tracking import track as track_threads


class Store:
    """One archive database: migrated on open, with its readers and writers.

    ``archive_key`` (default: ``ASSISTDB_ARCHIVE_KEY``) seals new rows with HMAC-SHA256; it is
    kept in memory only."""

    def __init__(
        self, url: str | None = None, *, migrate: bool = True, archive_key: str | None = None
    ) -> None:
        self.sealer = Sealer(archive_key) if archive_key is not None else Sealer.from_env()
        self.database = Database(url)
        if migrate:
            migrations.ensure_current(self.database)
        self.reader = ArchiveReader(self.database)
        self.tools = ToolLedger(self.database, self.sealer)
        self.tracking = Tracking(self.database)
        self.contents = FileContents(self.database)

    @contextmanager
    def writing(self) -> Iterator[ArchiveWriter]:
        """One write transaction; everything recorded inside commits together or not at all."""
        with self.database.write() as connection:
            yield ArchiveWriter(connection, self.sealer)

    def record(self, bodies: Iterable[Mapping[str, Any]], *, track: Sequence[str] = ()) -> RecordResult:
        """Record API objects in one transaction, optionally starting to track threads."""
        with self.writing() as writer:
            result = writer.record(bodies)
            track_threads(writer.connection, track)
            return result

    def record_deleted(self, object_ids: Sequence[str]) -> RecordResult:
        with self.writing() as writer:
            return writer.record_deleted(object_ids)

    def close(self) -> None:
        self.database.dispose()
