"""Rebuilding the index tables (heads, head_metadata, chains) from the archive's rows alone.

Used after an import, which brings only archive rows: what the index holds is derived, so it is
computed again exactly as the writer would have left it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import groupby
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, func, insert, select

from assistdb.store.archive import CHAINS, HEAD_METADATA, HEADS, VERSIONS, index_rows
from assistdb.store.bulk import bulk_insert
from assistdb.store.objects import Indexed, index_of

BATCH = 1000


def rebuild_index(connection: Connection) -> None:
    """Fill the empty index tables from ``versions``, inside the caller's transaction."""
    tips = select(VERSIONS.c.chain_id, func.max(VERSIONS.c.chain_seq).label("last_seq")).group_by(
        VERSIONS.c.chain_id
    )
    tip = tips.subquery()
    connection.execute(
        insert(CHAINS).from_select(
            ["chain_id", "last_seq", "last_hash"],
            select(VERSIONS.c.chain_id, VERSIONS.c.chain_seq, VERSIONS.c.row_hash).join(
                tip, (VERSIONS.c.chain_id == tip.c.chain_id) & (VERSIONS.c.chain_seq == tip.c.last_seq)
            ),
        )
    )
    heads: list[dict[str, Any]] = []
    pairs: list[dict[str, str]] = []
    for head, metadata in _index_rows(connection):
        heads.append(head)
        pairs.extend(metadata)
        if len(heads) >= BATCH:
            _flush(connection, heads, pairs)
    _flush(connection, heads, pairs)


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
