"""How soon after a run ends does each way of waiting notice, and how many requests does it cost?

Compared, for each run latency: the SDK's ``runs.create_and_poll`` (it sleeps the server's
``openai-poll-after-ms``, 1000 ms here, between retrieves), assistdb's ``create_and_wait``
(polling), and assistdb's ``create_and_wait(stream=True)``.

Method
------
* A server subprocess (``assistdb serve --run-latency L --poll-after-ms 1000``) runs every run in
  one phase that ends exactly ``L`` seconds after the server handled the create request; the
  run is a plain message, so it goes queued → in_progress → completed.
* The run's end: client and server share the machine's clock. ``t0`` is read just before the
  create request is sent; the server starts the phase no earlier, so the run ends at ``t0 + L``
  or (by the create request's one-way trip, well under a millisecond on loopback) later. The
  delay ``detected - (t0 + L)`` therefore overstates every method's delay by that same trip.
  ``completed_at`` is in whole seconds, too coarse to use.
* Detection: for the SDK, the moment ``create_and_poll`` returns (its last retrieve brought the
  terminal status). For assistdb, the ``observed_at`` of the run's terminal version in the
  archive: it is stamped when that state is written, right after it arrived, so it is if
  anything late. assistdb then archives the run's steps and messages before returning; the
  time to return is reported separately.
* Requests: the server's ``/_assistdb/stats`` before and after each measured run. "status"
  counts the create and the retrieves (what detection costs); "all" adds the listing of steps
  and messages that assistdb does to archive them (the SDK archives nothing).
* Each method first does ``--warmup`` runs that are not measured: assistdb learns how long
  this assistant's runs take (a new process would learn it from the archive instead), and
  every method gets its connection warm.

Usage: ``python benchmarks/bench_run_completion.py [--quick] [--runs N] [--latency 1.3 ...]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from assistdb import AssistDB
from benchmarks.common import print_table, server_process, temporary_postgres_database

POLL_AFTER_MS = 1000
GET_RUN = "GET /v1/threads/{thread_id}/runs/{run_id}"
CREATE_RUN = "POST /v1/threads/{thread_id}/runs"


@dataclass
class Sample:
    delay: float  # seconds between the run's end and its detection
    returned: float  # seconds between the run's end and the call returning
    status_requests: int
    all_requests: int


@dataclass
class Result:
    method: str
    samples: list[Sample] = field(default_factory=list)

    def delays_ms(self) -> list[float]:
        return sorted(1000 * sample.delay for sample in self.samples)

    def median_ms(self) -> float:
        return statistics.median(self.delays_ms())

    def p90_ms(self) -> float:
        delays = self.delays_ms()
        return delays[min(len(delays) - 1, round(0.9 * (len(delays) - 1)))]

    def mean(self, pick: Callable[[Sample], float]) -> float:
        return statistics.fmean(pick(sample) for sample in self.samples)


class Server:
    """The request counters of a running ``assistdb serve``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.root = base_url.removesuffix("/v1")

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.root}/_assistdb/stats") as response:
            stats: dict[str, Any] = json.load(response)
            return stats


@contextmanager
def counting(server: Server) -> Iterator[dict[str, int]]:
    """The requests made inside the block: ``status`` (create + retrieves) and ``all``."""
    before = server.stats()
    counts: dict[str, int] = {}
    yield counts
    after = server.stats()
    routes = {
        key: after["by_route"].get(key, 0) - before["by_route"].get(key, 0) for key in after["by_route"]
    }
    counts["status"] = routes.get(CREATE_RUN, 0) + routes.get(GET_RUN, 0)
    counts["all"] = after["total"] - before["total"]


def sdk_run(server: Server, client: openai.OpenAI, assistant_id: str, latency: float) -> Sample:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
        with counting(server) as counts:
            started = time.time()
            run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant_id)
            detected = time.time()
    assert run.status == "completed", run.status
    end = started + latency
    return Sample(detected - end, detected - end, counts["status"], counts["all"])


def assistdb_run(server: Server, db: AssistDB, assistant_id: str, latency: float, *, stream: bool) -> Sample:
    thread = db.threads.create(messages=[{"role": "user", "content": "hello"}])
    with counting(server) as counts:
        started = time.time()
        run = db.runs.create_and_wait(thread.id, assistant_id=assistant_id, stream=stream)
        returned = time.time()
    assert run.status == "completed", run.status
    terminal = next(v for v in db.runs.history(run.id) if v.body["status"] == "completed")
    end = started + latency
    return Sample(terminal.observed_at.timestamp() - end, returned - end, counts["status"], counts["all"])


def measure(latency: float, runs: int, warmup: int, database_url: str) -> list[Result]:
    options = ("--run-latency", str(latency), "--poll-after-ms", str(POLL_AFTER_MS))
    with server_process(*options) as base_url:
        server = Server(base_url)
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-bench", max_retries=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            sdk_assistant = client.beta.assistants.create(model="gpt-4o").id
        results = [Result("SDK create_and_poll"), Result("assistdb polling"), Result("assistdb streaming")]
        with AssistDB(database_url, client=client) as db:
            polled = db.assistants.create(model="gpt-4o").id
            streamed = db.assistants.create(model="gpt-4o").id
            methods: list[Callable[[], Sample]] = [
                lambda: sdk_run(server, client, sdk_assistant, latency),
                lambda: assistdb_run(server, db, polled, latency, stream=False),
                lambda: assistdb_run(server, db, streamed, latency, stream=True),
            ]
            for _ in range(warmup):
                for method in methods:
                    method()
            for _ in range(runs):  # interleaved, so that machine noise hits every method alike
                for result, method in zip(results, methods, strict=True):
                    result.samples.append(method())
        return results


def report(latency: float, database: str, results: list[Result]) -> None:
    sdk = results[0]
    sdk_status = sdk.mean(lambda s: s.status_requests)
    rows = []
    for result in results:
        status = result.mean(lambda s: s.status_requests)
        rows.append(
            [
                result.method,
                f"{result.median_ms():.1f}",
                f"{result.p90_ms():.1f}",
                f"{result.median_ms() / sdk.median_ms():.3f}",
                f"{status:.2f}",
                f"{status / sdk_status:.2f}",
                f"{result.mean(lambda s: s.all_requests):.2f}",
                f"{1000 * statistics.median(s.returned for s in result.samples):.1f}",
            ]
        )
    print_table(
        f"Run end detection ({database} archive): run latency {latency:g} s, "
        f"openai-poll-after-ms {POLL_AFTER_MS}, "
        f"{len(sdk.samples)} runs per method",
        [
            "method",
            "median delay ms",
            "p90 delay ms",
            "delay vs SDK",
            "status requests/run",
            "vs SDK",
            "all requests/run",
            "median return ms",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a tiny run for CI: one latency, 3 runs")
    parser.add_argument("--runs", type=int, default=15, help="measured runs per method and latency")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured runs per method first")
    parser.add_argument("--latency", type=float, action="append", help="run latency in seconds (repeatable)")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server where databases may be created")
    args = parser.parse_args()
    latencies = args.latency or ([0.3] if args.quick else [0.45, 1.3, 2.2])
    runs, warmup = (3, 2) if args.quick else (args.runs, args.warmup)
    with tempfile.TemporaryDirectory() as folder:
        for latency in latencies:
            sqlite_url = f"sqlite:///{Path(folder) / f'bench-{latency}.sqlite3'}"
            report(latency, "SQLite", measure(latency, runs, warmup, sqlite_url))
            if args.postgres:
                with temporary_postgres_database(args.postgres) as url:
                    report(latency, "PostgreSQL", measure(latency, runs, warmup, url))


if __name__ == "__main__":
    main()
