"""Exporting the archive as JSONL, so that it outlives the API, the machine and assistdb itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

from sqlalchemy import ColumnElement, Connection, exists, select

from assistdb.audit.export_format import (
    FILE_HASH,
    FORMAT,
    FORMAT_VERSION,
    KINDS,
    VERSION,
    RowCounts,
    RowKind,
    encode,
)
from assistdb.errors import NotFoundError
from assistdb.repositories.validation import check_id
from assistdb.store import Store, migrations
from assistdb.store.archive import VERSIONS
from assistdb.store.schema import FILE_HASHES


def export_archive(
    store: Store, out: TextIO, *, thread_id: str | None = None, on_row: Callable[[int], None] | None = None
) -> RowCounts:
    """Write every archive row (or one thread's) to ``out``, streaming, from one consistent view.

    One thread's export also holds the files its objects name (message attachments, images,
    citations, the thread's ``tool_resources``), the vector stores those name with the files
    they hold: their versions, and each file's content record and content where the archive has
    them. The same archive
    always exports to the same bytes; an import of the export exports the same bytes again.
    """
    if thread_id is not None:
        check_id("thread", thread_id)
    result = RowCounts()
    with store.database.snapshot() as connection:
        if (
            thread_id is not None
            and not connection.execute(select(exists().where(VERSIONS.c.chain_id == thread_id))).scalar()
        ):
            raise NotFoundError(f"the archive has no thread {thread_id}", hint="sync it first")
        schema = migrations.current_revision(store.database)
        header = {"format": FORMAT, "version": FORMAT_VERSION, "schema": schema, "thread_id": thread_id}
        out.write(encode("header", header))
        file_ids, store_ids = _thread_citations(connection, thread_id) if thread_id else ([], [])
        for kind in KINDS:
            statement = select(*kind.columns).order_by(*(kind.table.c[key] for key in kind.keys))
            if thread_id is not None:
                statement = statement.where(_of_thread(kind, thread_id, file_ids, store_ids))
            rows = connection.execution_options(stream_results=True, yield_per=kind.batch).execute(statement)
            written = 0
            for row in rows:
                out.write(encode(kind.name, kind.record(row._asdict())))
                written += 1
                if on_row is not None:
                    on_row(1)
            setattr(result, kind.table.name, written)
        out.write(encode("end", {kind.table.name: getattr(result, kind.table.name) for kind in KINDS}))
    return result


def _thread_citations(connection: Connection, thread_id: str) -> tuple[list[str], list[str]]:
    """The file and vector store IDs that any version of the thread's objects names."""
    # Imported here: the sync package brings the SDK, which archive-only commands
    # (``audit export``, ``--help``) must not load (tests/cli/test_startup.py).
    from assistdb.sync.files import cited

    files: dict[str, None] = {}
    stores: dict[str, None] = {}
    bodies = connection.execution_options(stream_results=True, yield_per=VERSION.batch).execute(
        select(VERSIONS.c.body).where(
            VERSIONS.c.chain_id == thread_id,
            VERSIONS.c.tombstone == False,  # noqa: E712
            VERSIONS.c.object_type.in_(("thread", "message")),
        )
    )
    for body in bodies.scalars():
        file_ids, store_ids = cited(json.loads(body))
        files.update(dict.fromkeys(file_ids))
        stores.update(dict.fromkeys(store_ids))
    if stores:  # the files the stores hold, or held: their links are in the stores' chains
        held = connection.execute(
            select(VERSIONS.c.body)
            .where(
                VERSIONS.c.chain_id.in_(list(stores)),
                VERSIONS.c.object_type == "vs_file",
                VERSIONS.c.tombstone == False,  # noqa: E712
            )
            .order_by(VERSIONS.c.id)
        )
        files.update(dict.fromkeys(json.loads(body)["id"] for body in held.scalars()))
    return list(files), list(stores)


def _of_thread(
    kind: RowKind, thread_id: str, file_ids: list[str], store_ids: list[str]
) -> ColumnElement[Any]:
    """Which rows of a kind one thread's export holds."""
    table = kind.table
    if kind is VERSION:
        return table.c.chain_id.in_([thread_id, *file_ids, *store_ids])
    if kind.thread_column is not None:
        return table.c[kind.thread_column] == thread_id
    if kind is FILE_HASH:
        return table.c.file_id.in_(file_ids)
    return table.c.sha256.in_(select(FILE_HASHES.c.sha256).where(FILE_HASHES.c.file_id.in_(file_ids)))
