"""Do more ``assistdb serve`` processes on one PostgreSQL database complete more runs per second?

Runs per second with 1, 2 and 4 server processes sharing one PostgreSQL database, each run
answered by an upstream that takes ``--latency`` seconds (50 ms by default) before it answers,
as a real model would. The load grows with the processes, as it does behind a load balancer:
each process gets its own client process with ``--clients`` threads, each creating runs one
after the other (``threads.create_and_run(stream=True)``, read to the end: one request per run,
so the clients' own cost stays small) for ``--seconds``; the figure is runs completed per second
over all processes. The ratio to one process is computed within the same invocation.

Method
------
* The upstream is the scripted Chat Completions double, a subprocess of its own
  (``python -m assistdb.server.backends.scripted_upstream --latency``), so that it shares no
  interpreter with the servers or the clients.
* Every measurement uses a fresh database; the servers are started, warmed with one run each,
  then all client processes start together.

Usage: ``python -m benchmarks.bench_runtime_scaling --postgres URL [--quick] [--seconds S]``
(``--postgres`` defaults to ``$ASSISTDB_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType

import openai

from benchmarks.common import print_table, served, temporary_postgres_database

QUESTION = "What is the capital of France?"
PROCESS_COUNTS = (1, 2, 4)
LISTENING = re.compile(r"listening on (http://\S+/v1)")


def one_run(client: openai.OpenAI, assistant_id: str) -> None:
    stream = client.beta.threads.create_and_run(
        assistant_id=assistant_id,
        thread={"messages": [{"role": "user", "content": QUESTION}]},
        stream=True,
    )
    last = None
    for event in stream:
        last = event.event
    if last != "thread.run.completed":
        raise RuntimeError(f"a run ended with {last}")


def client_process(
    url: str,
    assistant_id: str,
    clients: int,
    seconds: float,
    ready: Queue,  # type: ignore[type-arg]
    go: EventType,
    out: Queue,  # type: ignore[type-arg]
) -> None:
    """``clients`` threads making runs on one server for ``seconds`` once ``go`` is set."""
    client = openai.OpenAI(base_url=url, api_key="bench", max_retries=0, timeout=60)
    counts = [0] * clients
    failures: list[str] = []
    ready.put(True)
    go.wait()
    stop = time.time() + seconds

    def work(index: int) -> None:
        while time.time() < stop:
            try:
                one_run(client, assistant_id)
            except Exception as exc:
                failures.append(str(exc)[:200])
                return
            counts[index] += 1

    threads = [threading.Thread(target=work, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((sum(counts), failures))


def measure(admin_url: str, upstream_url: str, processes: int, clients: int, seconds: float) -> float:
    with temporary_postgres_database(admin_url) as database, ExitStack() as stack:
        options = ["--database-url", database, "--upstream-url", upstream_url, "--model-map", "*=tiny"]
        servers = [stack.enter_context(served(*options)) for _ in range(processes)]
        warm = openai.OpenAI(base_url=servers[0].url, api_key="bench", max_retries=0)
        assistant = warm.beta.assistants.create(model="gpt-4o", instructions="Be brief.")
        for server in servers:
            with openai.OpenAI(base_url=server.url, api_key="bench", max_retries=0) as client:
                one_run(client, assistant.id)
        warm.close()
        context = multiprocessing.get_context("spawn")
        ready: Queue = context.Queue()  # type: ignore[type-arg]
        out: Queue = context.Queue()  # type: ignore[type-arg]
        go = context.Event()
        workers = [
            context.Process(
                target=client_process, args=(s.url, assistant.id, clients, seconds, ready, go, out)
            )
            for s in servers
        ]
        for worker in workers:
            worker.start()
        for _ in workers:
            ready.get(timeout=120)
        start = time.time()
        go.set()
        results = [out.get(timeout=seconds + 120) for _ in workers]
        elapsed = time.time() - start
        for worker in workers:
            worker.join()
        failures = [failure for _, found in results for failure in found]
        if failures:
            raise SystemExit(f"{len(failures)} client(s) failed, e.g.: {failures[0]}")
        return sum(count for count, _ in results) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a second per measurement, for CI")
    parser.add_argument("--postgres", default=os.environ.get("ASSISTDB_TEST_POSTGRES_URL"))
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each measurement")
    parser.add_argument("--clients", type=int, default=8, help="client threads per server process")
    parser.add_argument("--latency", type=float, default=0.05, help="upstream seconds per answer")
    args = parser.parse_args()
    title = (
        f"Runs per second with 1, 2 and 4 server processes on one PostgreSQL database "
        f"({args.latency * 1000:.0f} ms upstream latency)"
    )
    if not args.postgres:
        print(f"\n{title}\n\nskipped: pass --postgres URL (or set ASSISTDB_TEST_POSTGRES_URL)")
        return
    seconds, clients = (1.0, 2) if args.quick else (args.seconds, args.clients)
    upstream = subprocess.Popen(
        [sys.executable, "-m", "assistdb.server.backends.scripted_upstream", "--latency", str(args.latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert upstream.stdout is not None
        found = LISTENING.search(upstream.stdout.readline())
        if found is None:
            raise SystemExit("the scripted upstream did not start")
        rates = {n: measure(args.postgres, found.group(1), n, clients, seconds) for n in PROCESS_COUNTS}
    finally:
        upstream.terminate()
        upstream.wait(30)
    rows = [[str(n), str(n * clients), f"{rate:.1f}", f"{rate / rates[1]:.2f}×"] for n, rate in rates.items()]
    print_table(title, ["processes", "clients", "runs/s", "vs 1 process"], rows)


if __name__ == "__main__":
    main()
