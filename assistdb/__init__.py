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
    AssistDBError,
    AuthenticationError,
    DatabaseError,
    InvalidInputError,
    NotFoundError,
    RunEndedError,
    RunError,
    RunTimeoutError,
    SchemaTooNewError,
    VerificationError,
)

if TYPE_CHECKING:
    from assistdb.repositories import AssistDB
    from assistdb.runner import AsyncAssistDB, ToolRegistry, tool

_LAZY = {
    "AssistDB": "assistdb.repositories",
    "AsyncAssistDB": "assistdb.runner",
    "ToolRegistry": "assistdb.runner",
    "tool": "assistdb.runner",
}

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "AssistDB",
    "AssistDBError",
    "AsyncAssistDB",
    "AuthenticationError",
    "DatabaseError",
    "InvalidInputError",
    "NotFoundError",
    "RunEndedError",
    "RunError",
    "RunTimeoutError",
    "SchemaTooNewError",
    "ToolRegistry",
    "VerificationError",
    "__version__",
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
