"""Syncing many threads: workers in one process, several processes on one database, leases."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from assistdb import AssistDB, InvalidInputError
from assistdb.audit.verify import verify
from assistdb.server import LocalServer
from assistdb.store.archive import now_us
from assistdb.sync import ThreadSyncResult, sync_threads
from tests.sync.helpers import duplicated_versions, fingerprint


def test_workers_sync_every_tracked_thread_once_and_report_progress(
    db: AssistDB, assistdb_server: LocalServer
) -> None:
    threads = [assistdb_server.seed_thread(messages=15, runs=3) for _ in range(8)]
    db.store.tracking.track(threads)
    progress: list[ThreadSyncResult] = []

    summary = sync_threads(db, workers=3, on_progress=progress.append)

    assert summary.ok and (summary.threads, summary.skipped) == (8, 0)
    assert sorted(result.thread_id for result in progress) == sorted(threads)
    assert summary.versions == sum(result.versions for result in progress) == 8 * (1 + 15 + 3 + 3)
    assert summary.requests == assistdb_server.stats()["total"]
    assert all(db.store.tracking.cursor(t).last_synced_at_us for t in threads)  # type: ignore[union-attr]

    again = sync_threads(db, workers=3)
    assert (again.threads, again.versions, again.requests) == (8, 0, 8 * 3)


def test_named_threads_are_tracked_and_synced(db: AssistDB, assistdb_server: LocalServer) -> None:
    named = [assistdb_server.seed_thread(messages=5) for _ in range(3)]
    other = assistdb_server.seed_thread(messages=5)
    db.store.tracking.track([other])

    summary = sync_threads(db, [*named, named[0]], workers=2)

    assert summary.ok and summary.threads == 3
    assert set(db.store.tracking.thread_ids()) == {*named, other}
    assert db.store.reader.current(other) is None


def test_failed_threads_are_reported_and_tried_once(db: AssistDB, assistdb_server: LocalServer) -> None:
    threads = [assistdb_server.seed_thread(messages=5) for _ in range(3)]
    assistdb_server.configure(fault_rate=1.0, rate_limit_share=1.0)

    summary = sync_threads(db, threads, workers=2)

    assert (summary.threads, summary.failed) == (3, 3) and not summary.ok
    assert sorted(summary.errors) == sorted(threads)
    assert all(db.store.tracking.cursor(t).last_synced_at_us is None for t in threads)  # type: ignore[union-attr]
    assistdb_server.configure(fault_rate=0.0)
    assert sync_threads(db, threads).ok


def test_a_thread_leased_by_another_process_is_left_to_it(db: AssistDB, assistdb_server: LocalServer) -> None:
    threads = [assistdb_server.seed_thread(messages=5) for _ in range(3)]
    db.store.tracking.track(threads)
    taken = db.store.tracking.claim_next("elsewhere:1:lease", 60, synced_before_us=now_us())
    assert taken in threads

    summary = sync_threads(db, workers=2)

    assert (summary.threads, summary.skipped) == (2, 1)
    assert taken not in {result.thread_id for result in summary.results}
    db.store.tracking.release(str(taken), "elsewhere:1:lease")
    assert sync_threads(db, [str(taken)]).threads == 1


def test_workers_must_be_at_least_one(db: AssistDB) -> None:
    with pytest.raises(InvalidInputError, match="workers"):
        sync_threads(db, workers=0)


def _sync_in_child(database_url: str, base_url: str, api_key: str, barrier: Any, results: Any) -> None:
    from openai import OpenAI

    db = AssistDB(database_url, client=OpenAI(base_url=base_url, api_key=api_key))
    barrier.wait(120)  # start together, as several hosts running one cron job would
    summary = sync_threads(db, workers=2)
    results.put((summary.threads, summary.failed))


def test_concurrent_processes_share_threads_and_store_what_a_single_sync_stores(
    database_url: str, assistdb_server: LocalServer, tmp_path: Path
) -> None:
    processes = 4 if database_url.startswith("postgresql") else 2
    threads = [assistdb_server.seed_thread(messages=20, runs=3) for _ in range(50)]
    db = AssistDB(database_url, client=assistdb_server.client())
    db.store.tracking.track(threads)
    reference = AssistDB(f"sqlite:///{tmp_path / 'reference.sqlite3'}", client=assistdb_server.client())
    reference.store.tracking.track(threads)
    assert sync_threads(reference, workers=1).threads == 50

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    children = [
        context.Process(
            target=_sync_in_child,
            args=(database_url, assistdb_server.base_url, assistdb_server.api_key, barrier, results),
        )
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=240) for _ in children]
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0] * processes

    synced = [count for count, failed in outcomes if failed == 0]
    assert len(synced) == processes and sum(synced) >= 50
    assert sum(1 for count in synced if count > 0) >= 2  # the work was shared
    assert fingerprint(db.store) == fingerprint(reference.store)
    assert duplicated_versions(db.store) == 0
    assert all(db.store.tracking.cursor(t).last_synced_at_us for t in threads)  # type: ignore[union-attr]
    assert verify(db.store).ok
    db.close()
    reference.close()
