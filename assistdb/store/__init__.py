"""The store layer: the database, its append-only archive, and the bookkeeping beside it.

The names below are loaded on first use, so that a module needing only ``store.objects`` or
``Filters`` (the CLI's command modules, for ``--help``) does not import SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistdb.store import migrations
    from assistdb.store.archive import ArchiveWriter, RecordResult
    from assistdb.store.database import Database, default_database_path, default_database_url
    from assistdb.store.filters import Filters
    from assistdb.store.opened import Store
    from assistdb.store.queries import ArchiveReader, StoredVersion

_WHERE = {
    "migrations": "assistdb.store.migrations",
    "ArchiveWriter": "assistdb.store.archive",
    "RecordResult": "assistdb.store.archive",
    "Database": "assistdb.store.database",
    "default_database_path": "assistdb.store.database",
    "default_database_url": "assistdb.store.database",
    "Filters": "assistdb.store.filters",
    "Store": "assistdb.store.opened",
    "ArchiveReader": "assistdb.store.queries",
    "StoredVersion": "assistdb.store.queries",
}

__all__ = [
    "ArchiveReader",
    "ArchiveWriter",
    "Database",
    "Filters",
    "RecordResult",
    "Store",
    "StoredVersion",
    "default_database_path",
    "default_database_url",
    "migrations",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(where)
    value = module if where.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value
