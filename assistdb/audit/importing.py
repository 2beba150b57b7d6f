"""Importing an export into an empty archive: rows verbatim, chains intact, index rebuilt.

All of it happens in one transaction, and the chains of what was read are verified before it
commits, so a bad, truncated or edited file leaves the database as empty as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from sqlalchemy import Connection, exists, select, text

from assistdb.audit.export_format import (
    ADDED_IN_2,
    ADDED_IN_3,
    FORMAT,
    FORMAT_VERSION,
    KINDS,
    READABLE_VERSIONS,
    RowCounts,
    RowKind,
)
from assistdb.audit.reindex import rebuild_index
from assistdb.audit.verify import VerifyReport, verify_connection
from assistdb.errors import InvalidInputError, VerificationError
from assistdb.store import Store
from assistdb.store.archive import CHAINS, HEADS
from assistdb.store.bulk import bulk_insert
from assistdb.store.chaining import EVENT_COLUMNS
from assistdb.store.hashing import PLAIN, PLAIN_SEALER
from assistdb.store.tool_ledger import seal_events

_KINDS = {kind.name: kind for kind in KINDS}
_HINT = "import an unmodified assistdb export"
_EXPORT_HINT = "pass the file export_archive() wrote"


def import_archive(store: Store, inp: TextIO, *, on_row: Callable[[int], None] | None = None) -> RowCounts:
    """Load an export made by :func:`export_archive` into this store, which must be empty."""
    result = RowCounts()
    with store.database.write() as connection:
        _refuse_unless_empty(connection, store.database.display_url)
        records = _records(inp)
        version = _check_header(next(records, None))
        pending: dict[str, list[dict[str, Any]]] = {kind.name: [] for kind in KINDS}
        end: tuple[int, dict[str, Any]] | None = None
        ledger_tips: dict[str, tuple[int, str]] = {}  # chaining the events of a version 1 export
        for line, record in records:
            if end is not None:
                raise InvalidInputError(f"line {line} of the export follows its end line", hint=_HINT)
            name = record.pop("kind", None)
            if name == "end":
                end = (line, record)
                continue
            kind = _KINDS.get(str(name))
            if kind is None:
                raise InvalidInputError(f"line {line} of the export: unknown row kind {name!r}", hint=_HINT)
            if version == 1:
                record = _upgrade_record(kind.name, record, line, ledger_tips)
            pending[kind.name].append(kind.check(record, line))
            setattr(result, kind.table.name, getattr(result, kind.table.name) + 1)
            if len(pending[kind.name]) >= kind.batch:
                _insert(connection, kind, pending[kind.name])
            if on_row is not None:
                on_row(1)
        if end is None:
            raise InvalidInputError("the export has no end line: it is truncated", hint="export it again")
        for kind in KINDS:
            _insert(connection, kind, pending[kind.name])
        _check_counts(end, result, version)
        _continue_ids_after_imported(connection)
        rebuild_index(connection)
        _verify_before_commit(connection, store)
    return result


def _verify_before_commit(connection: Connection, store: Store) -> None:
    """Check the chains of everything read, in the import's own transaction: an edited export
    is refused, naming its first bad rows, and the rollback leaves the database empty."""
    report = VerifyReport()
    verify_connection(connection, store.sealer, report)
    if report.ok:
        return
    named = "; ".join(problem.describe() for problem in [*report.problems][:3])
    raise VerificationError(
        f"the export does not verify, so nothing was imported: {named or report.error().message}",
        hint="the file was changed after it was exported; import an unmodified export",
    )


def _upgrade_record(
    kind: str, record: dict[str, Any], line: int, ledger_tips: dict[str, tuple[int, str]]
) -> dict[str, Any]:
    """A version 1 row as version 2 spells it (see :mod:`export_format`)."""
    for column in ADDED_IN_2.get(kind, ()):
        if column in record:
            raise InvalidInputError(
                f"line {line} of the export: {column!r} is not in a version 1 export", hint=_HINT
            )
    if kind == "version":
        return {**record, "scheme": PLAIN}
    if kind == "tool_call":
        if not isinstance(record.get("run_id"), str):
            return record  # the row check names what is wrong with it
        fields = {column: record.get(column) for column in EVENT_COLUMNS}
        sealed = seal_events([fields], PLAIN_SEALER, ledger_tips)[0]
        return {**record, **{column: sealed[column] for column in ADDED_IN_2["tool_call"]}}
    return record


def _records(inp: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, text_line in enumerate(inp, start=1):
        if not text_line.strip():
            continue
        try:
            record = json.loads(text_line)
        except ValueError:
            raise InvalidInputError(f"line {line} of the export is not JSON", hint=_HINT) from None
        if not isinstance(record, dict):
            raise InvalidInputError(f"line {line} of the export is not a JSON object", hint=_HINT)
        yield line, record


def _check_header(first: tuple[int, dict[str, Any]] | None) -> int:
    """The export's format version, if this assistdb reads it."""
    if first is None:
        raise InvalidInputError("the export is empty", hint=_EXPORT_HINT, situation="export_file")
    _, header = first
    if header.get("kind") != "header" or header.get("format") != FORMAT:
        raise InvalidInputError("this is not an assistdb export", hint=_EXPORT_HINT, situation="export_file")
    version = header.get("version")
    if version not in READABLE_VERSIONS:
        raise InvalidInputError(
            f"the export has format version {version!r}; this assistdb reads up to {FORMAT_VERSION}",
            hint="import it with the assistdb version that exported it, or a newer one",
        )
    return int(version)


def _check_counts(end: tuple[int, dict[str, Any]], result: RowCounts, version: int) -> None:
    line, counts = end
    for kind in KINDS:
        absent = 0 if version < 3 and kind.table.name in ADDED_IN_3 else None
        if counts.get(kind.table.name, absent) != getattr(result, kind.table.name):
            raise InvalidInputError(
                f"line {line} of the export: the end line counts {counts.get(kind.table.name)!r} "
                f"{kind.table.name} but the file holds {getattr(result, kind.table.name)}",
                hint="the file was cut or edited; export it again",
            )


def _insert(connection: Connection, kind: RowKind, rows: list[dict[str, Any]]) -> None:
    bulk_insert(connection, kind.table, rows)
    rows.clear()


def _refuse_unless_empty(connection: Connection, where: str) -> None:
    if connection.dialect.name == "postgresql":  # a second import at the same moment waits, then sees rows
        connection.execute(
            text("LOCK TABLE versions, tool_calls, tracked_threads IN SHARE ROW EXCLUSIVE MODE")
        )
    for table in (*(kind.table for kind in KINDS), HEADS, CHAINS):
        if connection.execute(select(exists().select_from(table))).scalar():
            raise InvalidInputError(
                f"the archive {where} is not empty; an import only goes into an empty one",
                hint="import into a new, empty database, which then holds exactly the export",
                situation="import_target",
            )


def _continue_ids_after_imported(connection: Connection) -> None:
    """Imported rows keep their IDs; PostgreSQL's ID sequences must then start after them
    (SQLite picks max(id) + 1 by itself)."""
    if connection.dialect.name != "postgresql":
        return
    for table in ("versions", "tool_calls"):
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        )
