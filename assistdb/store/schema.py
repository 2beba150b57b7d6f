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

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Plain SQLAlchemy Core tables: nothing maps rows to classes, and Core keeps every command's
# start fast (declaring them as SQLModel classes imported pydantic and the ORM on each run).

ID = 128  # longest object ID we accept; real ones are about 30 characters
HASH = 64  # hex SHA-256
SCHEME = 32  # ``sha256`` or ``hmac-sha256:<key id>``

metadata = MetaData()


def _serial() -> Column[int]:
    return Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


#: One observed state of one API object: the archive's only kind of object row.
VERSIONS = Table(
    "versions",
    metadata,
    _serial(),
    Column("chain_id", String(ID), nullable=False),
    Column("chain_seq", BigInteger, nullable=False),
    Column("object_type", String(16), nullable=False),
    Column("object_id", String(ID), nullable=False),
    Column("version", Integer, nullable=False),
    Column("thread_id", String(ID), nullable=True),
    Column("tombstone", Boolean, nullable=False),
    Column("observed_at_us", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Column("content_hash", String(HASH), nullable=False),
    Column("prev_hash", String(HASH), nullable=False),
    Column("row_hash", String(HASH), nullable=False),
    Column("scheme", String(SCHEME), nullable=False, server_default="sha256"),
    UniqueConstraint("chain_id", "chain_seq", name="uq_versions_chain_seq"),
    UniqueConstraint("object_id", "version", name="uq_versions_object_version"),
    Index("ix_versions_thread_id", "thread_id"),
)

#: One event in the life of one tool call: ``started``, ``finished`` or ``submitted``. The run
#: engine writes ``started`` before it calls a tool and ``finished`` (with the output) before it
#: submits, which is what lets a resumed run avoid calling a tool twice. The events of one run form
#: a hash chain (``seq``, ``prev_hash``, ``row_hash``) whose tip is the ``chains`` row
#: ``ledger:<run ID>``, so a forged or edited output is caught before it is submitted.
TOOL_CALLS = Table(
    "tool_calls",
    metadata,
    _serial(),
    Column("call_id", String(ID), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("event", String(16), nullable=False),
    Column("run_id", String(ID), nullable=False),
    Column("thread_id", String(ID), nullable=False),
    Column("function_name", String(ID), nullable=False),
    Column("arguments", Text, nullable=False),
    Column("output", Text, nullable=True),
    Column("is_error", Boolean, nullable=False),
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("prev_hash", String(HASH), nullable=False),
    Column("row_hash", String(HASH), nullable=False),
    Column("scheme", String(SCHEME), nullable=False, server_default="sha256"),
    UniqueConstraint("call_id", "attempt", "event", name="uq_tool_calls_event"),
    UniqueConstraint("run_id", "seq", name="uq_tool_calls_run_seq"),
    Index("ix_tool_calls_run_id", "run_id"),
)

#: The latest version of an object, with the columns the local queries filter on.
HEADS = Table(
    "heads",
    metadata,
    Column("object_id", String(ID), primary_key=True),
    Column("object_type", String(16), nullable=False),
    Column("chain_id", String(ID), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(HASH), nullable=False),
    Column("tombstone", Boolean, nullable=False),
    Column("thread_id", String(ID), nullable=True),
    Column("run_id", String(ID), nullable=True),
    Column("assistant_id", String(ID), nullable=True),
    Column("status", String(32), nullable=True),
    Column("created_at", BigInteger, nullable=True),
    # When the archive first saw the object, and where in its chain: the order of arrival,
    # which breaks ties between objects created in the same second.
    Column("first_observed_at_us", BigInteger, nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Index("ix_heads_type_thread_created", "object_type", "thread_id", "created_at"),
    Index("ix_heads_run_id", "run_id"),
    Index("ix_heads_assistant_id", "assistant_id"),
    Index("ix_heads_type_status", "object_type", "status"),
    Index("ix_heads_thread_status", "thread_id", "status"),  # a thread's unfinished objects
)

#: The metadata pairs of each object's latest version, for search by key and value.
HEAD_METADATA = Table(
    "head_metadata",
    metadata,
    Column("object_id", String(ID), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", String(512), nullable=False),
    Index("ix_head_metadata_key_value", "key", "value"),
)

#: The tip of one hash chain; appending locks this row so that writers take turns. ``scheme`` is
#: that of the last row: a chain sealed with a key is only appended with it.
CHAINS = Table(
    "chains",
    metadata,
    Column("chain_id", String(ID), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(HASH), nullable=False),
    Column("scheme", String(SCHEME), nullable=False, server_default="sha256"),
)

#: A state of the archive that ``audit verify`` found sound: every chain's length and end hash,
#: under the digest that names it. The digest is what a user keeps elsewhere; this row only spells
#: it out, and is checked against it before use.
CHECKPOINTS = Table(
    "checkpoints",
    metadata,
    Column("digest", String(HASH), primary_key=True),
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
)

#: A thread the archive keeps in sync, with its incremental-sync cursors and lease.
TRACKED = Table(
    "tracked_threads",
    metadata,
    Column("thread_id", String(ID), primary_key=True),
    Column("tracked_at_us", BigInteger, nullable=False),
    Column("message_cursor", String(ID), nullable=True),
    Column("run_cursor", String(ID), nullable=True),
    Column("last_synced_at_us", BigInteger, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until_us", BigInteger, nullable=True),
    Column("gone", Boolean, nullable=False, default=False),
    Index("ix_tracked_threads_synced", "last_synced_at_us"),
)


def _journal_id() -> Column[int]:
    return Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


#: A conversation create about to be sent for a thread (``assistdb threads migrate``): the
#: Conversations API cannot list conversations, so one whose answer was lost can only be named.
MIGRATION_ATTEMPTS = Table(
    "migration_attempts",
    metadata,
    _journal_id(),
    Column("thread_id", String(ID), nullable=False),
    Column("target", String(512), nullable=False),
    Column("attempted_at_us", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)

#: The conversation a thread was migrated to, on one target (append-only).
MIGRATION_CONVERSATIONS = Table(
    "migration_conversations",
    metadata,
    _journal_id(),
    Column("thread_id", String(ID), nullable=False),
    Column("target", String(512), nullable=False),
    Column("conversation_id", String(ID), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("thread_id", "target", name="uq_migration_conversations_thread_target"),
    sqlite_autoincrement=True,
)

#: A planned item confirmed in its conversation, by position (append-only, once each).
MIGRATION_ITEMS = Table(
    "migration_items",
    metadata,
    _journal_id(),
    Column("conversation_id", String(ID), nullable=False),
    Column("position", Integer, nullable=False),
    Column("item_id", String(ID), nullable=False),
    Column("confirmed_at_us", BigInteger, nullable=False),
    UniqueConstraint("conversation_id", "position", name="uq_migration_items_position"),
    sqlite_autoincrement=True,
)

#: File content, content-addressed: one row per distinct content (its SHA-256, size and number of
#: parts), written only once all its parts are. Append-only, like the archive.
FILE_CONTENTS = Table(
    "file_contents",
    metadata,
    Column("sha256", String(HASH), primary_key=True),
    Column("bytes", BigInteger, nullable=False),
    Column("parts", Integer, nullable=False),
    Column("stored_at_us", BigInteger, nullable=False),
)

#: The content itself, in parts of at most ``store.contents.PART_SIZE`` bytes, so that neither
#: writing nor reading a large file holds it in memory (a blob, on SQLite and PostgreSQL alike).
FILE_PARTS = Table(
    "file_parts",
    metadata,
    Column("sha256", String(HASH), nullable=False),
    Column("part", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("sha256", "part", name="pk_file_parts"),
)

#: Which content an API file has: recorded on upload (hashed as it is sent) and on download.
#: Many files may share one content; looking files up by hash is how ``assistants apply`` knows a
#: file was uploaded already. The content itself is archived only when asked.
FILE_HASHES = Table(
    "file_hashes",
    metadata,
    Column("file_id", String(ID), primary_key=True),
    Column("sha256", String(HASH), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("recorded_at_us", BigInteger, nullable=False),
    Index("ix_file_hashes_sha256", "sha256"),
)

ARCHIVE_TABLES = ("versions", "tool_calls", "checkpoints")
FILE_TABLES = ("file_contents", "file_parts", "file_hashes")

#: The full-text index of message text (migration 0003): an FTS5 virtual table (and its shadow
#: tables) on SQLite, a table with a generated ``tsvector`` on PostgreSQL; written only by a
#: trigger, so it is not modelled here.
SEARCH_INDEX = "message_search"


def is_modelled(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: compare everything but the search index with the models."""
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_INDEX))
