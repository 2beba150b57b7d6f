"""A flaky server: 10% of requests answered 5xx, 5% 429 with ``Retry-After``, and latency spikes.
Runs with tool calls still complete, each tool call answered exactly once; ``assistdb threads
sync --all`` (run again when a thread fails after the SDK's retries) ends with the archive a sync
of a healthy server makes.

The server state (50 threads, 20 of them with runs driven through the faults) is built once;
each backend then gets its own sync through the faults, compared with one healthy sync."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import Result

from assistdb import AssistDB
from assistdb.repositories import api
from assistdb.server import LocalServer
from assistdb.sync.remote import MIN_RETRIES
from tests.cli.conftest import assert_one_line_error
from tests.reliability.archives import assert_sound, observer_view
from tests.reliability.conftest import invoke
from tests.reliability.sample_tools import registry

FLAKY = {"fault_rate": 0.15, "rate_limit_share": 1 / 3, "spike_rate": 0.05, "spike": 0.3}
HEALTHY = {"fault_rate": 0.0, "spike_rate": 0.0}
OUTAGE = {"fault_rate": 1.0, "rate_limit_share": 1.0}  # every request refused: retries run out
#: After the outage, faults stay but are all 429s for the rest of that sync: a 5xx would make the
#: requests that retried through the outage back off for up to 8 s (the SDK's cap), for nothing.
AFTERMATH = {"fault_rate": 0.15, "rate_limit_share": 1.0}
OUTAGE_AFTER = 40  # responses into the first sync
OUTAGE_SECONDS = 1.5  # longer than a request's retries (9 tries, 0.1 s apart)
SEEDED_THREADS = 30
TOOL_RUNS = 20
MAX_SYNCS = 4
ANSWERED_ONCE = ["started", "finished", "submitted"]


def script(n: int) -> str:
    """Two parallel calls; every other run asks for a second round."""
    first = f'/tool lookup {{"key": "a{n}"}}\n/tool lookup {{"key": "b{n}"}}'
    return first + (f'\n/then\n/tool lookup {{"key": "c{n}"}}' if n % 2 else "")


@dataclass(frozen=True)
class FlakyWorld:
    server: LocalServer
    thread_ids: list[str]
    driver_url: str  # the archive of the runs driven through the faults
    run_ids: list[str]
    healthy_view: list[dict[str, Any]]  # what a sync of the healthy server archives


@pytest.fixture(scope="module")
def flaky_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlakyWorld]:
    folder = tmp_path_factory.mktemp("flaky")
    with LocalServer(run_latency=0.05, poll_after_ms=50, seed=11) as server:
        client = server.client()
        assistant = api.call(client.beta.assistants.create, model="gpt-4o", tools=registry.definitions())
        seeded = [server.seed_thread(messages=30, runs=3) for _ in range(SEEDED_THREADS)]
        with_tools = [
            api.call(client.beta.threads.create, messages=[{"role": "user", "content": script(n)}]).id
            for n in range(TOOL_RUNS)
        ]
        server.configure(**FLAKY)
        driver_url = f"sqlite:///{folder / 'driver.sqlite3'}"
        # Eight runs at a time, with as many retries as sync takes: at 15% faults, the 5 retries of
        # a default assistdb client would let a request fail about once in 100,000, so once in a
        # few hundred test runs (the run engine then raises; `runs wait` would resume it).
        with (
            AssistDB(driver_url, client=server.client(max_retries=MIN_RETRIES)) as driver,
            ThreadPoolExecutor(8) as pool,
        ):
            runs = list(
                pool.map(
                    lambda thread_id: driver.runs.create_and_wait(
                        thread_id, assistant_id=assistant.id, tools=registry
                    ),
                    with_tools,
                )
            )
        assert server.stats()["faults"] > 0
        assert [run.status for run in runs] == ["completed"] * TOOL_RUNS

        server.configure(**HEALTHY)
        thread_ids = seeded + with_tools
        healthy = f"sqlite:///{folder / 'healthy.sqlite3'}"
        for args in (("threads", "track", *thread_ids), ("threads", "sync", "--all")):
            result = invoke("--db", healthy, "--base-url", server.base_url, *args, key=server.api_key)
            assert result.exit_code == 0, result.output
        assert_sound(healthy)
        yield FlakyWorld(server, thread_ids, driver_url, [run.id for run in runs], observer_view(healthy))


def test_runs_with_tools_through_a_flaky_server_answer_each_call_once(flaky_world: FlakyWorld) -> None:
    with AssistDB(flaky_world.driver_url) as driver:
        for n, run_id in enumerate(flaky_world.run_ids):
            calls = driver.store.tools.calls_of_run(run_id).values()
            assert len(calls) == (3 if n % 2 else 2)
            for call in calls:  # answered once, with the tool's own output
                assert (call.events, call.attempts, call.is_error) == (ANSWERED_ONCE, 1, False)
                assert call.output is not None and call.output.startswith("value-of-")
            assert driver.runs.archived(run_id).status == "completed"  # type: ignore[union-attr]
    assert_sound(flaky_world.driver_url)


class Outage:
    """Counts response statuses; after ``OUTAGE_AFTER`` responses, refuses everything for a while."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.statuses: Counter[int] = Counter()
        self.started = False
        self._lock = threading.Lock()

    def on_response(self, operation_id: str, status: int, body: object) -> None:
        with self._lock:
            self.statuses[status] += 1
            if self.started or self.statuses.total() < OUTAGE_AFTER:
                return
            self.started = True
        self.server.configure(**OUTAGE)
        threading.Timer(OUTAGE_SECONDS, lambda: self.server.configure(**AFTERMATH)).start()


SYNC = ("threads", "sync", "--all", "--workers", "8", "--json")


def sync_until_done(run: Callable[..., Result], attempts: list[Result]) -> None:
    """Run ``threads sync --all`` again until it succeeds; each failure must be the documented
    one-liner."""
    while attempts[-1].exit_code != 0 and len(attempts) < MAX_SYNCS:
        assert_one_line_error(attempts[-1], 4, "failed to sync", "run the sync again")
        attempts.append(run(*SYNC))


def test_a_sync_through_a_flaky_server_archives_what_a_healthy_server_gives(
    database_url: str, flaky_world: FlakyWorld
) -> None:
    server = flaky_world.server

    def sync(*args: str) -> Result:
        return invoke("--db", database_url, "--base-url", server.base_url, *args, key=server.api_key)

    assert sync("threads", "track", *flaky_world.thread_ids).exit_code == 0
    outage = Outage(server)
    server.configure(**FLAKY)
    server.on_response = outage.on_response
    try:
        attempts = [sync(*SYNC)]
        server.configure(**FLAKY)
        sync_until_done(sync, attempts)
    finally:
        server.on_response = None
        server.configure(**HEALTHY)
    assert attempts[0].exit_code == 4, "the outage made threads fail after their retries"
    assert attempts[-1].exit_code == 0, attempts[-1].output
    assert outage.statuses[429] > 0 and outage.statuses[500] + outage.statuses[502] + outage.statuses[503] > 0

    view = flaky_world.healthy_view
    assert {row["chain_id"] for row in view if row["kind"] == "version"} == set(flaky_world.thread_ids)
    assert observer_view(database_url) == view
    assert_sound(database_url)
