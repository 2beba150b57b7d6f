"""Trusting and using the archive without the API: verify its chains, compare it with the API,
read a thread's transcript, account for token usage, and move it in and out as JSONL.

Everything here but ``diff_thread`` reads only the archive; ``diff_thread`` needs the SDK, so it
(and its result types) load on first use, which keeps archive-only commands from importing it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from assistdb.audit.export import export_archive
from assistdb.audit.export_format import RowCounts
from assistdb.audit.importing import import_archive
from assistdb.audit.reindex import ReindexResult, reindex
from assistdb.audit.transcript import Transcript, build_transcript
from assistdb.audit.usage import UsageReport, UsageRow, usage_report
from assistdb.audit.verify import VerifyReport, verify

if TYPE_CHECKING:
    from assistdb.audit.diff import ObjectChange, ThreadDiff, diff_thread

_NEEDS_THE_SDK = ("ObjectChange", "ThreadDiff", "diff_thread")

__all__ = [
    "ObjectChange",
    "ReindexResult",
    "RowCounts",
    "ThreadDiff",
    "Transcript",
    "UsageReport",
    "UsageRow",
    "VerifyReport",
    "build_transcript",
    "diff_thread",
    "export_archive",
    "import_archive",
    "reindex",
    "usage_report",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name not in _NEEDS_THE_SDK:
        raise AttributeError(f"module 'assistdb.audit' has no attribute {name!r}")
    value = getattr(importlib.import_module("assistdb.audit.diff"), name)
    globals()[name] = value
    return value
