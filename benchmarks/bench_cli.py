"""The CLI as a person meets it: how fast commands start, and how fast search answers.

Start-up is the median wall time of ``python -m assistdb ARGS`` over several runs (``--help``,
``threads list`` on an archive, a TAB completion of thread IDs). Search is the median time of
``assistdb search`` queries over an archive of N messages (100,000 by default), on SQLite and,
with ``--postgres URL``, on PostgreSQL.

    python -m benchmarks.bench_cli [--messages 100000] [--postgres postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assistdb.store import Store
from assistdb.store.search import search_messages
from benchmarks.common import print_table, temporary_postgres_database

REPO = Path(__file__).resolve().parents[1]
WORDS = (
    "refund",
    "policy",
    "shipping",
    "damaged",
    "order",
    "invoice",
    "warranty",
    "delivery",
    "address",
    "account",
    "password",
)
QUERIES = ("refund policy", "warranty", "damaged delivery", "password account reset")


def message(thread_id: str, index: int) -> dict[str, Any]:
    words = [WORDS[(index * 7 + k * 3) % len(WORDS)] for k in range(12)]
    return {
        "id": f"msg_{index:08d}",
        "object": "thread.message",
        "created_at": 1_700_000_000 + index,
        "thread_id": thread_id,
        "role": "user" if index % 2 else "assistant",
        "status": "completed",
        "run_id": None,
        "assistant_id": None,
        "attachments": [],
        "completed_at": None,
        "incomplete_at": None,
        "incomplete_details": None,
        "metadata": {},
        "content": [
            {"type": "text", "text": {"value": f"Message {index}: " + " ".join(words), "annotations": []}}
        ],
    }


def fill(url: str, messages: int) -> None:
    store = Store(url)
    try:
        for start in range(0, messages, 1000):
            thread_id = f"thread_{start // 1000:08d}"
            batch = [message(thread_id, index) for index in range(start, min(start + 1000, messages))]
            store.record([{"id": thread_id, "object": "thread", "created_at": 0, "metadata": {}}, *batch])
    finally:
        store.close()


def timed_command(args: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "assistdb", *args], env=env, cwd=REPO, capture_output=True, check=False
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def startup_rows(url: str, runs: int) -> list[list[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ASSISTDB_DATABASE_URL": url}
    complete = {
        **env,
        "_ASSISTDB_COMPLETE": "bash_complete",
        "COMP_WORDS": "assistdb threads show thread_0",
        "COMP_CWORD": "3",
    }
    baseline = timed_command(["--version"], env, runs)
    rows = [["assistdb --version (Python and click only)", f"{baseline:.2f} s"]]
    for label, args, environment in (
        ("assistdb --help", ["--help"], env),
        ("assistdb threads list", ["threads", "list", "--limit", "20"], env),
        ("TAB completion of thread IDs", [], complete),
    ):
        rows.append([label, f"{timed_command(args, environment, runs):.2f} s"])
    return rows


def search_rows(backend: str, url: str, repeats: int) -> list[list[str]]:
    store = Store(url)
    try:
        rows = []
        for query in QUERIES:
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                hits = search_messages(store.database, query, limit=20)
                times.append(time.perf_counter() - started)
            rows.append([backend, repr(query), str(len(hits)), f"{statistics.median(times) * 1000:.1f} ms"])
        return rows
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5, help="start-ups timed per command")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server where a database may be created")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    args = parser.parse_args()
    messages, runs = (2_000, 1) if args.quick else (args.messages, args.runs)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'archive.sqlite3'}"
        started = time.perf_counter()
        fill(url, messages)
        filled = time.perf_counter() - started
        print_table(
            "Start-up time (median wall time of the whole process)",
            ["command", "time"],
            startup_rows(url, runs),
        )
        rows = search_rows("SQLite", url, 5)
        fills = [["SQLite", f"{messages:,}", f"{filled:.1f} s"]]
        if args.postgres:
            with temporary_postgres_database(args.postgres) as pg_url:
                started = time.perf_counter()
                fill(pg_url, messages)
                fills.append(["PostgreSQL", f"{messages:,}", f"{time.perf_counter() - started:.1f} s"])
                rows += search_rows("PostgreSQL", pg_url, 5)
    print_table(
        "Archiving messages with the search index kept current", ["backend", "messages", "time"], fills
    )
    print_table(
        f"Full-text search over {messages:,} messages (best 20)", ["backend", "query", "hits", "median"], rows
    )


if __name__ == "__main__":
    main()
