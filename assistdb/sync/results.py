"""What a sync did, in counts a person or a program can act on."""

from __future__ import annotations

from dataclasses import dataclass, field

from assistdb.store import RecordResult


@dataclass
class ThreadSyncResult:
    """One thread's sync: requests and pages fetched, versions and tombstones stored, objects
    found unchanged, and the error that stopped it, if any (the next sync resumes from the last
    checkpoint)."""

    thread_id: str
    full: bool = False
    requests: int = 0
    pages: int = 0
    versions: int = 0
    tombstones: int = 0
    unchanged: int = 0
    gone: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def add_versions(self, recorded: RecordResult) -> None:
        self.versions += len(recorded.stored)
        self.unchanged += recorded.unchanged


@dataclass
class SyncSummary:
    """Many threads' syncs: totals, each thread's result, and the error of each failed thread.

    ``skipped`` counts threads left to others: leased by another process, synced by one since
    this sync began, or already known to be gone.
    """

    threads: int = 0
    failed: int = 0
    skipped: int = 0
    gone: int = 0
    requests: int = 0
    pages: int = 0
    versions: int = 0
    tombstones: int = 0
    unchanged: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    results: list[ThreadSyncResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def add(self, result: ThreadSyncResult) -> None:
        self.results.append(result)
        self.threads += 1
        self.requests += result.requests
        self.pages += result.pages
        self.versions += result.versions
        self.tombstones += result.tombstones
        self.unchanged += result.unchanged
        self.gone += int(result.gone)
        if result.error is not None:
            self.failed += 1
            self.errors[result.thread_id] = result.error


@dataclass
class PullResult:
    """One pass over every assistant: new versions (changes), tombstones (deleted remotely)."""

    assistants: int = 0
    requests: int = 0
    pages: int = 0
    versions: int = 0
    tombstones: int = 0
    unchanged: int = 0
