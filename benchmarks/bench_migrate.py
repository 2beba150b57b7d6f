"""Migration to Conversations: items per second, next to the SDK posting the same batches by hand.

Threads are seeded in ``assistdb serve`` (a subprocess), synced into a fresh archive, then moved
to conversations on the same server twice, alternately, into new conversations each time:

* **by hand**: the SDK creates each conversation with the plan's first 20 items and adds the
  rest 20 at a time (``items.create``), with the items already planned: no journal, no checks;
* **by hand, generic post**: the same requests through the SDK's generic ``post`` with the
  items as JSON, as assistdb sends them (the typed methods' walk over every item's shape is most
  of the typed calls' time): what is left between this and assistdb is assistdb's own work;
* **assistdb**: ``Migrator.migrate_all`` (what ``assistdb threads migrate`` runs): planning
  from the archive (each thread while the one before it is sent) and the journal in the
  archive; then, measured apart, the final verify that lists every conversation back (which
  ``assistdb threads migrate`` always does).

Target: assistdb at most 1.2× the time by hand, journal included. SQLite always, PostgreSQL
(the archive) with ``--postgres``.

    python -m benchmarks.bench_migrate [--quick] [--postgres postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import print_table, server_process, temporary_postgres_database

API_KEY = "sk-bench"
REPEATS = 5


def _seed(base_url: str, threads: int, messages: int) -> list[str]:
    root = base_url.removesuffix("/v1")
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return [
        httpx.post(
            f"{root}/_assistdb/seed",
            json={"messages": messages, "runs": messages // 5},
            headers=headers,
            timeout=60,
        ).json()["thread_id"]
        for _ in range(threads)
    ]


def _by_hand(client: Any, plans: list[Any]) -> float:
    started = time.perf_counter()
    for plan in plans:
        batches = plan.batches()
        conversation = client.conversations.create(metadata=plan.metadata, items=batches[0])
        for batch in batches[1:]:
            client.conversations.items.create(conversation.id, items=batch)
    return time.perf_counter() - started


def _by_hand_post(client: Any, plans: list[Any]) -> float:
    started = time.perf_counter()
    for plan in plans:
        batches = plan.batches()
        answer = client.post(
            "/conversations", body={"metadata": plan.metadata, "items": batches[0]}, cast_to=bytes
        )
        conversation_id = json.loads(answer)["id"]
        for batch in batches[1:]:
            client.post(f"/conversations/{conversation_id}/items", body={"items": batch}, cast_to=bytes)
    return time.perf_counter() - started


def _assistdb(archive_url: str, client: Any, thread_ids: list[str]) -> tuple[float, float]:
    """Seconds migrating (planning and journal included), then seconds verifying."""
    from assistdb.migration import Migrator
    from assistdb.store import Store

    store = Store(archive_url)
    try:
        migrator = Migrator(store, client)
        started = time.perf_counter()
        for outcome in migrator.migrate_all(thread_ids, verify=False):
            assert outcome.status == "migrated", outcome.error
        migrated = time.perf_counter()
        for outcome in migrator.migrate_all(thread_ids):  # a rerun: nothing to send, the verify alone
            assert outcome.status == "migrated" and outcome.sent == 0, outcome.error
        return migrated - started, time.perf_counter() - migrated
    finally:
        store.close()


def _fresh_archive(archive_url: str, base_url: str, thread_ids: list[str]) -> None:
    import openai

    from assistdb import AssistDB
    from assistdb.sync import sync_thread

    with AssistDB(archive_url, client=openai.OpenAI(base_url=base_url, api_key=API_KEY)) as db:
        for thread_id in thread_ids:
            assert sync_thread(db, thread_id).error is None


def measure(backend: str, archive_urls: list[str], base_url: str, threads: int, messages: int) -> list[str]:
    """One row: items/s by hand and by assistdb (medians of alternating runs), and the ratio."""
    import openai

    from assistdb.migration import Migrator
    from assistdb.store import Store

    warnings.simplefilter("ignore", DeprecationWarning)
    client = openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    thread_ids = _seed(base_url, threads, messages)
    if backend == "sqlite":  # one sync, then copies of the file: each run needs a journal of its own
        _fresh_archive(archive_urls[0], base_url, thread_ids)
        for url in archive_urls[1:]:
            shutil.copyfile(archive_urls[0].removeprefix("sqlite:///"), url.removeprefix("sqlite:///"))
    else:
        for url in archive_urls:
            _fresh_archive(url, base_url, thread_ids)
    store = Store(archive_urls[0])
    plans = [Migrator(store, client).plan(thread_id, check_files=False) for thread_id in thread_ids]
    store.close()
    items = sum(len(plan.items) for plan in plans)
    client.conversations.create()  # the connection is open before any timing
    hand: list[float] = []
    posted: list[float] = []
    ours: list[float] = []
    verifying: list[float] = []
    for archive_url in archive_urls:  # each run of assistdb needs an archive with no journal yet
        hand.append(_by_hand(client, plans))
        posted.append(_by_hand_post(client, plans))
        migrating, verified = _assistdb(archive_url, client, thread_ids)
        ours.append(migrating)
        verifying.append(migrating + verified)
    hand_time, post_time, our_time, whole = (
        statistics.median(hand),
        statistics.median(posted),
        statistics.median(ours),
        statistics.median(verifying),
    )
    return [
        backend,
        f"{threads} × {messages:,}",
        f"{items / hand_time:,.0f}",
        f"{items / post_time:,.0f}",
        f"{items / our_time:,.0f}",
        f"{our_time / hand_time:.2f}×",
        f"{our_time / post_time:.2f}×",
        f"{items / whole:,.0f}",
        f"{whole / hand_time:.2f}×",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI (figures mean nothing)")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server where databases may be created")
    args = parser.parse_args()
    sizes = [(2, 30)] if args.quick else [(20, 50), (2, 1000)]
    repeats = 1 if args.quick else REPEATS
    rows: list[list[str]] = []
    with (
        tempfile.TemporaryDirectory() as scratch,
        server_process("--database-url", f"sqlite:///{Path(scratch) / 'server.sqlite3'}") as base_url,
    ):
        for threads, messages in sizes:
            for backend in ["sqlite", *(["postgresql"] if args.postgres else [])]:
                urls: list[str] = []
                contexts: list[Any] = []
                for index in range(repeats):
                    if backend == "sqlite":
                        urls.append(
                            f"sqlite:///{Path(scratch) / f'archive-{threads}-{messages}-{index}.sqlite3'}"
                        )
                        contexts.append(nullcontext())
                    else:
                        context = temporary_postgres_database(args.postgres)
                        urls.append(context.__enter__())
                        contexts.append(context)
                try:
                    rows.append(measure(backend, urls, base_url, threads, messages))
                finally:
                    for context in contexts:
                        context.__exit__(None, None, None)
    print_table(
        "Migration to Conversations: items per second (20 items per request)",
        [
            "archive",
            "threads × messages",
            "SDK by hand",
            "by hand, generic post",
            "assistdb",
            "time ratio",
            "ratio to generic post",
            "assistdb with verify",
            "time ratio",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
