"""Multi-row INSERT (and upsert) at driver speed, for the archive's one-transaction-per-page writes.

SQLAlchemy's generic paths cost a round trip per row with psycopg's ``executemany``, or a long
statement that psycopg re-parses on every call with multi-row VALUES. Instead: PostgreSQL gets one
short, cacheable ``INSERT ... SELECT FROM unnest(arrays)``, SQLite a plain ``executemany``.
Column names come from our own table definitions, never from input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table


def bulk_insert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    upsert_on: str | None = None,
    skip_existing: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (dicts with the same keys); with ``upsert_on``, replace rows whose key exists;
    with ``skip_existing`` (the columns of a unique key), leave out rows whose key exists."""
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(columns)
    conflict = ""
    if upsert_on is not None:
        updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns if column != upsert_on)
        conflict = f" ON CONFLICT ({upsert_on}) DO UPDATE SET {updates}"
    elif skip_existing:
        conflict = f" ON CONFLICT ({', '.join(skip_existing)}) DO NOTHING"
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
        arrays = ", ".join(
            f"%({column})b::{table.c[column].type.compile(dialect=dialect)}[]" for column in columns
        )
        statement = f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}){conflict}"
        connection.exec_driver_sql(statement, {column: [row[column] for row in rows] for column in columns})
    else:
        marks = ", ".join("?" for _ in columns)
        statement = f"INSERT INTO {table.name} ({names}) VALUES ({marks}){conflict}"
        connection.exec_driver_sql(statement, [tuple(row[column] for column in columns) for row in rows])
