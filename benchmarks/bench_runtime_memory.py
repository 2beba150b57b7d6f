"""Does the server's memory grow with what it stores?

Server RSS on a database holding ``--messages`` stored messages (1,000,000 by default) vs on an
empty one, after the same work: a fresh ``assistdb serve`` process on each database creates an
assistant, a thread and a run (read to the end through a stream), fetches the newest and oldest
page of 100 of the biggest thread (or of its own thread on the empty database) and lists the
runs of it. The server keeps no object in memory between requests, so the two should match.

Method
------
* The stored messages are made by another server process through its ``/_assistdb/seed``
  extension, in threads of ``--per-thread`` messages (one in 100 an assistant reply with its run
  and step), and that process is stopped before the measurement: the figure is what a server
  needs to serve such a database, not what it took to fill it (that is reported alongside).
* SQLite files (the default database of ``assistdb serve``), both migrated before the measured
  start (a first start migrates, which costs memory of its own); scripted model, one client.

Usage: ``python -m benchmarks.bench_runtime_memory [--quick] [--messages N] [--per-thread N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx
import openai

from benchmarks.common import Served, print_table, served


def seed(server: Served, messages: int, per_thread: int) -> list[str]:
    base = server.url.removesuffix("/v1")
    threads = []
    with httpx.Client(base_url=base, timeout=600) as http:
        left = messages
        while left > 0:
            size = min(per_thread, left)
            answer = http.post("/_assistdb/seed", json={"messages": size, "runs": size // 100})
            answer.raise_for_status()
            threads.append(str(answer.json()["thread_id"]))
            left -= size
    return threads


def work(server: Served, big_thread: str | None) -> None:
    """The same requests on both databases; ``big_thread`` is read if there is one."""
    with openai.OpenAI(base_url=server.url, api_key="bench", max_retries=0) as client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hello"}])
        for _ in client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True):
            pass
        read = big_thread or thread.id
        for order in ("desc", "asc"):
            page = client.beta.threads.messages.list(thread_id=read, limit=100, order=order)
            if not page.data:
                raise RuntimeError("an empty page")
        client.beta.threads.runs.list(thread_id=read, limit=100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few thousand messages, for CI")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--per-thread", type=int, default=50_000)
    args = parser.parse_args()
    messages, per_thread = (2_000, 1_000) if args.quick else (args.messages, args.per_thread)
    options = ["--run-latency", "0"]
    with tempfile.TemporaryDirectory(prefix="assistdb-bench-") as folder:
        empty = f"sqlite:///{Path(folder) / 'empty.sqlite3'}"
        full = f"sqlite:///{Path(folder) / 'full.sqlite3'}"
        with served("--database-url", full, *options) as seeder:
            started = time.perf_counter()
            threads = seed(seeder, messages, per_thread)
            seed_seconds = time.perf_counter() - started
            seeder_rss = seeder.rss_mb()
        size_mb = Path(folder, "full.sqlite3").stat().st_size / 1e6
        with served("--database-url", empty, *options):
            pass  # migrated now, as the seeded one is: the measured start does no migration either
        with served("--database-url", empty, *options) as server:
            work(server, None)
            empty_rss = server.rss_mb()
        with served("--database-url", full, *options) as server:
            work(server, threads[-1])
            full_rss = server.rss_mb()
    print_table(
        f"Server RSS with {messages:,} stored messages vs an empty server (SQLite)",
        ["database", "stored messages", "server RSS MB", "vs empty"],
        [
            ["empty", "0", f"{empty_rss:.1f}", "+0.0%"],
            [
                f"seeded ({size_mb:.0f} MB file)",
                f"{messages:,}",
                f"{full_rss:.1f}",
                f"{(full_rss / empty_rss - 1) * 100:+.1f}%",
            ],
        ],
    )
    print(
        f"\nSeeding {messages:,} messages in {len(threads)} threads took {seed_seconds:.1f} s "
        f"({messages / seed_seconds:,.0f} messages/s); the seeding process ended at {seeder_rss:.1f} MB."
    )


if __name__ == "__main__":
    main()
