"""Syncing many threads at once: a few workers here, and any number of processes elsewhere.

Each worker claims the least recently synced thread that nobody holds (a lease in
``tracked_threads``), syncs it and gives the lease back. Leases only spare wasted work; what
keeps concurrent syncs of one thread from storing a version twice is the archive's chain lock.
A thread synced by anyone since this call began is left alone, so several processes started
together share the threads instead of each doing them all.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from assistdb.errors import InvalidInputError
from assistdb.facades import AssistDB
from assistdb.repositories.validation import check_id
from assistdb.store.archive import now_us
from assistdb.sync.results import SyncSummary, ThreadSyncResult
from assistdb.sync.thread_sync import Lease, ThreadSync

#: Renewed at every checkpoint, so it only needs to outlast one page and its retries.
LEASE_SECONDS = 120.0
#: Explicit thread IDs are offered to the claim query this many at a time.
CLAIM_GROUP = 500


def sync_threads(
    db: AssistDB,
    thread_ids: Sequence[str] | None = None,
    *,
    full: bool = False,
    workers: int = 4,
    on_progress: Callable[[ThreadSyncResult], None] | None = None,
) -> SyncSummary:
    """Sync these threads (None: every tracked thread not known to be gone), ``workers`` at once.

    Threads not yet tracked are tracked first. ``on_progress`` is called after each thread, one
    call at a time. A thread whose sync fails is reported in the summary and the others go on.
    """
    if workers < 1:
        raise InvalidInputError(f"workers must be at least 1, not {workers}", hint="pass workers=1 or more")
    db.client  # noqa: B018  (a missing API key fails here, before any thread is leased)
    tracking = db.store.tracking
    chosen = None if thread_ids is None else list(dict.fromkeys(check_id("thread", t) for t in thread_ids))
    if chosen is not None:
        tracking.track(chosen)
    started_us = now_us()
    candidates = len(chosen) if chosen is not None else len(tracking.thread_ids())
    groups = (
        [None]
        if chosen is None
        else [chosen[i : i + CLAIM_GROUP] for i in range(0, len(chosen), CLAIM_GROUP)]
    )
    lease = Lease(_lease_owner(), LEASE_SECONDS)
    void_owners = _dead_local_owners(tracking.lease_owners())
    summary = SyncSummary()
    lock = threading.Lock()
    stop = threading.Event()
    # Threads this call must not claim again: the ones being synced and the ones that failed
    # (another process, or the next call, retries those). Synced ones are excluded by their time.
    excluded: set[str] = set()

    def claim() -> str | None:
        for group in groups:
            thread_id = tracking.claim_next(
                lease.owner,
                lease.seconds,
                synced_before_us=started_us,
                among=group,
                exclude=excluded,
                void_owners=void_owners,
            )
            if thread_id is not None:
                return thread_id
        return None

    def work() -> None:
        while not stop.is_set():
            with lock:
                thread_id = claim()
                if thread_id is None:
                    return
                excluded.add(thread_id)
            result = ThreadSync(db, thread_id, full=full, lease=lease, stop=stop).run()
            with lock:
                if result.ok:
                    excluded.discard(thread_id)
                summary.add(result)
                if on_progress is not None:
                    on_progress(result)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="assistdb-sync")
    futures = [pool.submit(work) for _ in range(workers)]
    try:
        for future in futures:
            future.result()
    except BaseException:
        # The other workers stop after their current page; an interrupted caller does not wait
        # for that (what they commit is consistent either way).
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    summary.skipped = max(0, candidates - summary.threads)
    return summary


def _lease_owner() -> str:
    """Unique per call: host, process and a random part, so that workers of two calls never mix."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_local_owners(owners: Iterable[str]) -> list[str]:
    """Lease owners that were processes of this host and no longer exist (killed, crashed).

    A killed sync cannot give its leases back; without this, running the sync again right after
    a crash would skip the threads the dead process held until their leases ran out.
    """
    if os.name != "posix":
        return []
    host = socket.gethostname()[:40]
    dead = []
    for owner in owners:
        owner_host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if owner_host == host and pid.isdigit() and not _process_exists(int(pid)):
            dead.append(owner)
    return dead


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's process
        return True
    return True
