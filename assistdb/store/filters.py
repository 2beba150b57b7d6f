"""What a search of the archive may filter on: plain data, so that the CLI can build it
without loading the query layer (and SQLAlchemy) before a command runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Filters:
    """What a local search may filter on; every given filter must hold."""

    thread_id: str | None = None
    run_id: str | None = None
    vector_store_id: str | None = None  # a vector store's files (``vs_file``)
    assistant_id: str | None = None
    status: str | None = None
    metadata: Mapping[str, str] | None = None
    created_after: int | None = None
    created_before: int | None = None
    include_deleted: bool = False
