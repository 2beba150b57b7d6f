"""Full-text search over the text of archived messages, best matches first.

The index (``message_search``, migration 0003) holds the text of each message's latest version
and is kept current by a trigger on ``versions``. SQLite ranks with FTS5's BM25, PostgreSQL with
``ts_rank`` over an English ``tsvector``; both stem words ("refunds" finds "refund") and require
every word of the query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from assistdb.errors import InvalidInputError
from assistdb.store.database import Database

#: Marks around the matched words in a snippet.
MARK_START, MARK_END = "**", "**"
SNIPPET_WORDS = 16


@dataclass(frozen=True)
class SearchHit:
    """One matching message: where it is, a snippet with the matches marked, and its score
    (higher is better; comparable within one search only)."""

    message_id: str
    thread_id: str | None
    role: str | None
    created_at: int | None
    snippet: str
    score: float


@dataclass(frozen=True)
class SearchFilters:
    thread_id: str | None = None
    assistant_id: str | None = None  # threads this assistant ran on
    role: str | None = None
    created_after: int | None = None


def search_messages(
    database: Database, query: str, filters: SearchFilters = SearchFilters(), *, limit: int = 20
) -> list[SearchHit]:
    """Messages whose latest text contains every word of ``query``, best first."""
    words = query.split()
    if not words:
        raise InvalidInputError("the search query is empty", hint="give one or more words to look for")
    params: dict[str, Any] = {"limit": limit}
    conditions = []
    if filters.thread_id is not None:
        conditions.append("{t}.thread_id = :thread_id")
        params["thread_id"] = filters.thread_id
    if filters.role is not None:
        conditions.append("{t}.role = :role")
        params["role"] = filters.role
    if filters.created_after is not None:
        conditions.append("{t}.created_at >= :created_after")
        params["created_after"] = filters.created_after
    if filters.assistant_id is not None:
        conditions.append(
            "{t}.thread_id IN (SELECT thread_id FROM heads WHERE object_type = 'run' "
            "AND assistant_id = :assistant_id)"
        )
        params["assistant_id"] = filters.assistant_id
    where = "".join(f" AND {condition}" for condition in conditions)  # {t}: the index's name here
    if database.dialect == "postgresql":
        params["query"] = " ".join(words)
        statement = (
            "SELECT s.message_id, s.thread_id, s.role, s.created_at, "
            "ts_headline('english', s.text, q, :options) AS snippet, ts_rank(s.tsv, q) AS score "
            "FROM message_search s, plainto_tsquery('english', :query) q "
            f"WHERE s.tsv @@ q{where.format(t='s')} ORDER BY score DESC, s.created_at DESC LIMIT :limit"
        )
        params["options"] = (
            f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_WORDS}, "
            "MinWords=6, MaxFragments=1, FragmentDelimiter=…"
        )
    else:
        # Each word quoted: FTS5 operators (AND, NEAR, *, column filters) in a query are text.
        params["query"] = " ".join('"' + word.replace('"', '""') + '"' for word in words)
        params["start"], params["end"] = MARK_START, MARK_END
        statement = (
            "SELECT message_id, thread_id, role, created_at, "
            f"snippet(message_search, 0, :start, :end, '…', {SNIPPET_WORDS}) AS snippet, "
            "-bm25(message_search) AS score "
            # FTS5's MATCH and functions need the table's own name, not an alias.
            f"FROM message_search WHERE message_search MATCH :query{where.format(t='message_search')} "
            "ORDER BY bm25(message_search), created_at DESC LIMIT :limit"
        )
    with database.read() as connection:
        rows = connection.execute(text(statement), params).all()
    return [
        SearchHit(
            message_id=row.message_id,
            thread_id=row.thread_id,
            role=row.role,
            created_at=int(row.created_at) if row.created_at is not None else None,
            snippet=" ".join(str(row.snippet or "").split()),
            score=round(float(row.score), 6),
        )
        for row in rows
    ]
