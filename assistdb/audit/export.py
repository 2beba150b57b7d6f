"""Exporting the archive as JSONL, so that it outlives the API, the machine and assistdb itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from sqlalchemy import exists, select

from assistdb.audit.export_format import FORMAT, FORMAT_VERSION, KINDS, RowCounts, encode
from assistdb.errors import NotFoundError
from assistdb.repositories.validation import check_id
from assistdb.store import Store, migrations
from assistdb.store.archive import VERSIONS


def export_archive(
    store: Store, out: TextIO, *, thread_id: str | None = None, on_row: Callable[[int], None] | None = None
) -> RowCounts:
    """Write every archive row (or one thread's) to ``out``, streaming, from one consistent view.

    The same archive always exports to the same bytes; an import of the export exports the same
    bytes again.
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
        for kind in KINDS:
            if thread_id is not None and kind.thread_column is None:
                continue
            statement = select(*kind.columns).order_by(*(kind.table.c[key] for key in kind.keys))
            if thread_id is not None and kind.thread_column is not None:
                statement = statement.where(kind.table.c[kind.thread_column] == thread_id)
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
