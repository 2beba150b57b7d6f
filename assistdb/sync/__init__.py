"""Keeping the archive in step with the API: threads (new objects, or a full reconcile) and assistants."""

from assistdb.sync.assistants import pull_assistants
from assistdb.sync.parallel import sync_threads
from assistdb.sync.results import PullResult, SyncSummary, ThreadSyncResult
from assistdb.sync.thread_sync import sync_thread

__all__ = ["PullResult", "SyncSummary", "ThreadSyncResult", "pull_assistants", "sync_thread", "sync_threads"]
