"""The database tables.

Two kinds of table live here:

* The **archive** (``versions``, ``tool_calls``, ``checkpoints``) is append-only: the migrations
  install triggers that refuse UPDATE and DELETE on it, on SQLite and on PostgreSQL. Every
  version row is chained by hash to the previous row of its chain (a thread and everything in
  it, or one assistant); every tool-ledger event to the previous event of its run.
* The **index** (``heads``, ``head_metadata``, ``chains``, ``tracked_threads``) is derived
  bookkeeping that may change in place: the latest version of each object, the tip of each
  chain, and sync cursors. ``heads`` and ``head_metadata`` can be rebuilt from the archive
  (``assistdb audit reindex``), and ``audit verify`` checks them against it. Chain tips only
  move forward (a trigger refuses anything else): they are the evidence that a chain's tail was
  not cut. Sync cursors and leases are only an optimisation.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

ID = 128  # longest object ID we accept; real ones are about 30 characters
HASH = 64  # hex SHA-256
SCHEME = 32  # ``sha256`` or ``hmac-sha256:<key id>``


class Version(SQLModel, table=True):
    """One observed state of one API object: the archive's only kind of object row."""

    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("chain_id", "chain_seq", name="uq_versions_chain_seq"),
        UniqueConstraint("object_id", "version", name="uq_versions_object_version"),
        Index("ix_versions_thread_id", "thread_id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    chain_id: str = Field(sa_column=Column(String(ID), nullable=False))
    chain_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    object_type: str = Field(sa_column=Column(String(16), nullable=False))
    object_id: str = Field(sa_column=Column(String(ID), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    thread_id: str | None = Field(default=None, sa_column=Column(String(ID), nullable=True))
    tombstone: bool = Field(sa_column=Column(Boolean, nullable=False))
    observed_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    content_hash: str = Field(sa_column=Column(String(HASH), nullable=False))
    prev_hash: str = Field(sa_column=Column(String(HASH), nullable=False))
    row_hash: str = Field(sa_column=Column(String(HASH), nullable=False))
    scheme: str = Field(sa_column=Column(String(SCHEME), nullable=False, server_default="sha256"))


class ToolCall(SQLModel, table=True):
    """One event in the life of one tool call: ``started``, ``finished`` or ``submitted``.

    The run engine writes ``started`` before it calls a tool and ``finished`` (with the output)
    before it submits, which is what lets a resumed run avoid calling a tool twice. The events of
    one run form a hash chain (``seq``, ``prev_hash``, ``row_hash``) whose tip is the ``chains``
    row ``ledger:<run ID>``, so a forged or edited output is caught before it is submitted.
    """

    __tablename__ = "tool_calls"
    __table_args__ = (
        UniqueConstraint("call_id", "attempt", "event", name="uq_tool_calls_event"),
        UniqueConstraint("run_id", "seq", name="uq_tool_calls_run_seq"),
        Index("ix_tool_calls_run_id", "run_id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    call_id: str = Field(sa_column=Column(String(ID), nullable=False))
    attempt: int = Field(sa_column=Column(Integer, nullable=False))
    event: str = Field(sa_column=Column(String(16), nullable=False))
    run_id: str = Field(sa_column=Column(String(ID), nullable=False))
    thread_id: str = Field(sa_column=Column(String(ID), nullable=False))
    function_name: str = Field(sa_column=Column(String(ID), nullable=False))
    arguments: str = Field(sa_column=Column(Text, nullable=False))
    output: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    is_error: bool = Field(sa_column=Column(Boolean, nullable=False))
    recorded_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    prev_hash: str = Field(sa_column=Column(String(HASH), nullable=False))
    row_hash: str = Field(sa_column=Column(String(HASH), nullable=False))
    scheme: str = Field(sa_column=Column(String(SCHEME), nullable=False, server_default="sha256"))


class Head(SQLModel, table=True):
    """The latest version of an object, with the columns the local queries filter on."""

    __tablename__ = "heads"
    __table_args__ = (
        Index("ix_heads_type_thread_created", "object_type", "thread_id", "created_at"),
        Index("ix_heads_run_id", "run_id"),
        Index("ix_heads_assistant_id", "assistant_id"),
        Index("ix_heads_type_status", "object_type", "status"),
        Index("ix_heads_thread_status", "thread_id", "status"),  # a thread's unfinished objects
    )

    object_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    object_type: str = Field(sa_column=Column(String(16), nullable=False))
    chain_id: str = Field(sa_column=Column(String(ID), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    content_hash: str = Field(sa_column=Column(String(HASH), nullable=False))
    tombstone: bool = Field(sa_column=Column(Boolean, nullable=False))
    thread_id: str | None = Field(default=None, sa_column=Column(String(ID), nullable=True))
    run_id: str | None = Field(default=None, sa_column=Column(String(ID), nullable=True))
    assistant_id: str | None = Field(default=None, sa_column=Column(String(ID), nullable=True))
    status: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    created_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # When the archive first saw the object, and where in its chain: the order of arrival, which
    # breaks ties between objects created in the same second.
    first_observed_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    first_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class HeadMetadata(SQLModel, table=True):
    """The metadata pairs of each object's latest version, for search by key and value."""

    __tablename__ = "head_metadata"
    __table_args__ = (Index("ix_head_metadata_key_value", "key", "value"),)

    object_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    key: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(String(512), nullable=False))


class Chain(SQLModel, table=True):
    """The tip of one hash chain; appending locks this row so that writers take turns.

    ``scheme`` is that of the last row: a chain sealed with a key is only appended with it."""

    __tablename__ = "chains"

    chain_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_hash: str = Field(sa_column=Column(String(HASH), nullable=False))
    scheme: str = Field(sa_column=Column(String(SCHEME), nullable=False, server_default="sha256"))


class Checkpoint(SQLModel, table=True):
    """A state of the archive that ``audit verify`` found sound: every chain's length and end
    hash, under the digest that names it. The digest is what a user keeps elsewhere; this row
    only spells it out, and is checked against it before use."""

    __tablename__ = "checkpoints"

    digest: str = Field(sa_column=Column(String(HASH), primary_key=True))
    recorded_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    state: str = Field(sa_column=Column(Text, nullable=False))


class TrackedThread(SQLModel, table=True):
    """A thread the archive keeps in sync, with its incremental-sync cursors and lease."""

    __tablename__ = "tracked_threads"
    __table_args__ = (Index("ix_tracked_threads_synced", "last_synced_at_us"),)

    thread_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    tracked_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_cursor: str | None = Field(default=None, sa_column=Column(String(ID), nullable=True))
    run_cursor: str | None = Field(default=None, sa_column=Column(String(ID), nullable=True))
    last_synced_at_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    lease_owner: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    lease_until_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    gone: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))


def _journal_id() -> Column[int]:
    return Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


class MigrationAttempt(SQLModel, table=True):
    """A conversation create about to be sent for a thread (``assistdb threads migrate``): the
    Conversations API cannot list conversations, so one whose answer was lost can only be named."""

    __tablename__ = "migration_attempts"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, sa_column=_journal_id())
    thread_id: str = Field(sa_column=Column(String(ID), nullable=False))
    target: str = Field(sa_column=Column(String(512), nullable=False))
    attempted_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class MigrationConversation(SQLModel, table=True):
    """The conversation a thread was migrated to, on one target (append-only)."""

    __tablename__ = "migration_conversations"
    __table_args__ = (
        UniqueConstraint("thread_id", "target", name="uq_migration_conversations_thread_target"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=_journal_id())
    thread_id: str = Field(sa_column=Column(String(ID), nullable=False))
    target: str = Field(sa_column=Column(String(512), nullable=False))
    conversation_id: str = Field(sa_column=Column(String(ID), nullable=False))
    created_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class MigrationItem(SQLModel, table=True):
    """A planned item confirmed in its conversation, by position (append-only, once each)."""

    __tablename__ = "migration_items"
    __table_args__ = (
        UniqueConstraint("conversation_id", "position", name="uq_migration_items_position"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=_journal_id())
    conversation_id: str = Field(sa_column=Column(String(ID), nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))
    item_id: str = Field(sa_column=Column(String(ID), nullable=False))
    confirmed_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))


ARCHIVE_TABLES = ("versions", "tool_calls", "checkpoints")
metadata = SQLModel.metadata
