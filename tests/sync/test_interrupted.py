"""A sync stopped half-way (server faults, a killed process) leaves a consistent archive, and the
next sync finishes the job with no duplicates."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

from assistdb import AssistDB
from assistdb.audit.verify import verify
from assistdb.server import LocalServer
from assistdb.store import Filters
from assistdb.sync import sync_thread
from tests.sync.helpers import duplicated_versions, fingerprint, version_rows

LIST_MESSAGES = "listMessages"


def _reference(tmp_path: Path, server: LocalServer, thread_id: str) -> AssistDB:
    """The same thread synced in one go, undisturbed, into a database of its own."""
    reference = AssistDB(f"sqlite:///{tmp_path / 'reference.sqlite3'}", client=server.client())
    assert sync_thread(reference, thread_id).ok
    return reference


def test_a_sync_stopped_by_server_faults_resumes_without_duplicates(
    db: AssistDB, assistdb_server: LocalServer, tmp_path: Path
) -> None:
    thread_id = assistdb_server.seed_thread(messages=700, runs=30)
    listed = 0

    def fail_after_three_pages(operation_id: str, status: int, body: object) -> None:
        nonlocal listed
        if operation_id == LIST_MESSAGES:
            listed += 1
            if listed == 3:  # from now on every request is refused, even after retries
                assistdb_server.configure(fault_rate=1.0, rate_limit_share=1.0)

    assistdb_server.on_response = fail_after_three_pages
    stopped = sync_thread(db, thread_id)

    assert stopped.error is not None and "rate limit" in stopped.error
    in_thread = Filters(thread_id=thread_id)
    assert db.store.reader.count("message", in_thread) == 300  # whole pages, each with its checkpoint
    cursor = db.store.tracking.cursor(thread_id)
    assert cursor is not None and cursor.last_synced_at_us is None
    assert cursor.message_cursor == db.store.reader.find("message", in_thread, order="desc")[0].object_id
    assert verify(db.store).ok

    assistdb_server.on_response = None
    assistdb_server.configure(fault_rate=0.0)
    resumed = sync_thread(db, thread_id)

    assert resumed.ok and resumed.versions == 400 + 30 + 30
    assert fingerprint(db.store) == fingerprint(_reference(tmp_path, assistdb_server, thread_id).store)
    assert duplicated_versions(db.store) == 0
    assert verify(db.store).ok


def test_a_flaky_server_is_ridden_out_by_retries(db: AssistDB, assistdb_server: LocalServer) -> None:
    thread_id = assistdb_server.seed_thread(messages=400, runs=20)
    assistdb_server.configure(fault_rate=0.3, rate_limit_share=1.0)  # 429s with a short Retry-After

    result = sync_thread(db, thread_id)

    assert assistdb_server.stats()["faults"] > 0
    assert result.ok and result.versions == 1 + 400 + 20 + 20


def _sync_in_child(database_url: str, base_url: str, api_key: str, thread_id: str) -> None:
    from openai import OpenAI

    sync_thread(AssistDB(database_url, client=OpenAI(base_url=base_url, api_key=api_key)), thread_id)


def test_a_killed_sync_process_resumes_without_duplicates(
    database_url: str, assistdb_server: LocalServer, tmp_path: Path
) -> None:
    thread_id = assistdb_server.seed_thread(messages=2000, runs=200)
    assistdb_server.configure(latency=0.01)  # slow enough to be killed half-way
    db = AssistDB(database_url, client=assistdb_server.client())
    child = multiprocessing.get_context("spawn").Process(
        target=_sync_in_child,
        args=(database_url, assistdb_server.base_url, assistdb_server.api_key, thread_id),
    )
    child.start()
    deadline = time.monotonic() + 60
    while version_rows(db.store) < 600:
        assert child.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join()
    partial = version_rows(db.store)
    assert 600 <= partial < 1 + 2000 + 200 + 200
    assert verify(db.store).ok

    assistdb_server.configure(latency=0.0)
    resumed = sync_thread(db, thread_id)

    assert resumed.ok and partial + resumed.versions == 1 + 2000 + 200 + 200
    assert fingerprint(db.store) == fingerprint(_reference(tmp_path, assistdb_server, thread_id).store)
    assert duplicated_versions(db.store) == 0
    assert verify(db.store).ok
    db.close()
