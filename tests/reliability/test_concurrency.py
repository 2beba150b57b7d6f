"""Processes writing one archive at once: syncs of every tracked thread, over and over, while runs
with tool calls go on in those threads. Two processes on a SQLite file, four on PostgreSQL: no
command fails, nothing is stored twice, every tool call is answered once, the chains verify, and
the archive ends up holding what a quiet sync of the server holds."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from assistdb import AssistDB
from assistdb.server import LocalServer
from assistdb.store import Store
from assistdb.store.archive import HEADS
from tests.reliability.archives import assert_sound
from tests.reliability.conftest import TOOLS_MODULE, invoke
from tests.reliability.forked_cli import ForkedCli
from tests.reliability.sample_tools import registry

TOOL_THREADS = 8
ANSWERED_ONCE = ["started", "finished", "submitted"]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(run_latency=0.05, poll_after_ms=50) as started:
        yield started


def heads(database_url: str) -> dict[str, tuple[str, bool]]:
    """Each object's latest content hash and tombstone flag."""
    store = Store(database_url)
    try:
        with store.database.read() as connection:
            rows = connection.execute(select(HEADS.c.object_id, HEADS.c.content_hash, HEADS.c.tombstone))
            return {row.object_id: (row.content_hash, bool(row.tombstone)) for row in rows}
    finally:
        store.close()


def test_concurrent_syncs_and_runs_store_everything_once(
    database_url: str, server: LocalServer, forked_cli: ForkedCli, tmp_path: Path
) -> None:
    streams = 2 if database_url.startswith("postgresql") else 1  # of each kind: 4 or 2 processes
    with AssistDB(database_url, client=server.client()) as db:
        assistant = db.assistants.create(model="gpt-4o", tools=registry.definitions())
        busy = [
            db.threads.create(messages=[{"role": "user", "content": f'/tool lookup {{"key": "t{n}"}}'}]).id
            for n in range(TOOL_THREADS)
        ]
        seeded = [server.seed_thread(messages=150, runs=10) for _ in range(3)]  # bulk for the syncs
        db.store.tracking.track(seeded)
    global_options = ("--db", database_url, "--base-url", server.base_url)
    key = {"OPENAI_API_KEY": server.api_key}
    failures: list[str] = []
    runs_done = threading.Event()

    def check(status: int, what: str, output: tuple[str, str]) -> None:
        if status != 0 or output[1].strip():
            failures.append(f"{what} -> {status}: {output}")

    def run_tools(thread_ids: list[str]) -> None:
        """One process after another, each driving a run with tools to its end."""
        for thread_id in thread_ids:
            command = (
                "runs",
                "create",
                thread_id,
                "--assistant",
                assistant.id,
                "--tools",
                TOOLS_MODULE,
                "--wait",
            )
            status, child = forked_cli.run(*global_options, *command, env=key)
            check(status, " ".join(command), child.output())

    def sync_repeatedly() -> None:
        """One process after another, each syncing every tracked thread, until the runs are done."""
        rounds = 0
        while not runs_done.is_set() or rounds < 2:
            status, child = forked_cli.run(*global_options, "threads", "sync", "--all", env=key)
            check(status, "threads sync --all", child.output())
            rounds += 1

    runners = [threading.Thread(target=run_tools, args=(busy[n::streams],)) for n in range(streams)]
    syncers = [threading.Thread(target=sync_repeatedly) for _ in range(streams)]
    for worker in runners + syncers:
        worker.start()
    for worker in runners:
        worker.join()
    runs_done.set()
    for worker in syncers:
        worker.join()

    assert failures == []
    assert_sound(database_url)
    with AssistDB(database_url) as db:
        runs = [run for thread_id in busy for run in db.runs.find(thread_id=thread_id)]
        assert len(runs) == TOOL_THREADS and {run.status for run in runs} == {"completed"}
        for run in runs:
            (call,) = db.store.tools.calls_of_run(run.id).values()
            answer = f"value-of-{json.loads(call.arguments)['key']}"
            assert (call.events, call.attempts, call.output) == (ANSWERED_ONCE, 1, answer)

    # One more sync after the storm, and the archive holds what a quiet sync of the server holds.
    quiet = f"sqlite:///{tmp_path / 'quiet.sqlite3'}"
    for url, targets in ((database_url, ("--all",)), (quiet, (*busy, *seeded))):
        result = invoke(
            "--db", url, "--base-url", server.base_url, "threads", "sync", *targets, key=server.api_key
        )
        assert result.exit_code == 0, result.output
    expected = heads(quiet)
    assert {
        object_id: head for object_id, head in heads(database_url).items() if object_id in expected
    } == expected
    assert_sound(database_url)
