"""The archive's export format: JSONL, one JSON object per line, keys sorted, compact.

    {"kind":"header","format":"assistdb-archive","version":2,"schema":"0002","thread_id":null}
    {"kind":"version", ...every column of ``versions``...}         in ID order
    {"kind":"tool_call", ...every column of ``tool_calls``...}     in ID order
    {"kind":"tracked_thread", ...``tracked_threads`` but leases...} in thread ID order
    {"kind":"end","versions":N,"tool_calls":N,"tracked_threads":N}

Rows are verbatim: IDs, hashes, observation times, and each version's body as the exact text that
was hashed. Leases are left out: they belong to the processes syncing one database, not to the
archive. The end line makes a truncated file detectable; the rows' own hash chains make an edited
one detectable, and an import checks them before it commits anything.

Version 1 (before tool-ledger events were chained) is still read: its versions rows are plain
``sha256`` ones, and its events are chained on import as the migration chains them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table

from assistdb.errors import InvalidInputError
from assistdb.store.archive import VERSIONS
from assistdb.store.hashing import canonical_json
from assistdb.store.schema import TOOL_CALLS
from assistdb.store.tracking import TRACKED

FORMAT = "assistdb-archive"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
#: What a version 1 export lacks, per row kind: columns that version 2 added.
ADDED_IN_2 = {"version": ("scheme",), "tool_call": ("seq", "prev_hash", "row_hash", "scheme")}
LEASE_COLUMNS = ("lease_owner", "lease_until_us")


@dataclass
class RowCounts:
    """Rows per kind that an export wrote or an import loaded; the end line carries the same."""

    versions: int = 0
    tool_calls: int = 0
    tracked_threads: int = 0

    @property
    def rows(self) -> int:
        return self.versions + self.tool_calls + self.tracked_threads


@dataclass(frozen=True)
class RowKind:
    """One kind of exported row: the table it comes from and the columns it carries."""

    name: str
    table: Table
    key: str  # the export's order, and what the thread filter applies to
    thread_column: str

    @property
    def columns(self) -> list[Column[Any]]:
        return [column for column in self.table.columns if column.name not in LEASE_COLUMNS]

    def check(self, record: Mapping[str, Any], line: int) -> dict[str, Any]:
        """The record as a row of the table, or a one-line error naming the line and the field."""
        expected = {column.name: column for column in self.columns}
        unknown = set(record) - set(expected)
        if unknown:
            raise _bad(line, f"unknown field {sorted(unknown)[0]!r} in a {self.name} row")
        row: dict[str, Any] = {}
        for name, column in expected.items():
            if name not in record:
                raise _bad(line, f"a {self.name} row lacks {name!r}")
            value = record[name]
            if value is None and not column.nullable:
                raise _bad(line, f"{name!r} of a {self.name} row must not be null")
            if value is not None and type(value) is not column.type.python_type:
                raise _bad(
                    line, f"{name!r} of a {self.name} row must be a {column.type.python_type.__name__}"
                )
            row[name] = value
        return row


VERSION = RowKind("version", VERSIONS, "id", "chain_id")
TOOL_CALL = RowKind("tool_call", TOOL_CALLS, "id", "thread_id")
TRACKED_THREAD = RowKind("tracked_thread", TRACKED, "thread_id", "thread_id")
KINDS = (VERSION, TOOL_CALL, TRACKED_THREAD)


def encode(kind: str, row: Mapping[str, Any]) -> str:
    return canonical_json({"kind": kind, **row}) + "\n"


def _bad(line: int, problem: str) -> InvalidInputError:
    return InvalidInputError(
        f"line {line} of the export: {problem}", hint="import an unmodified assistdb export"
    )
