"""Ctrl-C (SIGINT) in the middle of a sync and of a run with tools, sent to an ``assistdb``
process: exit 130 with one line, an archive that verifies, and running the same command again
finishes the job."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from assistdb import AssistDB
from assistdb.repositories import api
from assistdb.server import LocalServer
from assistdb.store import Store
from tests.reliability.archives import assert_sound, observer_view
from tests.reliability.conftest import TOOLS_MODULE, invoke
from tests.reliability.forked_cli import Child, ForkedCli
from tests.reliability.sample_tools import MARK_ENV, registry


def interrupted(forked: ForkedCli, child: Child, says: str) -> None:
    """The process ended on Ctrl-C the documented way: exit 130, one line with a hint, nothing on
    stdout."""
    status = forked.wait(child)
    stdout, stderr = child.output()
    assert status == 130, stderr
    assert stdout == "" and "Traceback" not in stderr
    (line,) = stderr.strip().splitlines()
    assert line.startswith(f"error: {says}") and " (" in line and line.endswith(")"), line


class InterruptAfter:
    """A server hook that sends SIGINT to a process just before the n-th response from now."""

    def __init__(self, responses: int, pid: int) -> None:
        self.left, self.pid = responses, pid
        self._lock = threading.Lock()

    def __call__(self, operation_id: str, status: int, body: object) -> None:
        with self._lock:
            self.left -= 1
            if self.left == 0:
                os.kill(self.pid, signal.SIGINT)


def test_ctrl_c_in_a_sync(
    database_url: str,
    assistdb_server_factory: Callable[..., LocalServer],
    forked_cli: ForkedCli,
    tmp_path: Path,
) -> None:
    server = assistdb_server_factory(latency=0.01)  # a sync of a few seconds
    # Ten pages of messages per thread: a worker told to stop finishes the page in hand, and the
    # interrupt (at the 15th response, a few pages into each thread) must leave most of the job.
    thread_ids = [server.seed_thread(messages=1000, runs=5) for _ in range(4)]
    reference = f"sqlite:///{tmp_path / 'reference.sqlite3'}"
    for url in (database_url, reference):
        store = Store(url)
        store.tracking.track(thread_ids)
        store.close()
    command = ("--db", database_url, "--base-url", server.base_url, "threads", "sync", "--all")

    def sync(url: str) -> Result:
        return invoke(
            "--db", url, "--base-url", server.base_url, "threads", "sync", "--all", key=server.api_key
        )

    assert sync(reference).exit_code == 0
    child = forked_cli.start(*command, env={"OPENAI_API_KEY": server.api_key})
    server.on_response = InterruptAfter(15, child.pid)
    try:
        interrupted(forked_cli, child, "interrupted")
    finally:
        server.on_response = None
    assert_sound(database_url)
    assert observer_view(database_url) != observer_view(reference), "interrupted part-way"

    assert sync(database_url).exit_code == 0
    assert observer_view(database_url) == observer_view(reference)
    assert_sound(database_url)


def test_ctrl_c_while_a_tool_runs(
    database_url: str,
    assistdb_server_factory: Callable[..., LocalServer],
    forked_cli: ForkedCli,
    tmp_path: Path,
) -> None:
    server = assistdb_server_factory()
    with AssistDB(database_url, client=server.client()) as db:
        assistant = db.assistants.create(model="gpt-4o", tools=registry.definitions())
        thread = db.threads.create(messages=[{"role": "user", "content": '/tool linger {"seconds": 60}'}])
    command = (
        *("--db", database_url, "--base-url", server.base_url),
        *("runs", "create", thread.id, "--assistant", assistant.id, "--tools", TOOLS_MODULE, "--wait"),
    )
    env = {"OPENAI_API_KEY": server.api_key, MARK_ENV: str(tmp_path)}
    child = forked_cli.start(*command, env=env)
    deadline = time.monotonic() + 60
    while not (tmp_path / "linger.started").exists():
        assert child.status is None and time.monotonic() < deadline, child.output()
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGINT)
    interrupted(forked_cli, child, "interrupted; run run_")

    (run,) = api.call(server.client().beta.threads.runs.list, thread.id).data
    assert run.status in ("cancelling", "cancelled")
    with AssistDB(database_url) as db:
        assert db.runs.archived(run.id).status in ("cancelling", "cancelled")  # type: ignore[union-attr]
        (call,) = db.store.tools.calls_of_run(run.id).values()
        assert call.function_name == "linger" and not call.submitted
    assert_sound(database_url)

    again = invoke(*command, "--json", key=server.api_key, env={MARK_ENV: str(tmp_path)})
    assert again.exit_code == 0, again.output
    assert '"status": "completed"' in again.stdout
    assert_sound(database_url)
