"""assistdb: Assistants API objects through the official SDK, with a tamper-evident local archive.

The public names are loaded on first use, so that ``import assistdb`` (and every CLI command)
only pays for the layers it touches: the SDK, SQLAlchemy and the server are heavy to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from assistdb._version import __version__
from assistdb.errors import (
    ApiConnectionError,
    ApiError,
    ApiNotFoundError,
    ApiUnreachableError,
    AssistDBError,
    AuthenticationError,
    ConflictError,
    DatabaseError,
    Interrupted,
    InvalidApiObjectError,
    InvalidInputError,
    MigrationError,
    NotFoundError,
    RunEndedError,
    RunError,
    RunTimeoutError,
    SchemaTooNewError,
    VerificationError,
)
from assistdb.texts import message_text

if TYPE_CHECKING:
    from assistdb.client import ClientSettings
    from assistdb.facades import AssistDB, AsyncAssistDB
    from assistdb.repositories.base import ArchivedVersion
    from assistdb.repositories.conversation import AsyncThreadHandle, ThreadHandle
    from assistdb.repositories.runs import RunParameters
    from assistdb.runner import Tool, ToolRegistry, load_tools, tool
    from assistdb.runner.rules.durations import DurationBook
    from assistdb.store.contents import FileHash

_LAZY = {
    "AssistDB": "assistdb.facades",
    "AsyncAssistDB": "assistdb.facades",
    "ArchivedVersion": "assistdb.repositories.base",
    "ThreadHandle": "assistdb.repositories.conversation",
    "AsyncThreadHandle": "assistdb.repositories.conversation",
    "RunParameters": "assistdb.repositories.runs",
    "ClientSettings": "assistdb.client",
    "DurationBook": "assistdb.runner.rules.durations",
    "FileHash": "assistdb.store.contents",
    "Tool": "assistdb.runner",
    "ToolRegistry": "assistdb.runner",
    "load_tools": "assistdb.runner",
    "tool": "assistdb.runner",
}

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "ApiNotFoundError",
    "ApiUnreachableError",
    "ArchivedVersion",
    "AssistDB",
    "AssistDBError",
    "AsyncAssistDB",
    "AsyncThreadHandle",
    "AuthenticationError",
    "ClientSettings",
    "ConflictError",
    "DatabaseError",
    "DurationBook",
    "FileHash",
    "Interrupted",
    "InvalidApiObjectError",
    "InvalidInputError",
    "MigrationError",
    "NotFoundError",
    "RunEndedError",
    "RunError",
    "RunParameters",
    "RunTimeoutError",
    "SchemaTooNewError",
    "ThreadHandle",
    "Tool",
    "ToolRegistry",
    "VerificationError",
    "__version__",
    "load_tools",
    "message_text",
    "tool",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'assistdb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
