"""File content in the archive, content-addressed, and which content each API file has.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

``file_contents`` names each distinct content by its SHA-256 (size, number of parts);
``file_parts`` holds the bytes in bounded parts (a blob per part on both databases, so a large
file is streamed in and out); ``file_hashes`` maps an API file ID to its content's hash, whether
or not the content itself was archived. All three are append-only, guarded by the same triggers
as the archive's other tables. File and vector store objects need no table of their own: they
are versions like any other object, each its own chain; the views ``files`` (with each file's
SHA-256 and whether its content is archived) and ``vector_stores`` show their latest versions,
like the views of 0005.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("file_contents", "file_parts", "file_hashes")
VIEWS = ("files", "vector_stores")
#: (column, JSON path, kind) of each view, as in 0005.
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "files": [
        ("filename", "filename", "text"),
        ("purpose", "purpose", "text"),
        ("bytes", "bytes", "int"),
        ("status", "status", "text"),
    ],
    "vector_stores": [
        ("name", "name", "text"),
        ("status", "status", "text"),
        ("usage_bytes", "usage_bytes", "int"),
        ("files_completed", "file_counts.completed", "int"),
        ("files_total", "file_counts.total", "int"),
    ],
}
OBJECT_TYPES = {"files": "file", "vector_stores": "vector_store"}
#: What the files view adds: the content's hash, and whether the content itself is archived.
CONTENT_COLUMNS = "fh.sha256 AS sha256, (fc.sha256 IS NOT NULL) AS content_archived, "
CONTENT_JOIN = (
    " LEFT JOIN file_hashes fh ON fh.file_id = h.object_id"
    " LEFT JOIN file_contents fc ON fc.sha256 = fh.sha256"
)


def upgrade() -> None:
    op.create_table(
        "file_contents",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("stored_at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "file_parts",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "part", name="pk_file_parts"),
    )
    op.create_table(
        "file_hashes",
        sa.Column("file_id", sa.String(128), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_file_hashes_sha256", "file_hashes", ["sha256"])
    for table in TABLES:
        _append_only(table)
    postgres = op.get_context().dialect.name == "postgresql"
    for view, fields in FIELDS.items():
        op.execute(_view(view, fields, postgres=postgres))


def _view(view: str, fields: list[tuple[str, str, str]], *, postgres: bool) -> str:
    """The latest live version of each object of a kind, its useful fields as columns."""
    if postgres:
        columns = "".join(f"{_postgres_field(path, kind)} AS {name}, " for name, path, kind in fields)
        common = (
            "h.created_at AS created_at, to_timestamp(h.created_at) AS created, "
            "(j.doc -> 'metadata') AS metadata, h.version AS version, "
            "to_timestamp(v.observed_at_us / 1000000.0) AS observed, j.doc AS body "
        )
        lateral = " CROSS JOIN LATERAL (SELECT assistdb_json(v.body) AS doc) j"
    else:
        columns = "".join(f"json_extract(v.body, '$.{path}') AS {name}, " for name, path, _ in fields)
        common = (
            "h.created_at AS created_at, datetime(h.created_at, 'unixepoch') AS created, "
            "json_extract(v.body, '$.metadata') AS metadata, h.version AS version, "
            "datetime(v.observed_at_us / 1000000, 'unixepoch') AS observed, v.body AS body "
        )
        lateral = ""
    content = (CONTENT_COLUMNS, CONTENT_JOIN) if view == "files" else ("", "")
    return (
        f"CREATE VIEW {view} AS SELECT h.object_id AS id, {columns}{content[0]}{common}"
        "FROM heads h JOIN versions v ON v.object_id = h.object_id AND v.version = h.version"
        f"{lateral}{content[1]} WHERE h.object_type = '{OBJECT_TYPES[view]}' AND NOT h.tombstone"
    )


def _postgres_field(path: str, kind: str) -> str:
    value = f"(j.doc #>> '{{{','.join(path.split('.'))}}}')"
    return f"{value}::bigint" if kind == "int" else value


def _append_only(table: str) -> None:
    """The archive's triggers (revision 0001's function on PostgreSQL)."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION assistdb_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION assistdb_refuse_change()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN "
            f"SELECT RAISE(ABORT, 'assistdb archive is append-only: {action} on {table} refused'); "
            "END"
        )


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    for table in reversed(TABLES):
        op.drop_table(table)  # their triggers go with them
