"""Rebuilding the index tables from the archive's rows alone.

An import brings only archive rows, so it computes all of the index (``heads``,
``head_metadata`` and the chain tips) exactly as the writer would have left it. ``assistdb audit
reindex`` repairs ``heads`` and ``head_metadata`` of a live archive the same way, but only when
every chain verifies, and it never moves a chain tip: a tip is the evidence that a chain's tail
was not cut, so a chain that disagrees with its tip must be restored from an export instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from assistdb.audit.verify import VerifyReport, verify_connection
from assistdb.store import Store
from assistdb.store.archive import CHAINS, HEAD_METADATA, HEADS, VERSIONS, index_rows
from assistdb.store.bulk import bulk_insert
from assistdb.store.objects import Indexed, index_of
from assistdb.store.schema import TOOL_CALLS
from assistdb.store.tool_ledger import ledger_chain

BATCH = 1000


@dataclass(frozen=True)
class ReindexResult:
    repaired: int  # index rows that disagreed with the archive
    heads: int  # objects indexed


def reindex(store: Store) -> ReindexResult:
    """Rebuild ``heads`` and ``head_metadata`` from ``versions`` in one write transaction;
    raises :class:`VerificationError` (and changes nothing) if a chain does not verify."""
    with store.database.write() as connection:
        report = VerifyReport()
        verify_connection(connection, store.sealer, report)
        if report.problems:
            error = report.error()
            error.hint = "reindex rebuilds only from chains that verify; restore the archive from an export"
            raise error
        connection.execute(delete(HEAD_METADATA))
        connection.execute(delete(HEADS))
        heads = rebuild_heads(connection)
    return ReindexResult(len(report.index_problems), heads)


def rebuild_index(connection: Connection) -> None:
    """Fill the empty index tables from ``versions`` and ``tool_calls``, inside the caller's
    transaction."""
    rebuild_tips(connection)
    rebuild_heads(connection)


def rebuild_tips(connection: Connection) -> None:
    """The tip of every chain: its last row, as the writer would have recorded it."""
    tip = (
        select(VERSIONS.c.chain_id, func.max(VERSIONS.c.chain_seq).label("last_seq"))
        .group_by(VERSIONS.c.chain_id)
        .subquery()
    )
    connection.execute(
        insert(CHAINS).from_select(
            ["chain_id", "last_seq", "last_hash", "scheme"],
            select(VERSIONS.c.chain_id, VERSIONS.c.chain_seq, VERSIONS.c.row_hash, VERSIONS.c.scheme).join(
                tip, (VERSIONS.c.chain_id == tip.c.chain_id) & (VERSIONS.c.chain_seq == tip.c.last_seq)
            ),
        )
    )
    events = (
        select(TOOL_CALLS.c.run_id, func.max(TOOL_CALLS.c.seq).label("last_seq"))
        .group_by(TOOL_CALLS.c.run_id)
        .subquery()
    )
    last_events = select(
        TOOL_CALLS.c.run_id, TOOL_CALLS.c.seq, TOOL_CALLS.c.row_hash, TOOL_CALLS.c.scheme
    ).join(events, (TOOL_CALLS.c.run_id == events.c.run_id) & (TOOL_CALLS.c.seq == events.c.last_seq))
    ledger_tips = [
        {
            "chain_id": ledger_chain(row.run_id),
            "last_seq": row.seq,
            "last_hash": row.row_hash,
            "scheme": row.scheme,
        }
        for row in connection.execute(last_events)
    ]
    if ledger_tips:
        connection.execute(insert(CHAINS), ledger_tips)


def rebuild_heads(connection: Connection) -> int:
    """Fill the empty ``heads`` and ``head_metadata``; the number of objects indexed."""
    heads: list[dict[str, Any]] = []
    pairs: list[dict[str, str]] = []
    count = 0
    for head, metadata in _index_rows(connection):
        heads.append(head)
        pairs.extend(metadata)
        count += 1
        if len(heads) >= BATCH:
            _flush(connection, heads, pairs)
    _flush(connection, heads, pairs)
    return count


def _flush(connection: Connection, heads: list[dict[str, Any]], pairs: list[dict[str, str]]) -> None:
    bulk_insert(connection, HEADS, heads)
    bulk_insert(connection, HEAD_METADATA, pairs)
    heads.clear()
    pairs.clear()


def _index_rows(connection: Connection) -> Iterator[tuple[dict[str, Any], list[dict[str, str]]]]:
    """Each object's index rows, from its versions read in pages in (object, version) order.

    Each page is read in full before index rows are written (a cursor left open while the same
    connection writes is not portable between drivers), and only whole objects are used from it.
    """
    columns = (
        VERSIONS.c.object_id,
        VERSIONS.c.object_type,
        VERSIONS.c.chain_id,
        VERSIONS.c.chain_seq,
        VERSIONS.c.version,
        VERSIONS.c.thread_id,
        VERSIONS.c.observed_at_us,
        VERSIONS.c.tombstone,
        VERSIONS.c.content_hash,
        VERSIONS.c.body,
    )
    ordered = select(*columns).order_by(VERSIONS.c.object_id, VERSIONS.c.version)
    last_id: str | None = None
    while True:
        page = ordered if last_id is None else ordered.where(VERSIONS.c.object_id > last_id)
        rows = connection.execute(page.limit(BATCH)).all()
        if len(rows) == BATCH:  # the page may cut the last object's versions short
            whole = [row for row in rows if row.object_id != rows[-1].object_id]
            rows = whole or connection.execute(ordered.where(VERSIONS.c.object_id == rows[0].object_id)).all()
        if not rows:
            return
        for _, versions in groupby(rows, key=attrgetter("object_id")):
            yield _object_rows(list(versions))
        last_id = rows[-1].object_id


def _object_rows(versions: list[Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    first, last = versions[0], versions[-1]
    live = [row for row in versions if not row.tombstone]
    if live:
        index = index_of(json.loads(live[-1].body))
    else:  # only a tombstone is archived (a partial export was imported)
        index = Indexed(
            last.object_type, last.object_id, last.chain_id, last.thread_id, None, None, None, None, {}
        )
    return index_rows(
        index,
        version=last.version,
        content_hash=last.content_hash,
        tombstone=bool(last.tombstone),
        first_observed_at_us=first.observed_at_us,
        first_seq=first.chain_seq,
    )
