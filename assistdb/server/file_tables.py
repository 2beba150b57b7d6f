"""The tables of files, uploads and vector stores (Alembic revisions 0006, 0009), as SQLAlchemy Core tables.

File content is stored once per SHA-256 digest, in 1 MiB pieces (``server_blob_pieces``), so a
file streams in and out of the database a piece at a time and identical files share their bytes.
Vector store chunks are indexed for full-text search: an FTS5 table on SQLite, a generated
``tsv`` column (``to_tsvector('english', text)``) with a GIN index on PostgreSQL (both made by the
migration, in SQL these models do not express).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from assistdb.server.tables import ID, metadata

PIECE_BYTES = 1024 * 1024


def _seq() -> Column[int]:
    return Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


blobs = Table(
    "server_blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("bytes", BigInteger(), nullable=False),
)

blob_pieces = Table(
    "server_blob_pieces",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("n", Integer(), primary_key=True),
    Column("data", LargeBinary(), nullable=False),
)

files = Table(
    "server_files",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("purpose", String(32), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("deleted", Boolean(), nullable=False, server_default=false()),
    Column("body", Text(), nullable=False),
    Index("ix_server_files_purpose_seq", "purpose", "seq"),
    sqlite_autoincrement=True,
)

uploads = Table(
    "server_uploads",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("body", Text(), nullable=False),
    sqlite_autoincrement=True,
)

upload_parts = Table(
    "server_upload_parts",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("upload_id", String(ID), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("bytes", BigInteger(), nullable=False),
    Column("body", Text(), nullable=False),
    Index("ix_server_upload_parts_upload", "upload_id"),
    sqlite_autoincrement=True,
)

vector_stores = Table(
    "server_vector_stores",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("deleted", Boolean(), nullable=False, server_default=false()),
    Column("body", Text(), nullable=False),
    sqlite_autoincrement=True,
)

vector_store_files = Table(
    "server_vector_store_files",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False),
    Column("vector_store_id", String(ID), nullable=False),
    Column("batch_id", String(ID), nullable=True),
    Column("status", String(32), nullable=False),
    Column("body", Text(), nullable=False),
    UniqueConstraint("vector_store_id", "id", name="uq_server_vector_store_files"),
    Index("ix_server_vector_store_files_file", "id"),
    sqlite_autoincrement=True,
)

file_batches = Table(
    "server_vector_store_file_batches",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("vector_store_id", String(ID), nullable=False),
    Column("body", Text(), nullable=False),
    sqlite_autoincrement=True,
)

chunks = Table(
    "server_vector_store_chunks",
    metadata,
    _seq(),
    Column("vector_store_id", String(ID), nullable=False),
    Column("file_id", String(ID), nullable=False),
    Column("n", Integer(), nullable=False),
    Column("text", Text(), nullable=False),
    Index("ix_server_vector_store_chunks_file", "vector_store_id", "file_id", "n"),
    sqlite_autoincrement=True,
)

#: A chunk's vector for hybrid search (revision 0009): unit-length float32 bytes from ``model``.
chunk_embeddings = Table(
    "server_vector_store_chunk_embeddings",
    metadata,
    Column("chunk_seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("vector_store_id", String(ID), nullable=False),
    Column("file_id", String(ID), nullable=False),
    Column("model", String(256), nullable=False),
    Column("dimensions", Integer(), nullable=False),
    Column("vector", LargeBinary(), nullable=False),
    Index("ix_server_vector_store_chunk_embeddings_store", "vector_store_id", "model"),
    Index("ix_server_vector_store_chunk_embeddings_file", "vector_store_id", "file_id"),
)
