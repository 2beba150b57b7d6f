"""The archive's export format: JSONL, one JSON object per line, keys sorted, compact.

    {"kind":"header","format":"assistdb-archive","version":3,"schema":"0008","thread_id":null}
    {"kind":"version", ...every column of ``versions``...}         in ID order
    {"kind":"tool_call", ...every column of ``tool_calls``...}     in ID order
    {"kind":"tracked_thread", ...``tracked_threads`` but leases...} in thread ID order
    {"kind":"file_hash", ...every column of ``file_hashes``...}    in file ID order
    {"kind":"file_content", ...every column of ``file_contents``...} in SHA-256 order
    {"kind":"file_part", "sha256", "part", "data": BASE64}          in SHA-256, then part order
    {"kind":"end","versions":N,"tool_calls":N,"tracked_threads":N,"file_hashes":N,...}

Rows are verbatim: IDs, hashes, observation times, and each version's body as the exact text that
was hashed. Leases are left out: they belong to the processes syncing one database, not to the
archive. File content is in parts of at most 1 MiB (base64 in ``data``), so neither writing nor
reading an export holds a large file in memory. An export of one thread (``thread_id``) holds
that thread's rows, and the versions and file rows of the files and vector stores it names and
of the files those stores hold. Vector store files (object type ``vs_file``, revision 0010) are
version rows like any other, so they needed no new format.
The end line makes a truncated file detectable; the rows' own hash chains, and each
content's SHA-256, make an edited one detectable, and an import checks them before it commits
anything.

Version 1 (before tool-ledger events were chained) is still read: its versions rows are plain
``sha256`` ones, and its events are chained on import as the migration chains them. Version 2
is version 3 without file rows.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table

from assistdb.errors import InvalidInputError
from assistdb.store.archive import VERSIONS
from assistdb.store.hashing import canonical_json
from assistdb.store.schema import FILE_CONTENTS, FILE_HASHES, FILE_PARTS, TOOL_CALLS
from assistdb.store.tracking import TRACKED

FORMAT = "assistdb-archive"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
#: What a version 1 export lacks, per row kind: columns that version 2 added.
ADDED_IN_2 = {"version": ("scheme",), "tool_call": ("seq", "prev_hash", "row_hash", "scheme")}
LEASE_COLUMNS = ("lease_owner", "lease_until_us")


@dataclass
class RowCounts:
    """Rows per kind that an export wrote or an import loaded; the end line carries the same."""

    versions: int = 0
    tool_calls: int = 0
    tracked_threads: int = 0
    file_hashes: int = 0
    file_contents: int = 0
    file_parts: int = 0

    @property
    def rows(self) -> int:
        return (
            self.versions
            + self.tool_calls
            + self.tracked_threads
            + self.file_hashes
            + self.file_contents
            + self.file_parts
        )


@dataclass(frozen=True)
class RowKind:
    """One kind of exported row: the table it comes from and the columns it carries."""

    name: str
    table: Table
    keys: tuple[str, ...]  # the export's order
    thread_column: str | None  # what the thread filter applies to; None: not in a thread's export
    batch: int = 1000  # rows held in memory at once, reading and writing

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
            if column.type.python_type is bytes:
                value = _decoded(value, line, f"{name!r} of a {self.name} row")
            if value is None and not column.nullable:
                raise _bad(line, f"{name!r} of a {self.name} row must not be null")
            if value is not None and type(value) is not column.type.python_type:
                raise _bad(
                    line, f"{name!r} of a {self.name} row must be a {column.type.python_type.__name__}"
                )
            row[name] = value
        return row

    def record(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row as its export line spells it (binary columns in base64)."""
        return {
            name: base64.b64encode(value).decode("ascii") if isinstance(value, bytes | memoryview) else value
            for name, value in row.items()
        }


def _decoded(value: Any, line: int, what: str) -> bytes:
    if not isinstance(value, str):
        raise _bad(line, f"{what} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(line, f"{what} is not base64") from None


VERSION = RowKind("version", VERSIONS, ("id",), "chain_id")
TOOL_CALL = RowKind("tool_call", TOOL_CALLS, ("id",), "thread_id")
TRACKED_THREAD = RowKind("tracked_thread", TRACKED, ("thread_id",), "thread_id")
FILE_HASH = RowKind("file_hash", FILE_HASHES, ("file_id",), None)
FILE_CONTENT = RowKind("file_content", FILE_CONTENTS, ("sha256",), None)
FILE_PART = RowKind("file_part", FILE_PARTS, ("sha256", "part"), None, batch=4)
KINDS = (VERSION, TOOL_CALL, TRACKED_THREAD, FILE_HASH, FILE_CONTENT, FILE_PART)
#: Row kinds a version 1 or 2 export does not have (its end line does not count them).
ADDED_IN_3 = frozenset({"file_hashes", "file_contents", "file_parts"})


def encode(kind: str, row: Mapping[str, Any]) -> str:
    return canonical_json({"kind": kind, **row}) + "\n"


def _bad(line: int, problem: str) -> InvalidInputError:
    return InvalidInputError(
        f"line {line} of the export: {problem}", hint="import an unmodified assistdb export"
    )
