"""The repositories: the API's objects through the SDK, written through to the archive.

``AssistDB`` is loaded on first use, so that the helpers here (ID validation, say) can be imported
by archive-only code without importing the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistdb.repositories.facade import AssistDB

__all__ = ["AssistDB"]


def __getattr__(name: str) -> Any:
    if name != "AssistDB":
        raise AttributeError(f"module 'assistdb.repositories' has no attribute {name!r}")
    value = importlib.import_module("assistdb.repositories.facade").AssistDB
    globals()[name] = value
    return value
