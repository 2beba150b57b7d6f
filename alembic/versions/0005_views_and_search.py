"""SQL views of the latest version of each object, and a full-text index of message text.

The views (``assistants``, ``threads``, ``messages``, ``runs``, ``run_steps``, ``message_texts``)
let sqlite3, psql and Datasette users query the archive without knowing its layout: one row per
live object, its latest version, with the useful JSON fields as columns and the whole ``body``.

``message_search`` indexes the text of each message's latest version (SQLite FTS5, PostgreSQL
``tsvector``). A trigger on ``versions`` keeps it current, so every writer (sync, import, the
run engine) updates it without knowing it exists; the upgrade fills it for existing archives.
Both are derived: the append-only tables and their hash chains are untouched.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = ("message_texts", "run_steps", "runs", "messages", "threads", "assistants")
#: (column, JSON path, kind): kind is "text", "int", "real" or "json" (an object or array).
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "assistants": [
        ("name", "name", "text"),
        ("model", "model", "text"),
        ("description", "description", "text"),
        ("instructions", "instructions", "text"),
        ("tools", "tools", "json"),
        ("temperature", "temperature", "real"),
        ("top_p", "top_p", "real"),
    ],
    "threads": [],
    "messages": [
        ("thread_id", "thread_id", "text"),
        ("run_id", "run_id", "text"),
        ("assistant_id", "assistant_id", "text"),
        ("role", "role", "text"),
        ("status", "status", "text"),
    ],
    "runs": [
        ("thread_id", "thread_id", "text"),
        ("assistant_id", "assistant_id", "text"),
        ("status", "status", "text"),
        ("model", "model", "text"),
        ("started_at", "started_at", "int"),
        ("completed_at", "completed_at", "int"),
        ("prompt_tokens", "usage.prompt_tokens", "int"),
        ("completion_tokens", "usage.completion_tokens", "int"),
        ("total_tokens", "usage.total_tokens", "int"),
        ("last_error_code", "last_error.code", "text"),
        ("last_error_message", "last_error.message", "text"),
        ("instructions", "instructions", "text"),
    ],
    "run_steps": [
        ("run_id", "run_id", "text"),
        ("thread_id", "thread_id", "text"),
        ("assistant_id", "assistant_id", "text"),
        ("type", "type", "text"),
        ("status", "status", "text"),
        ("completed_at", "completed_at", "int"),
        ("total_tokens", "usage.total_tokens", "int"),
    ],
}
OBJECT_TYPES = {
    "assistants": "assistant",
    "threads": "thread",
    "messages": "message",
    "runs": "run",
    "run_steps": "run_step",
}


def _sqlite_field(path: str, kind: str) -> str:
    return f"json_extract(v.body, '$.{path}')"


def _postgres_field(path: str, kind: str) -> str:
    keys = path.split(".")
    if kind == "json":
        return f"(j.doc #> '{{{','.join(keys)}}}')"
    value = f"(j.doc #>> '{{{','.join(keys)}}}')"
    return {"int": f"{value}::bigint", "real": f"{value}::double precision"}.get(kind, value)


def _sqlite_text(body: str) -> str:
    """The text parts of a message body, one per line (SQLite)."""
    return (
        "(SELECT group_concat(json_extract(part.value, '$.text.value'), char(10)) "
        f"FROM json_each({body}, '$.content') AS part "
        "WHERE json_extract(part.value, '$.type') = 'text')"
    )


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _upgrade_postgres()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS versions_index_messages ON versions")
        op.execute("DROP FUNCTION IF EXISTS assistdb_index_message()")
        op.execute("DROP TABLE IF EXISTS message_search")
        op.execute("DROP FUNCTION IF EXISTS assistdb_message_text(jsonb)")
        op.execute("DROP FUNCTION IF EXISTS assistdb_json(text)")
    else:
        op.execute("DROP TRIGGER IF EXISTS versions_index_messages")
        op.execute("DROP TABLE IF EXISTS message_search")


def _latest(object_type: str, extra_from: str = "") -> str:
    return (
        "FROM heads h JOIN versions v ON v.object_id = h.object_id AND v.version = h.version"
        f"{extra_from} WHERE h.object_type = '{object_type}' AND NOT h.tombstone"
    )


def _upgrade_sqlite() -> None:
    for view, fields in FIELDS.items():
        columns = [f"{_sqlite_field(path, kind)} AS {name}" for name, path, kind in fields]
        if view == "messages":
            columns.append(f"{_sqlite_text('v.body')} AS text")
        op.execute(
            f"CREATE VIEW {view} AS SELECT h.object_id AS id, "
            + "".join(f"{column}, " for column in columns)
            + "h.created_at AS created_at, datetime(h.created_at, 'unixepoch') AS created, "
            "json_extract(v.body, '$.metadata') AS metadata, h.version AS version, "
            "datetime(v.observed_at_us / 1000000, 'unixepoch') AS observed, v.body AS body "
            + _latest(OBJECT_TYPES[view])
        )
    op.execute(
        "CREATE VIEW message_texts AS SELECT h.object_id AS message_id, h.thread_id AS thread_id, "
        "h.run_id AS run_id, json_extract(v.body, '$.role') AS role, h.created_at AS created_at, "
        "CAST(part.key AS INTEGER) AS part, json_extract(part.value, '$.text.value') AS text "
        + _latest("message", ", json_each(v.body, '$.content') AS part")
        + " AND json_extract(part.value, '$.type') = 'text'"
    )
    op.execute(
        "CREATE VIRTUAL TABLE message_search USING fts5("
        "text, message_id UNINDEXED, thread_id UNINDEXED, role UNINDEXED, created_at UNINDEXED, "
        "tokenize = 'porter unicode61')"
    )
    # The index row of a message is keyed by its latest version's row ID: a new version replaces
    # the row of the one before it (versions of an object are appended in order).
    op.execute(
        "CREATE TRIGGER versions_index_messages AFTER INSERT ON versions "
        "WHEN NEW.object_type = 'message' BEGIN "
        "DELETE FROM message_search WHERE rowid = (SELECT id FROM versions "
        "WHERE object_id = NEW.object_id AND version = NEW.version - 1); "
        "INSERT INTO message_search (rowid, text, message_id, thread_id, role, created_at) "
        f"SELECT NEW.id, {_sqlite_text('NEW.body')}, NEW.object_id, NEW.thread_id, "
        "json_extract(NEW.body, '$.role'), json_extract(NEW.body, '$.created_at') "
        f"WHERE NOT NEW.tombstone AND {_sqlite_text('NEW.body')} IS NOT NULL; "
        "END"
    )
    op.execute(
        "INSERT INTO message_search (rowid, text, message_id, thread_id, role, created_at) "
        f"SELECT v.id, {_sqlite_text('v.body')}, v.object_id, v.thread_id, "
        "json_extract(v.body, '$.role'), json_extract(v.body, '$.created_at') "
        + _latest("message")
        + f" AND {_sqlite_text('v.body')} IS NOT NULL"
    )


def _upgrade_postgres() -> None:
    # Bodies are JSON text; one with a \u0000 escape is valid JSON that jsonb refuses, so the
    # views and the index read bodies through a cast that never fails a whole query.
    op.execute(
        """
        CREATE FUNCTION assistdb_json(body text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
        BEGIN
            RETURN body::jsonb;
        EXCEPTION WHEN others THEN
            BEGIN
                RETURN replace(body, '\\u0000', '\\ufffd')::jsonb;
            EXCEPTION WHEN others THEN
                RETURN NULL;
            END;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION assistdb_message_text(doc jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
            SELECT string_agg(part.value #>> '{text,value}', E'\\n' ORDER BY part.ordinality)
            FROM jsonb_array_elements(
                CASE WHEN jsonb_typeof(doc -> 'content') = 'array' THEN doc -> 'content' ELSE '[]' END
            ) WITH ORDINALITY AS part(value, ordinality)
            WHERE part.value ->> 'type' = 'text'
        $$
        """
    )
    lateral = " CROSS JOIN LATERAL (SELECT assistdb_json(v.body) AS doc) j"
    for view, fields in FIELDS.items():
        columns = [f"{_postgres_field(path, kind)} AS {name}" for name, path, kind in fields]
        if view == "messages":
            columns.append("assistdb_message_text(j.doc) AS text")
        op.execute(
            f"CREATE VIEW {view} AS SELECT h.object_id AS id, "
            + "".join(f"{column}, " for column in columns)
            + "h.created_at AS created_at, to_timestamp(h.created_at) AS created, "
            "(j.doc -> 'metadata') AS metadata, h.version AS version, "
            "to_timestamp(v.observed_at_us / 1000000.0) AS observed, j.doc AS body "
            + _latest(OBJECT_TYPES[view], lateral)
        )
    op.execute(
        "CREATE VIEW message_texts AS SELECT h.object_id AS message_id, h.thread_id AS thread_id, "
        "h.run_id AS run_id, j.doc ->> 'role' AS role, h.created_at AS created_at, "
        "(part.ordinality - 1)::integer AS part, part.value #>> '{text,value}' AS text "
        + _latest(
            "message",
            lateral + " CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(j.doc -> 'content') "
            "= 'array' THEN j.doc -> 'content' ELSE '[]' END) WITH ORDINALITY AS part(value, ordinality)",
        )
        + " AND part.value ->> 'type' = 'text'"
    )
    op.execute(
        "CREATE TABLE message_search ("
        "message_id varchar(128) PRIMARY KEY, version_id bigint NOT NULL, "
        "thread_id varchar(128), role varchar(16), created_at bigint, text text NOT NULL, "
        "tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED)"
    )
    op.execute("CREATE INDEX ix_message_search_tsv ON message_search USING gin (tsv)")
    op.execute("CREATE INDEX ix_message_search_thread ON message_search (thread_id)")
    op.execute(
        """
        CREATE FUNCTION assistdb_index_message() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            doc jsonb := assistdb_json(NEW.body);
            content text := assistdb_message_text(doc);
        BEGIN
            DELETE FROM message_search WHERE message_id = NEW.object_id;
            IF NOT NEW.tombstone AND content IS NOT NULL THEN
                INSERT INTO message_search (message_id, version_id, thread_id, role, created_at, text)
                VALUES (NEW.object_id, NEW.id, NEW.thread_id, doc ->> 'role',
                        (doc ->> 'created_at')::bigint, content);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER versions_index_messages AFTER INSERT ON versions FOR EACH ROW "
        "WHEN (NEW.object_type = 'message') EXECUTE FUNCTION assistdb_index_message()"
    )
    op.execute(
        "INSERT INTO message_search (message_id, version_id, thread_id, role, created_at, text) "
        "SELECT h.object_id, v.id, h.thread_id, j.doc ->> 'role', h.created_at, "
        "assistdb_message_text(j.doc) "
        + _latest("message", lateral)
        + " AND assistdb_message_text(j.doc) IS NOT NULL"
    )
