"""The archive (append-only versions and tool-call ledger) and its index.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("versions", "tool_calls")


def _bigint_pk() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


def upgrade() -> None:
    op.create_table(
        "versions",
        _bigint_pk(),
        sa.Column("chain_id", sa.String(128), nullable=False),
        sa.Column("chain_seq", sa.BigInteger(), nullable=False),
        sa.Column("object_type", sa.String(16), nullable=False),
        sa.Column("object_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.String(128), nullable=True),
        sa.Column("tombstone", sa.Boolean(), nullable=False),
        sa.Column("observed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("chain_id", "chain_seq", name="uq_versions_chain_seq"),
        sa.UniqueConstraint("object_id", "version", name="uq_versions_object_version"),
    )
    op.create_index("ix_versions_thread_id", "versions", ["thread_id"])

    op.create_table(
        "tool_calls",
        _bigint_pk(),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("thread_id", sa.String(128), nullable=False),
        sa.Column("function_name", sa.String(128), nullable=False),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("is_error", sa.Boolean(), nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("call_id", "attempt", "event", name="uq_tool_calls_event"),
    )
    op.create_index("ix_tool_calls_run_id", "tool_calls", ["run_id"])

    op.create_table(
        "heads",
        sa.Column("object_id", sa.String(128), primary_key=True),
        sa.Column("object_type", sa.String(16), nullable=False),
        sa.Column("chain_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("tombstone", sa.Boolean(), nullable=False),
        sa.Column("thread_id", sa.String(128), nullable=True),
        sa.Column("run_id", sa.String(128), nullable=True),
        sa.Column("assistant_id", sa.String(128), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=True),
        sa.Column("first_observed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_heads_type_thread_created", "heads", ["object_type", "thread_id", "created_at"])
    op.create_index("ix_heads_run_id", "heads", ["run_id"])
    op.create_index("ix_heads_assistant_id", "heads", ["assistant_id"])
    op.create_index("ix_heads_type_status", "heads", ["object_type", "status"])
    op.create_index("ix_heads_thread_status", "heads", ["thread_id", "status"])

    op.create_table(
        "head_metadata",
        sa.Column("object_id", sa.String(128), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(512), nullable=False),
    )
    op.create_index("ix_head_metadata_key_value", "head_metadata", ["key", "value"])

    op.create_table(
        "chains",
        sa.Column("chain_id", sa.String(128), primary_key=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )

    op.create_table(
        "tracked_threads",
        sa.Column("thread_id", sa.String(128), primary_key=True),
        sa.Column("tracked_at_us", sa.BigInteger(), nullable=False),
        sa.Column("message_cursor", sa.String(128), nullable=True),
        sa.Column("run_cursor", sa.String(128), nullable=True),
        sa.Column("last_synced_at_us", sa.BigInteger(), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until_us", sa.BigInteger(), nullable=True),
        sa.Column("gone", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_tracked_threads_synced", "tracked_threads", ["last_synced_at_us"])

    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    for table in ("tracked_threads", "chains", "head_metadata", "heads", "tool_calls", "versions"):
        op.drop_table(table)


def _create_append_only_triggers() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION assistdb_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'assistdb archive is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION assistdb_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION assistdb_refuse_change()"
            )
    else:
        for table in APPEND_ONLY_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, 'assistdb archive is append-only: {action} on {table} refused'); "
                    "END"
                )


def _drop_append_only_triggers() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS assistdb_refuse_change()")
    else:
        for table in APPEND_ONLY_TABLES:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
