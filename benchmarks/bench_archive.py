"""Archive write throughput: rows per second when recording pages of 100 messages.

Each page is one transaction (as thread sync writes it): new versions, heads, metadata index and
chain tip. Measured on SQLite and, with ``--postgres URL``, on PostgreSQL; a second pass records
the same pages again to measure the cost of recognising unchanged objects.

    python benchmarks/bench_archive.py [--pages 200] [--postgres postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from assistdb.store import Store
from benchmarks.common import print_table, temporary_postgres_database


def message(thread_id: str, index: int) -> dict[str, Any]:
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
        "metadata": {"index": str(index)},
        "content": [{"type": "text", "text": {"value": f"message number {index} " * 8, "annotations": []}}],
    }


def measure(url: str, pages: int) -> tuple[float, float]:
    store = Store(url)
    thread_id = f"thread_{uuid.uuid4().hex[:12]}"
    store.record(
        [{"id": thread_id, "object": "thread", "created_at": 0, "metadata": {}, "tool_resources": None}]
    )
    batches = [[message(thread_id, p * 100 + i) for i in range(100)] for p in range(pages)]
    rates = []
    for _ in range(2):
        start = time.perf_counter()
        for batch in batches:
            store.record(batch)
        rates.append(pages * 100 / (time.perf_counter() - start))
    store.close()
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server where databases may be created")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    args = parser.parse_args()
    pages = 5 if args.quick else args.pages
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        new, unchanged = measure(f"sqlite:///{Path(folder) / 'bench.sqlite3'}", pages)
        rows.append(["SQLite", f"{pages * 100:,}", f"{new:,.0f}", f"{unchanged:,.0f}"])
    if args.postgres:
        with temporary_postgres_database(args.postgres) as url:
            new, unchanged = measure(url, pages)
            rows.append(["PostgreSQL", f"{pages * 100:,}", f"{new:,.0f}", f"{unchanged:,.0f}"])
    print_table(
        "Archive writes, pages of 100 messages, one transaction per page",
        ["database", "rows", "new rows/s", "unchanged rows/s"],
        rows,
    )


if __name__ == "__main__":
    main()
