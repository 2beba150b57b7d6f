"""``assistdb threads sync --all`` killed with SIGKILL at 20 points of its work, each time run again
on the same database, ends with exactly the archive an uninterrupted sync makes: nothing lost,
nothing stored twice, every chain intact after every kill."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import func, select

from assistdb.server import LocalServer
from assistdb.store import Database, Store
from assistdb.store.archive import VERSIONS
from tests.reliability.archives import assert_sound, observer_view
from tests.reliability.conftest import invoke
from tests.reliability.forked_cli import ForkedCli

THREADS = 5
MESSAGES = 250  # three pages each
PAGE = 100  # the most versions one response can add
RUNS = 20  # each run's steps are one more request
KILLS = 20
FIRST_RESPONSE_EVERY = 5  # every fifth attempt dies at its first response, while it resumes


@dataclass(frozen=True)
class Reference:
    """The server, and what one uninterrupted sync of it archives."""

    server: LocalServer
    thread_ids: list[str]
    view: list[dict[str, Any]]
    versions: int


def track(database_url: str, thread_ids: list[str]) -> None:
    store = Store(database_url)
    try:
        store.tracking.track(thread_ids)
    finally:
        store.close()


def version_rows(database: Database) -> int:
    with database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(VERSIONS)).scalar_one())


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    with LocalServer(run_latency=0.05, poll_after_ms=50) as server:
        thread_ids = [server.seed_thread(messages=MESSAGES, runs=RUNS) for _ in range(THREADS)]
        url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'reference.sqlite3'}"
        track(url, thread_ids)
        synced = invoke(
            "--db", url, "--base-url", server.base_url, "threads", "sync", "--all", key=server.api_key
        )
        assert synced.exit_code == 0, synced.output
        database = Database(url)
        versions = version_rows(database)
        database.dispose()
        yield Reference(server, thread_ids, observer_view(url), versions)


class Killer:
    """SIGKILLs the current child at the first response the server sends it once ``due()`` holds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._due: Callable[[], bool] | None = None

    def arm(self, due: Callable[[], bool]) -> None:
        with self._lock:
            self._pid, self._due = None, due

    def aim(self, pid: int) -> None:
        with self._lock:
            self._pid = pid

    def on_response(self, operation_id: str, status: int, body: object) -> None:
        with self._lock:
            if self._pid is None or self._due is None or not self._due():
                return
            with contextlib.suppress(ProcessLookupError):  # it ended first: the test sees how
                os.kill(self._pid, signal.SIGKILL)
            self._pid = self._due = None


def reached(counter: Database, target: int | None) -> bool:
    """Whether the archive holds ``target`` versions (None: at once)."""
    return target is None or version_rows(counter) >= target


def kill_points(versions: int) -> list[int | None]:
    """For each attempt, how many versions the archive must hold before it is killed: targets
    evenly spread over the job, except every fifth attempt (None), killed at its first response,
    in the middle of picking up what the previous one left. The last target stays two pages short
    of the end: a response is what triggers the kill, and the last one may add a whole page."""
    spread = KILLS - KILLS // FIRST_RESPONSE_EVERY
    span = versions - 2 * PAGE
    targets = iter(round(span * (n + 1) / (spread + 1)) for n in range(spread))
    return [None if attempt % FIRST_RESPONSE_EVERY == 0 else next(targets) for attempt in range(KILLS)]


def test_a_sync_killed_at_20_points_and_rerun_archives_what_an_uninterrupted_sync_does(
    database_url: str, reference: Reference, forked_cli: ForkedCli
) -> None:
    server = reference.server
    track(database_url, reference.thread_ids)
    command = ("--db", database_url, "--base-url", server.base_url, "threads", "sync", "--all")
    key = {"OPENAI_API_KEY": server.api_key}
    killer = Killer()
    counter = Database(database_url)
    progress = [0]
    server.on_response = killer.on_response
    try:
        for attempt, target in enumerate(kill_points(reference.versions)):
            killer.arm(partial(reached, counter, target))
            child = forked_cli.start(*command, env=key)
            killer.aim(child.pid)
            status = forked_cli.wait(child)
            assert status == -signal.SIGKILL, (attempt, status, child.output())
            assert_sound(database_url)
            progress.append(version_rows(counter))
    finally:
        server.on_response = None
        counter.dispose()

    assert sorted(progress) == progress, "a kill never loses what earlier attempts stored"
    forward = sum(1 for before, after in pairwise(progress) if after > before)
    assert forward >= KILLS // 4 and progress[-1] > reference.versions // 2, f"kills all along: {progress}"
    status, child = forked_cli.run(*command, env=key)
    assert status == 0, child.output()
    assert observer_view(database_url) == reference.view
    assert_sound(database_url)
