"""The ``--state FILE`` journal: an append-only JSON Lines log of object writes and deletions.

Each change appends one line, so a write costs the size of the changed object, never the size
of the state. On start the journal is replayed into the store and rewritten compactly (one line
per live object); a torn last line, left by a crash mid-write, is skipped.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from assistdb.server.state import Record, Store

log = logging.getLogger("assistdb.server")


class Journal:
    """Appends records to a JSONL file, one flushed line per record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def read(self) -> Iterator[Record]:
        if not self.path.exists():
            return
        with self.path.open("r", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record: Any = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("skipping unreadable line %d of %s (torn write?)", number, self.path)
                    continue
                if isinstance(record, dict):
                    yield record

    def rewrite(self, records: Iterable[Record]) -> None:
        """Replace the file by ``records`` atomically, then keep it open for appending."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(_line(record))
        os.replace(temporary, self.path)
        self._file = self.path.open("a", encoding="utf-8")

    def append(self, record: Record) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(_line(record))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _line(record: Record) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"


def open_journal(store: Store, path: Path) -> Journal:
    """Replay ``path`` into an empty store, compact it, and route the store's changes to it."""
    journal = Journal(path)
    store.sink = None
    count = 0
    for record in journal.read():
        try:
            store.restore(record)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("skipping malformed journal record: %s", exc)
        count += 1
    journal.rewrite(store.snapshot())
    store.sink = journal.append
    log.info("state loaded from %s (%d records replayed)", path, count)
    return journal
