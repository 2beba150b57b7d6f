"""Throughput of the local Assistants server, measured over real HTTP against ``assistdb serve``.

Measures requests per second (and latency percentiles) for creating messages, for listing pages
of 100 messages from a 100,000-message thread and from a 100-message thread (they should match:
a page costs its own size, not the thread's), and runs per second from creation to completion.
The server runs as a subprocess with ``--run-latency 0``, so run figures are pure overhead.

    python benchmarks/bench_server.py            # full sizes (~1 minute)
    python benchmarks/bench_server.py --quick    # tiny sizes, for CI
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

API_KEY = "sk-bench"
HEADERS = {
    "Authorization": f"Bearer {API_KEY}",
    "OpenAI-Beta": "assistants=v2",
    "Content-Type": "application/json",
}
LISTENING = re.compile(r"listening on http://([\d.]+):(\d+)/v1")


@dataclass
class Sizes:
    big_thread: int
    small_thread: int
    message_creates: int
    page_requests: int
    runs: int


FULL = Sizes(big_thread=100_000, small_thread=100, message_creates=3_000, page_requests=1_000, runs=300)
QUICK = Sizes(big_thread=2_000, small_thread=100, message_creates=200, page_requests=100, runs=20)


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else float("inf")

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


class Server:
    """``assistdb serve`` in a subprocess, stopped with SIGTERM."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="assistdb-bench-")
        database = f"sqlite:///{Path(self._folder.name) / 'server.sqlite3'}"
        command = [sys.executable, "-m", "assistdb", "serve", "--port", "0", "--database-url", database]
        command += ["--run-latency", "0", "--poll-after-ms", "0"]
        environment = {**os.environ, "ASSISTDB_SERVER_API_KEY": API_KEY}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = LISTENING.search(line)
        if found is None:
            self.process.kill()
            raise SystemExit(f"the server did not start: {line!r}")
        self.host, self.port = found.group(1), int(found.group(2))

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status")
        if not status.exists():
            return float("nan")
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self._folder.cleanup()
        return code


class Connection:
    """One keep-alive HTTP connection; JSON in, JSON out."""

    def __init__(self, server: Server) -> None:
        self._http = http.client.HTTPConnection(server.host, server.port, timeout=120)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        payload = json.dumps(body).encode() if body is not None else None
        self._http.request(method, path, body=payload, headers=HEADERS)
        response = self._http.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path} answered {response.status}: {data[:200]!r}")
        return json.loads(data)

    def close(self) -> None:
        self._http.close()


def measure(
    server: Server, name: str, requests: int, workers: int, work: Callable[[Connection, int], int]
) -> Result:
    """Run ``work(connection, index)`` ``requests`` times over ``workers`` connections.

    ``work`` returns how many HTTP requests it made (a run takes several).
    """
    latencies: list[float] = []
    counts: list[int] = []
    lock = threading.Lock()
    indexes = iter(range(requests))

    def worker() -> None:
        connection = Connection(server)
        made = 0
        mine: list[float] = []
        while True:
            with lock:
                index = next(indexes, None)
            if index is None:
                break
            started = time.perf_counter()
            made += work(connection, index)
            mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            latencies.extend(mine)
            counts.append(made)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(name, sum(counts), time.perf_counter() - started, latencies)


def cursors(connection: Connection, thread_id: str) -> list[str]:
    """Every 100th message ID of a thread, collected by walking it page by page."""
    found: list[str] = []
    after = ""
    while True:
        page = connection.call("GET", f"/v1/threads/{thread_id}/messages?limit=100&order=asc{after}")
        if not page["data"]:
            return found
        found.append(page["last_id"])
        if not page["has_more"]:
            return found
        after = f"&after={page['last_id']}"


def run_benchmarks(sizes: Sizes, workers: int) -> tuple[list[Result], dict[str, float]]:
    server = Server()
    facts: dict[str, float] = {}
    try:
        setup = Connection(server)
        assistant = setup.call("POST", "/v1/assistants", {"model": "gpt-4o", "name": "bench"})
        started = time.perf_counter()
        big = setup.call(
            "POST", "/_assistdb/seed", {"messages": sizes.big_thread, "runs": sizes.big_thread // 100}
        )
        facts["seed seconds"] = time.perf_counter() - started
        small = setup.call(
            "POST", "/_assistdb/seed", {"messages": sizes.small_thread, "runs": sizes.small_thread // 10}
        )
        facts["server RSS MB after seeding"] = server.rss_mb()
        started = time.perf_counter()
        big_cursors = cursors(setup, big["thread_id"])
        facts["walk of the big thread, pages/s"] = len(big_cursors) / (time.perf_counter() - started)
        small_cursors = cursors(setup, small["thread_id"])
        targets = [setup.call("POST", "/v1/threads", {})["id"] for _ in range(workers)]
        setup.close()

        def create_message(connection: Connection, index: int) -> int:
            body = {"role": "user", "content": f"benchmark message {index}"}
            connection.call("POST", f"/v1/threads/{targets[index % len(targets)]}/messages", body)
            return 1

        def page_of(thread_id: str, thread_cursors: list[str]) -> Callable[[Connection, int], int]:
            rng = random.Random(thread_id)

            def list_page(connection: Connection, index: int) -> int:
                cursor = rng.choice(thread_cursors[:-1] or [""])
                after = f"&after={cursor}" if cursor else ""
                page = connection.call("GET", f"/v1/threads/{thread_id}/messages?limit=100{after}")
                assert page["data"], "empty page"
                return 1

            return list_page

        def complete_run(connection: Connection, index: int) -> int:
            body = {
                "assistant_id": assistant["id"],
                "thread": {"messages": [{"role": "user", "content": "hi"}]},
            }
            run = connection.call("POST", "/v1/threads/runs", body)
            made = 1
            while run["status"] not in ("completed", "failed", "cancelled", "expired", "incomplete"):
                run = connection.call("GET", f"/v1/threads/{run['thread_id']}/runs/{run['id']}")
                made += 1
            return made

        results = [
            measure(server, "create message", sizes.message_creates, workers, create_message),
            measure(
                server,
                f"list page of 100 ({sizes.big_thread:,}-message thread)",
                sizes.page_requests,
                workers,
                page_of(big["thread_id"], big_cursors),
            ),
            measure(
                server,
                f"list page of 100 ({sizes.small_thread:,}-message thread)",
                sizes.page_requests,
                workers,
                page_of(small["thread_id"], small_cursors),
            ),
        ]
        runs = measure(server, "run, create to completed", sizes.runs, workers, complete_run)
        facts["runs completed per second"] = sizes.runs / runs.seconds
        results.append(runs)
    finally:
        facts["exit code on SIGTERM"] = server.stop()
    return results, facts


def print_table(results: list[Result], facts: dict[str, float], workers: int) -> None:
    print(f"\nassistdb server benchmark ({workers} keep-alive connections, raw HTTP/1.1)\n")
    header = f"{'operation':<44} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8}"
    print(header)
    print("-" * len(header))
    for result in results:
        print(
            f"{result.name:<44} {result.requests:>9,} {result.per_second:>9,.0f} "
            f"{result.percentile(0.5):>8.2f} {result.percentile(0.95):>8.2f}"
        )
    print()
    for name, value in facts.items():
        print(f"{name:<44} {value:>9,.2f}")
    print("\n(run latencies are per run: creation plus polling until completed)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--workers", type=int, default=4, help="concurrent connections (default 4)")
    args = parser.parse_args()
    results, facts = run_benchmarks(QUICK if args.quick else FULL, args.workers)
    print_table(results, facts, args.workers)
    if facts["exit code on SIGTERM"] != 0:
        raise SystemExit("the server did not exit cleanly on SIGTERM")
    big, small = results[1], results[2]
    if statistics.median(big.latencies) > 5 * statistics.median(small.latencies) + 0.005:
        raise SystemExit("paging a big thread is much slower than paging a small one")


if __name__ == "__main__":
    main()
