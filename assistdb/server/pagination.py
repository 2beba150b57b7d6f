"""Cursor pagination: the page a list request asks for, and the list envelope.

Pages are read from the database by keyset on each collection's ``seq`` (``state.Tx.page``);
deleted objects keep their ``seq``, so a cursor naming one still marks a position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class PageRequest:
    """The ``limit``/``order``/``after``/``before`` query of a list operation, already validated."""

    limit: int = 20
    order: Order = "desc"
    after: str | None = None
    before: str | None = None


def list_object(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """The list envelope; ``first_id``/``last_id`` are null on an empty page, as the real API answered."""
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
