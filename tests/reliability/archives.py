"""Judging an archive: did it lose, duplicate or change anything, and does it hold what another
observer of the same server holds?

Two archives of the same server state, filled by two different syncs, cannot be byte-identical:
:func:`observer_view` drops exactly what legitimately differs between two observers and keeps
everything else, so that comparing the two views compares what was archived.
"""

from __future__ import annotations

import io
import json
from itertools import pairwise
from typing import Any

from sqlalchemy import select

from assistdb.audit import export_archive, verify
from assistdb.store import Store
from assistdb.store.archive import VERSIONS

#: Per exported row kind, the fields that depend on who observed the server and when:
#: - ``observed_at_us``, ``recorded_at_us``, ``tracked_at_us``, ``last_synced_at_us``: the moment
#:   this observer saw the object, wrote the event, started tracking or finished a sync;
#: - ``row_hash`` and ``prev_hash``: a row's hash covers its ``observed_at_us``, and each row
#:   repeats the previous row's hash, so both differ as soon as the times do;
#: - ``id``: row IDs number rows across all chains in the order they were written, which depends
#:   on which sync worker got to which thread first.
#: Everything else must be equal: chain and sequence, object, version, tombstone, the exact body
#: and its content hash, the ledger's calls and outputs, the tracked threads and their cursors.
OBSERVER_FIELDS: dict[str, tuple[str, ...]] = {
    "version": ("id", "observed_at_us", "row_hash", "prev_hash"),
    "tool_call": ("id", "recorded_at_us"),
    "tracked_thread": ("tracked_at_us", "last_synced_at_us"),
}
#: With row IDs gone, rows are put in an order that does not depend on the writer either.
_ORDER: dict[str, tuple[str, ...]] = {
    "version": ("chain_id", "chain_seq"),
    "tool_call": ("call_id", "attempt", "event"),
    "tracked_thread": ("thread_id",),
}


def export_text(database_url: str) -> str:
    """The archive's JSONL export (without migrating, so that any database can be read)."""
    store = Store(database_url, migrate=False)
    try:
        out = io.StringIO()
        export_archive(store, out)
        return out.getvalue()
    finally:
        store.close()


def observer_view(database_url: str) -> list[dict[str, Any]]:
    """The export without what depends on the observer (see ``OBSERVER_FIELDS``)."""
    rows = [json.loads(line) for line in export_text(database_url).splitlines()]
    kept = [
        {key: value for key, value in row.items() if key not in OBSERVER_FIELDS.get(row["kind"], ())}
        for row in rows
    ]
    head, body, end = kept[0], kept[1:-1], kept[-1]
    body.sort(key=lambda row: (row["kind"], *(row[key] for key in _ORDER[row["kind"]])))
    return [head, *body, end]


def repeated_versions(database_url: str) -> int:
    """Versions identical to the previous version of the same object: an object stored twice.

    (The same content may legitimately come back later, after a different one: a run is
    ``queued`` again, with the same fields, after each round of tool outputs.)
    """
    statement = select(VERSIONS.c.object_id, VERSIONS.c.content_hash, VERSIONS.c.tombstone).order_by(
        VERSIONS.c.object_id, VERSIONS.c.version
    )
    store = Store(database_url, migrate=False)
    try:
        with store.database.read() as connection:
            rows = connection.execute(statement).all()
    finally:
        store.close()
    return sum(1 for before, after in pairwise(rows) if tuple(before) == tuple(after))


def verify_problems(database_url: str) -> list[str]:
    """What ``assistdb audit verify`` would name; empty when every chain verifies."""
    store = Store(database_url, migrate=False)
    try:
        return [problem.describe() for problem in verify(store).problems]
    finally:
        store.close()


def assert_sound(database_url: str) -> None:
    """Chains verify, and nothing was stored twice."""
    assert verify_problems(database_url) == []
    assert repeated_versions(database_url) == 0
