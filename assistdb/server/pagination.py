"""Cursor pagination over collections kept in creation order.

Each collection is an ``OrderedIndex``: parallel sorted lists of sequence numbers and IDs, so
finding a cursor costs a binary search and a page costs its own length, whatever the size of
the collection. Deleted IDs keep their sequence number, so a cursor naming a deleted object
still marks a position: the page starts right where that object was.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from assistdb.server.errors import invalid

Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class PageRequest:
    """The ``limit``/``order``/``after``/``before`` query of a list operation, already validated."""

    limit: int = 20
    order: Order = "desc"
    after: str | None = None
    before: str | None = None


class OrderedIndex:
    """IDs of one collection in creation order, remembering where deleted IDs used to be."""

    def __init__(self) -> None:
        self._seqs: list[int] = []
        self._ids: list[str] = []
        self._alive: dict[str, int] = {}
        self._gone: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, object_id: str) -> bool:
        return object_id in self._alive

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._ids))

    def add(self, object_id: str, seq: int) -> None:
        if self._seqs and seq < self._seqs[-1]:
            at = bisect.bisect_left(self._seqs, seq)
            self._seqs.insert(at, seq)
            self._ids.insert(at, object_id)
        else:
            self._seqs.append(seq)
            self._ids.append(object_id)
        self._alive[object_id] = seq
        self._gone.pop(object_id, None)

    def remove(self, object_id: str) -> None:
        seq = self._alive.pop(object_id, None)
        if seq is None:
            return
        at = bisect.bisect_left(self._seqs, seq)
        del self._seqs[at]
        del self._ids[at]
        self._gone[object_id] = seq

    def remember(self, object_id: str, seq: int) -> None:
        """Record the position of an object deleted before this index was built (journal replay)."""
        if object_id not in self._alive:
            self._gone[object_id] = seq

    def position(self, object_id: str) -> int | None:
        """The sequence number of a live or deleted member, or None if it never was one."""
        seq = self._alive.get(object_id)
        return seq if seq is not None else self._gone.get(object_id)

    def gone(self) -> dict[str, int]:
        return dict(self._gone)

    def last(self, count: int) -> list[str]:
        """The ``count`` newest IDs, oldest first."""
        return self._ids[-count:] if count > 0 else []

    def newest_first(self) -> Iterator[str]:
        for at in range(len(self._ids) - 1, -1, -1):
            yield self._ids[at]

    def page(
        self, request: PageRequest, after_seq: int | None, before_seq: int | None
    ) -> tuple[list[str], bool]:
        """IDs of one page in the requested order, and whether more lie beyond it.

        ``after`` pages away from the cursor in list order; ``before`` alone returns the
        ``limit`` items just ahead of the cursor (the previous page), still in list order, and
        its ``has_more`` tells whether items lie further ahead.
        """
        seqs, ids, limit = self._seqs, self._ids, request.limit
        if request.order == "asc":
            lo = bisect.bisect_right(seqs, after_seq) if after_seq is not None else 0
            hi = bisect.bisect_left(seqs, before_seq) if before_seq is not None else len(seqs)
            if before_seq is not None and after_seq is None:
                start = max(lo, hi - limit)
                return ids[start:hi], start > lo
            return ids[lo : min(hi, lo + limit)], lo + limit < hi
        hi = bisect.bisect_left(seqs, after_seq) if after_seq is not None else len(seqs)
        lo = bisect.bisect_right(seqs, before_seq) if before_seq is not None else 0
        if before_seq is not None and after_seq is None:
            end = min(hi, lo + limit)
            return ids[lo:end][::-1], end < hi
        start = max(lo, hi - limit)
        return ids[start:hi][::-1], start > lo


def resolve_cursor(index: OrderedIndex, name: str, object_id: str | None) -> int | None:
    """The position a cursor names; an ID that was never in the collection is refused."""
    if object_id is None:
        return None
    seq = index.position(object_id)
    if seq is None:
        raise invalid(
            f"Invalid '{name}': no object with id '{object_id}' belongs to this list.",
            param=name,
            code="invalid_value",
        )
    return seq


def list_object(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """The list envelope; ``first_id``/``last_id`` are null on an empty page, as the real API answered."""
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
