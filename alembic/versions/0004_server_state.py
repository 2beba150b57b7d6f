"""The state of ``assistdb serve``: assistants, threads, messages, runs, steps and run events.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01

Each object is stored as the JSON body sent on the wire, beside the columns the server queries:
its ID, its parents, and ``seq``, the database sequence that orders a collection and anchors
pagination cursors. Deleted assistants and messages keep their row (``deleted``) so a cursor
naming them still marks a position. A partial unique index allows one active run per thread,
whichever process creates it. Runs carry the bookkeeping of the process that drives them
(``owner``, ``lease_until``); ``server_run_events`` keeps each run's stream events in order so a
stream can be read from any process.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('queued', 'in_progress', 'requires_action', 'cancelling')"


def _seq() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


def upgrade() -> None:
    op.create_table(
        "server_assistants",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "server_threads",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "server_messages",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("thread_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_server_messages_thread_seq", "server_messages", ["thread_id", "seq"])
    op.create_index("ix_server_messages_run_seq", "server_messages", ["run_id", "seq"])
    op.create_table(
        "server_runs",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("thread_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("driver", sa.Text(), nullable=False),
        sa.Column("expire_at", sa.Float(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False, server_default="0"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_server_runs_thread_seq", "server_runs", ["thread_id", "seq"])
    op.create_index("ix_server_runs_status", "server_runs", ["status"])
    op.create_index(
        "ux_server_runs_one_active_per_thread",
        "server_runs",
        ["thread_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_table(
        "server_steps",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("thread_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_server_steps_run_seq", "server_steps", ["run_id", "seq"])
    op.create_table(
        "server_run_events",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("n", sa.Integer(), primary_key=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_server_run_events_created", "server_run_events", ["created_at"])
    op.create_table(
        "server_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "server_meta",
        "server_run_events",
        "server_steps",
        "server_runs",
        "server_threads",
        "server_messages",
        "server_assistants",
    ):
        op.drop_table(table)
