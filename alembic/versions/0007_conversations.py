"""Conversations in the server's state, and the archive's journal of threads migrated to them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Server side (``assistdb serve``): ``server_conversations`` and ``server_conversation_items``,
stored like the Assistants objects of 0004 (wire JSON beside the columns queries need, ``seq``
ordering each list, a ``deleted`` flag keeping a deleted item's place for cursors).

Archive side (``assistdb threads migrate``): an append-only journal, guarded by the same
triggers as the archive's other tables. ``migration_attempts`` notes each conversation create
before it is sent (the API cannot list conversations, so an answer that never arrived can only
be reported); ``migration_conversations`` maps a thread and target to the conversation made for
it; ``migration_items`` records each planned item confirmed in it, by position, once.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOURNAL = ("migration_attempts", "migration_conversations", "migration_items")


def _seq() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


def upgrade() -> None:
    op.create_table(
        "server_conversations",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "server_conversation_items",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_server_conversation_items_conversation_seq",
        "server_conversation_items",
        ["conversation_id", "seq"],
    )

    op.create_table(
        "migration_attempts",
        _id(),
        sa.Column("thread_id", sa.String(128), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("attempted_at_us", sa.BigInteger(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "migration_conversations",
        _id(),
        sa.Column("thread_id", sa.String(128), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("thread_id", "target", name="uq_migration_conversations_thread_target"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "migration_items",
        _id(),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(128), nullable=False),
        sa.Column("confirmed_at_us", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("conversation_id", "position", name="uq_migration_items_position"),
        sqlite_autoincrement=True,
    )
    for table in JOURNAL:
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
    for table in (*JOURNAL, "server_conversation_items", "server_conversations"):
        op.drop_table(table)  # their triggers go with them
