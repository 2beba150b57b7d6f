"""Trusting and using the archive without the API: verify its chains, compare it with the API,
read a thread's transcript, account for token usage, and move it in and out as JSONL."""

from assistdb.audit.diff import ObjectChange, ThreadDiff, diff_thread
from assistdb.audit.export import export_archive
from assistdb.audit.export_format import RowCounts
from assistdb.audit.importing import import_archive
from assistdb.audit.reindex import ReindexResult, reindex
from assistdb.audit.transcript import Transcript, build_transcript
from assistdb.audit.usage import UsageReport, UsageRow, usage_report
from assistdb.audit.verify import VerifyReport, verify

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
