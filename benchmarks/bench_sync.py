"""Sync speed, cost and memory against the local server (a subprocess), next to the plain SDK.

1. A complete sync of one thread (messages, runs, steps) of 1,000, 10,000 and 100,000 messages:
   the first sync into an empty archive, and a full reconcile of the synced thread, each timed
   against the SDK merely listing the same objects (pydantic models, no database).
2. A re-sync with nothing new, of a 100- and a 10,000-message thread: requests and time, next to
   the SDK's equivalent minimal listing (the thread, messages and runs after the last seen ones),
   against the local server as it is and with 50 ms added to every response.
4. Peak memory (max RSS of a fresh process) of the first sync of 10,000 and 100,000 messages.
5. ``sync_threads`` over 200 threads with 1, 2 and 4 workers, against the local server as it is
   and with 50 ms added to every response (a distant API).

Each measurement runs in a fresh process; every thread has one run (with one step) per five
messages. SQLite always, PostgreSQL with ``--postgres``.

    python -m benchmarks.bench_sync [--quick] [--postgres postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import print_table, server_process, temporary_postgres_database

API_KEY = "sk-bench"
RESYNC_REPEATS = 40
WAN_LATENCY = "0.05"  # seconds added to every response: a distant API


def _client(base_url: str, thread_id: str) -> Any:
    """A client that has made one request already, so that no timing pays for the SDK's first
    call (lazy imports, the connection)."""
    import openai

    warnings.simplefilter("ignore", DeprecationWarning)  # the SDK warns on every assistants call
    client = openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=8)
    client.beta.threads.retrieve(thread_id)
    return client


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# measurements, each run in a fresh process --------------------------------------------------------


def sdk_listing(base_url: str, thread_id: str) -> dict[str, float]:
    """The plain SDK listing every message, run and step of the thread."""
    client = _client(base_url, thread_id)
    started = time.perf_counter()
    objects = 0
    for _message in client.beta.threads.messages.list(thread_id, order="asc", limit=100):
        objects += 1
    run_ids = [run.id for run in client.beta.threads.runs.list(thread_id, order="asc", limit=100)]
    for run_id in run_ids:
        for _step in client.beta.threads.runs.steps.list(run_id, thread_id=thread_id, order="asc", limit=100):
            objects += 1
    return {"seconds": time.perf_counter() - started, "objects": objects + len(run_ids)}


def sync_complete(database_url: str, base_url: str, thread_id: str, reconcile: bool) -> dict[str, float]:
    """The first sync of the thread into an empty archive, then optionally a full reconcile."""
    from assistdb import AssistDB
    from assistdb.sync import sync_thread

    db = AssistDB(database_url, client=_client(base_url, thread_id))
    before = _max_rss_mb()
    started = time.perf_counter()
    first = sync_thread(db, thread_id)
    figures = {
        "seconds": time.perf_counter() - started,
        "versions": first.versions,
        "requests": first.requests,
    }
    figures.update(rss_before_mb=before, rss_peak_mb=_max_rss_mb())
    assert first.ok, first.error
    if reconcile:
        started = time.perf_counter()
        full = sync_thread(db, thread_id, full=True)
        figures["full_seconds"] = time.perf_counter() - started
        assert full.ok and full.versions == 0, full
    db.close()
    return figures


def resync(database_url: str, base_url: str, thread_id: str) -> dict[str, float]:
    """Sync once, then time re-syncs that find nothing new next to the SDK's minimal equivalent,
    taking turns, so that both see the machine in the same state."""
    from assistdb import AssistDB
    from assistdb.sync import sync_thread

    client = _client(base_url, thread_id)
    db = AssistDB(database_url, client=client)
    assert sync_thread(db, thread_id).ok
    cursor = db.store.tracking.cursor(thread_id)
    assert cursor is not None
    sync_times, sdk_times, requests = [], [], 0
    for _ in range(RESYNC_REPEATS):
        started = time.perf_counter()
        result = sync_thread(db, thread_id)
        sync_times.append(time.perf_counter() - started)
        assert result.ok and result.versions == 0, result
        requests = result.requests
        started = time.perf_counter()
        client.beta.threads.retrieve(thread_id)
        list(
            client.beta.threads.messages.list(thread_id, order="asc", limit=100, after=cursor.message_cursor)
        )
        list(client.beta.threads.runs.list(thread_id, order="asc", limit=100, after=cursor.run_cursor))
        sdk_times.append(time.perf_counter() - started)
    db.close()
    return {"sync": statistics.median(sync_times), "sdk": statistics.median(sdk_times), "requests": requests}


def sync_many(database_url: str, base_url: str, thread_ids: list[str], workers: int) -> dict[str, float]:
    from assistdb import AssistDB
    from assistdb.sync import sync_threads

    db = AssistDB(database_url, client=_client(base_url, thread_ids[0]))
    db.store.tracking.track(thread_ids)
    started = time.perf_counter()
    summary = sync_threads(db, workers=workers)
    seconds = time.perf_counter() - started
    assert summary.ok and summary.threads == len(thread_ids), summary.errors
    db.close()
    return {"seconds": seconds, "versions": summary.versions}


def _show(title: str, header: list[str], rows: list[list[str]]) -> None:
    if rows:  # sections not asked for have none
        print_table(title, header, rows)


def in_fresh_process(function: Callable[..., dict[str, float]], *args: Any) -> dict[str, float]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


# setup ---------------------------------------------------------------------------------------------


def seed(base_url: str, messages: int) -> str:
    root = base_url.removesuffix("/v1")
    response = httpx.post(
        f"{root}/_assistdb/seed",
        json={"messages": messages, "runs": messages // 5},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=600,
    )
    response.raise_for_status()
    return str(response.json()["thread_id"])


@contextmanager
def fresh_database(backend: str, folder: Path, postgres: str | None) -> Iterator[str]:
    if backend == "SQLite":
        path = folder / f"bench-{time.perf_counter_ns()}.sqlite3"
        yield f"sqlite:///{path}"
        return
    assert postgres is not None
    with temporary_postgres_database(postgres) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server where databases may be created")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--sections", default="1,2,4,5", help="which measurements to run (default: all)")
    args = parser.parse_args()
    sections = {int(part) for part in args.sections.split(",")}
    sizes = [100] if args.quick else [1_000, 10_000, 100_000]
    resync_sizes = [50, 200] if args.quick else [100, 10_000]
    memory_sizes = [200, 500] if args.quick else [10_000, 100_000]
    many = (6, 10) if args.quick else (200, 50)  # threads, messages per thread
    backends = ["SQLite", *(["PostgreSQL"] if args.postgres else [])]

    with server_process(api_key=API_KEY) as base_url, tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        wanted = {*(sizes if 1 in sections else ()), *(resync_sizes if 2 in sections else ())}
        threads = {size: seed(base_url, size) for size in wanted | set(memory_sizes if 4 in sections else ())}

        rows = []
        for size in sizes if 1 in sections else ():
            sdk = in_fresh_process(sdk_listing, base_url, threads[size])
            for backend in backends:
                with fresh_database(backend, here, args.postgres) as url:
                    synced = in_fresh_process(sync_complete, url, base_url, threads[size], True)
                rows.append(
                    [
                        backend,
                        f"{size:,}",
                        f"{int(sdk['objects']):,}",
                        f"{int(synced['requests']):,}",
                        f"{sdk['seconds']:.2f}",
                        f"{synced['seconds']:.2f}",
                        f"{synced['seconds'] / sdk['seconds']:.2f}",
                        f"{synced['full_seconds']:.2f}",
                        f"{synced['full_seconds'] / sdk['seconds']:.2f}",
                    ]
                )
        _show(
            "1. Complete sync of one thread vs the SDK listing the same messages, runs and steps",
            [
                "database",
                "messages",
                "objects",
                "requests",
                "SDK s",
                "first sync s",
                "ratio",
                "full s",
                "ratio",
            ],
            rows,
        )

        rows = []
        for latency in ("0", WAN_LATENCY) if 2 in sections else ():
            # Against the local server, time is this machine's CPU; the distant API shows what
            # waiting for the network costs.
            distant = latency != "0"
            with (
                server_process("--latency", latency, api_key=API_KEY)
                if distant
                else nullcontext(base_url) as api_url
            ):
                for size in resync_sizes:
                    thread_id = seed(api_url, size) if distant else threads[size]
                    for backend in backends:
                        with fresh_database(backend, here, args.postgres) as url:
                            figures = in_fresh_process(resync, url, api_url, thread_id)
                        rows.append(
                            [
                                backend,
                                f"{float(latency) * 1000:.0f}",
                                f"{size:,}",
                                f"{int(figures['requests'])}",
                                f"{figures['sync'] * 1000:.1f}",
                                f"{figures['sdk'] * 1000:.1f}",
                                f"{figures['sync'] / figures['sdk']:.2f}",
                            ]
                        )
        _show(
            f"2. Re-sync with nothing new (median of {RESYNC_REPEATS}) vs the SDK's minimal listing",
            ["database", "added latency ms", "messages", "requests", "sync ms", "SDK ms", "ratio"],
            rows,
        )

        rows = []
        for size in memory_sizes if 4 in sections else ():
            for backend in backends:
                with fresh_database(backend, here, args.postgres) as url:
                    figures = in_fresh_process(sync_complete, url, base_url, threads[size], False)
                rows.append(
                    [
                        backend,
                        f"{size:,}",
                        f"{figures['rss_before_mb']:.0f}",
                        f"{figures['rss_peak_mb']:.0f}",
                        f"{figures['rss_peak_mb'] - figures['rss_before_mb']:.0f}",
                    ]
                )
        _show(
            "4. Peak memory of a first sync (max RSS of the process, MB)",
            ["database", "messages", "before sync", "peak", "growth"],
            rows,
        )

        count, messages = many
        rows = []
        for latency in ("0", WAN_LATENCY) if 5 in sections else ():
            # Against the local server a sync is bound by this machine's CPU; workers are there to
            # overlap the round trips of a distant API, which the second server simulates.
            with server_process("--latency", latency, api_key=API_KEY) as url_of_api:
                thread_ids = [seed(url_of_api, messages) for _ in range(count)]
                for backend in backends:
                    single = 0.0
                    for workers in (1, 2, 4):
                        with fresh_database(backend, here, args.postgres) as url:
                            figures = in_fresh_process(sync_many, url, url_of_api, thread_ids, workers)
                        single = single or figures["seconds"]
                        rows.append(
                            [
                                backend,
                                f"{float(latency) * 1000:.0f}",
                                str(workers),
                                f"{figures['seconds']:.2f}",
                                f"{count / figures['seconds']:.1f}",
                                f"{single / figures['seconds']:.2f}",
                            ]
                        )
        _show(
            f"5. sync_threads over {count} threads of {messages} messages (first sync)",
            ["database", "added latency ms", "workers", "seconds", "threads/s", "speed-up"],
            rows,
        )


if __name__ == "__main__":
    main()
