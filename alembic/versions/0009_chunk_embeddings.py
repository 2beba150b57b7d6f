"""Vectors of vector store chunks, for hybrid (embedding) file search in ``assistdb serve``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

One row per chunk that has an embedding, keyed by the chunk's ``seq``: the vector as unit-length
little-endian float32 bytes (4 bytes per dimension, a quarter of the JSON's size) and the model
that made it, so a change of model is never compared against old vectors. The store and file
columns let a search read only its stores' vectors and a file's removal delete its own.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "server_vector_store_chunk_embeddings"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("chunk_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("vector_store_id", sa.String(64), nullable=False),
        sa.Column("file_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )
    op.create_index(f"ix_{TABLE}_store", TABLE, ["vector_store_id", "model"])
    op.create_index(f"ix_{TABLE}_file", TABLE, ["vector_store_id", "file_id"])


def downgrade() -> None:
    op.drop_table(TABLE)
