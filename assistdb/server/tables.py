"""The server's tables (created by Alembic revisions 0004 and 0007), as SQLAlchemy Core tables.

Objects are stored as their wire JSON (``body``) beside the columns queries need. ``seq`` is the
database sequence that orders each collection and anchors cursors; deleted assistants and
messages keep their row with ``deleted`` set so cursors naming them still mark a position.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)

metadata = MetaData()

ID = 64
ACTIVE_STATUSES = ("queued", "in_progress", "requires_action", "cancelling")
_ACTIVE = text("status IN ('queued', 'in_progress', 'requires_action', 'cancelling')")


def _seq() -> Column[int]:
    return Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


assistants = Table(
    "server_assistants",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("deleted", Boolean(), nullable=False, server_default=false()),
    Column("body", Text(), nullable=False),
    sqlite_autoincrement=True,
)

threads = Table(
    "server_threads",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("body", Text(), nullable=False),
    sqlite_autoincrement=True,
)

messages = Table(
    "server_messages",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("thread_id", String(ID), nullable=False),
    Column("run_id", String(ID), nullable=True),
    Column("deleted", Boolean(), nullable=False, server_default=false()),
    Column("body", Text(), nullable=False),
    Index("ix_server_messages_thread_seq", "thread_id", "seq"),
    Index("ix_server_messages_run_seq", "run_id", "seq"),
    sqlite_autoincrement=True,
)

runs = Table(
    "server_runs",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("thread_id", String(ID), nullable=False),
    Column("status", String(32), nullable=False),
    Column("body", Text(), nullable=False),
    Column("driver", Text(), nullable=False),
    Column("expire_at", Float(), nullable=False),
    Column("owner", String(ID), nullable=True),
    Column("lease_until", Float(), nullable=True),
    Column("event_count", Integer(), nullable=False, server_default="0"),
    Index("ix_server_runs_thread_seq", "thread_id", "seq"),
    Index("ix_server_runs_status", "status"),
    Index(
        "ux_server_runs_one_active_per_thread",
        "thread_id",
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    ),
    sqlite_autoincrement=True,
)

steps = Table(
    "server_steps",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("run_id", String(ID), nullable=False),
    Column("thread_id", String(ID), nullable=False),
    Column("body", Text(), nullable=False),
    Index("ix_server_steps_run_seq", "run_id", "seq"),
    sqlite_autoincrement=True,
)

run_events = Table(
    "server_run_events",
    metadata,
    Column("run_id", String(ID), primary_key=True),
    Column("n", Integer(), primary_key=True),
    Column("event", String(64), nullable=False),
    Column("data", Text(), nullable=False),
    Column("created_at", Float(), nullable=False),
    Index("ix_server_run_events_created", "created_at"),
)

conversations = Table(
    "server_conversations",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("deleted", Boolean(), nullable=False, server_default=false()),
    Column("body", Text(), nullable=False),
    sqlite_autoincrement=True,
)

conversation_items = Table(
    "server_conversation_items",
    metadata,
    _seq(),
    Column("id", String(ID), nullable=False, unique=True),
    Column("conversation_id", String(ID), nullable=False),
    Column("deleted", Boolean(), nullable=False, server_default=false()),
    Column("body", Text(), nullable=False),
    Index("ix_server_conversation_items_conversation_seq", "conversation_id", "seq"),
    sqlite_autoincrement=True,
)

meta = Table(
    "server_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger(), nullable=False),
)
