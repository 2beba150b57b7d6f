"""A view of the files each vector store holds, as archived.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Vector store files (the API's ``vector_store.file``) are archived as versions of object type
``vs_file`` in their store's chain, under the ID ``STORE_ID/FILE_ID`` (the API names one by its
file's ID alone, which the file and its links to other stores share). Like files and stores in
0008 they need no table of their own; the view ``vector_store_files`` shows the latest live
version of each, one row per file in a store, with its status, usage, attributes and chunking.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEW = "vector_store_files"
#: (column, JSON path, kind): ``json`` is an object, as the views of 0005 keep them.
FIELDS = [
    ("vector_store_id", "vector_store_id", "text"),
    ("file_id", "id", "text"),
    ("status", "status", "text"),
    ("usage_bytes", "usage_bytes", "int"),
    ("last_error_code", "last_error.code", "text"),
    ("attributes", "attributes", "json"),
    ("chunking_strategy", "chunking_strategy", "json"),
]


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    if postgres:
        columns = "".join(f"{_postgres_field(path, kind)} AS {name}, " for name, path, kind in FIELDS)
        common = (
            "h.created_at AS created_at, to_timestamp(h.created_at) AS created, h.version AS version, "
            "to_timestamp(v.observed_at_us / 1000000.0) AS observed, j.doc AS body "
        )
        lateral = " CROSS JOIN LATERAL (SELECT assistdb_json(v.body) AS doc) j"
    else:
        columns = "".join(f"json_extract(v.body, '$.{path}') AS {name}, " for name, path, _ in FIELDS)
        common = (
            "h.created_at AS created_at, datetime(h.created_at, 'unixepoch') AS created, "
            "h.version AS version, datetime(v.observed_at_us / 1000000, 'unixepoch') AS observed, "
            "v.body AS body "
        )
        lateral = ""
    op.execute(
        f"CREATE VIEW {VIEW} AS SELECT h.object_id AS id, {columns}{common}"
        "FROM heads h JOIN versions v ON v.object_id = h.object_id AND v.version = h.version"
        f"{lateral} WHERE h.object_type = 'vs_file' AND NOT h.tombstone"
    )


def _postgres_field(path: str, kind: str) -> str:
    steps = ",".join(path.split("."))
    if kind == "json":
        return f"(j.doc #> '{{{steps}}}')"
    value = f"(j.doc #>> '{{{steps}}}')"
    return f"{value}::bigint" if kind == "int" else value


def downgrade() -> None:
    op.execute(f"DROP VIEW IF EXISTS {VIEW}")
