"""Files, uploads and vector stores of ``assistdb serve``, with a full-text index of chunks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

File content lives once per SHA-256 digest in 1 MiB pieces (``server_blob_pieces``), so it
streams in and out and identical files share storage. Vector store chunks are searched with
SQLite's FTS5 (an external-content table kept in step by triggers) or PostgreSQL's full-text
search (a stored ``tsv`` column, ``to_tsvector('english', text)``, with a GIN index; ranking
reads it instead of parsing every matching chunk again).
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "server_vector_store_chunks_fts"
CHUNKS = "server_vector_store_chunks"


def _seq() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


def upgrade() -> None:
    op.create_table(
        "server_blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "server_blob_pieces",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("n", sa.Integer(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "server_files",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_server_files_purpose_seq", "server_files", ["purpose", "seq"])
    op.create_table(
        "server_uploads",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "server_upload_parts",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("upload_id", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_server_upload_parts_upload", "server_upload_parts", ["upload_id"])
    op.create_table(
        "server_vector_stores",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "server_vector_store_files",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("vector_store_id", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.UniqueConstraint("vector_store_id", "id", name="uq_server_vector_store_files"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_server_vector_store_files_file", "server_vector_store_files", ["id"])
    op.create_table(
        "server_vector_store_file_batches",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("vector_store_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        CHUNKS,
        _seq(),
        sa.Column("vector_store_id", sa.String(64), nullable=False),
        sa.Column("file_id", sa.String(64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_server_vector_store_chunks_file", CHUNKS, ["vector_store_id", "file_id", "n"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE {CHUNKS} ADD COLUMN tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
        )
        op.execute(f"CREATE INDEX ix_server_vector_store_chunks_fts ON {CHUNKS} USING gin (tsv)")
    else:
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5(text, content='{CHUNKS}', content_rowid='seq', "
            "tokenize='porter unicode61')"
        )
        op.execute(
            f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON {CHUNKS} BEGIN "
            f"INSERT INTO {FTS}(rowid, text) VALUES (new.seq, new.text); END"
        )
        op.execute(
            f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON {CHUNKS} BEGIN "
            f"INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.seq, old.text); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {FTS}_delete")
        op.execute(f"DROP TRIGGER IF EXISTS {FTS}_insert")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    for table in (
        CHUNKS,
        "server_vector_store_file_batches",
        "server_vector_store_files",
        "server_vector_stores",
        "server_upload_parts",
        "server_uploads",
        "server_files",
        "server_blob_pieces",
        "server_blobs",
    ):
        op.drop_table(table)
