"""File content in the archive, content-addressed, and which content each API file has.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

``file_contents`` names each distinct content by its SHA-256 (size, number of parts);
``file_parts`` holds the bytes in bounded parts (a blob per part on both databases, so a large
file is streamed in and out); ``file_hashes`` maps an API file ID to its content's hash, whether
or not the content itself was archived. All three are append-only, guarded by the same triggers
as the archive's other tables. File and vector store objects need no schema change: they are
versions like any other object, each its own chain.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("file_contents", "file_parts", "file_hashes")


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
    for table in reversed(TABLES):
        op.drop_table(table)  # their triggers go with them
