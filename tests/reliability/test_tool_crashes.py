"""Killing the waiting process at the worst moments, then resuming in a new one: every tool's
effect happens exactly once (the ledger is what makes that true)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assistdb import AssistDB
from assistdb.repositories import api
from assistdb.server import LocalServer
from assistdb.store.tool_ledger import CallState
from tests.reliability.tool_crash_worker import TOOLS, lines
from tests.runner.conftest import reply_of

WORKER = Path(__file__).with_name("tool_crash_worker.py")
# As in tests/runner, where these tests began: the SDK's deprecation warnings must not reach users
# (but for the library's own filters, which pytest's per-test filters would otherwise outrank).
pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning", *api.QUIET_FILTERS)

SCRIPT = '/tool charge {"amount": 7}\n/tool set_key {"key": "colour", "value": "blue"}'


def start_worker(
    database_url: str, server: LocalServer, run_id: str, folder: Path, pause: float
) -> subprocess.Popen[str]:
    env = {**os.environ, "CRASH_FOLDER": str(folder), "CRASH_TOOL_PAUSE": str(pause)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), database_url, server.base_url, run_id],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def go(worker: subprocess.Popen[str]) -> None:
    assert worker.stdin is not None
    worker.stdin.write("go\n")
    worker.stdin.flush()


def wait_for(condition: Callable[[], bool], worker: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if worker.poll() is not None:
            raise AssertionError(f"the worker exited before {what}: {worker.communicate()}")
        if time.monotonic() > deadline:
            worker.kill()
            worker.communicate()
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


def kill(worker: subprocess.Popen[str]) -> None:
    worker.kill()  # SIGKILL: no cleanup, no finally blocks
    worker.communicate()


def finish(worker: subprocess.Popen[str]) -> None:
    """Let a resuming worker (started earlier, so already imported) go, and check it succeeded."""
    go(worker)
    out, err = worker.communicate(timeout=60)
    assert (worker.returncode, out.strip()) == (0, "completed"), err


def calls(db: AssistDB, run_id: str) -> dict[str, CallState]:
    return {state.function_name: state for state in db.store.tools.calls_of_run(run_id).values()}


def started_run(db: AssistDB) -> tuple[str, str]:
    assistant = db.assistants.create(model="gpt-4o", tools=TOOLS.definitions())
    thread = db.threads.create(messages=[{"role": "user", "content": SCRIPT}])
    run = db.runs.create(thread.id, assistant_id=assistant.id)
    return thread.id, run.id


def test_killed_while_the_tools_run(
    database_url: str, assistdb_server_factory: Callable[..., LocalServer], tmp_path: Path
) -> None:
    server = assistdb_server_factory()
    with AssistDB(database_url, client=server.client()) as db:
        thread_id, run_id = started_run(db)
        worker = start_worker(database_url, server, run_id, tmp_path, pause=60)
        resumer = start_worker(database_url, server, run_id, tmp_path, pause=0)
        go(worker)
        wait_for(
            lambda: bool(lines(tmp_path, "charges.log") and lines(tmp_path, "store.txt")),
            worker,
            "both tools acted",
        )
        kill(worker)
        assert all(state.events == ["started"] for state in calls(db, run_id).values())

        finish(resumer)

        assert lines(tmp_path, "charges.log") == ["7"], "the card was charged once"
        assert lines(tmp_path, "calls.log") == ["set_key", "set_key"], "the idempotent tool ran again"
        assert lines(tmp_path, "store.txt") == ["colour=blue"], "and its effect is single"
        charge_line, set_key_line = reply_of(db, thread_id, run_id).splitlines()
        charge_output = json.loads(charge_line.removeprefix("charge -> "))
        assert charge_output["type"] == "outcome_unknown"
        assert "may or may not have taken effect" in charge_output["error"]
        assert set_key_line == "set_key -> stored"
        states = calls(db, run_id)
        assert states["charge"].events == ["started", "started", "finished", "submitted"]
        assert states["charge"].is_error and states["charge"].attempts == 2
        assert states["set_key"].events == ["started", "started", "finished", "submitted"]
        assert not states["set_key"].is_error


def test_killed_between_a_tools_end_and_its_submission(
    database_url: str, assistdb_server_factory: Callable[..., LocalServer], tmp_path: Path
) -> None:
    server = assistdb_server_factory()
    with AssistDB(database_url, client=server.client()) as db:
        thread_id, run_id = started_run(db)
        server.configure(latency=1.5)  # every request, the submission included, takes 1.5 s to arrive
        worker = start_worker(database_url, server, run_id, tmp_path, pause=0)
        resumer = start_worker(database_url, server, run_id, tmp_path, pause=0)
        go(worker)
        wait_for(
            lambda: len([s for s in calls(db, run_id).values() if s.finished]) == 2,
            worker,
            "both outputs were recorded",
        )
        kill(worker)
        server.configure(latency=0.0)
        assert all(not state.submitted for state in calls(db, run_id).values())

        finish(resumer)

        assert lines(tmp_path, "charges.log") == ["7"]
        assert lines(tmp_path, "calls.log") == ["set_key"], "recorded outputs are submitted, not recomputed"
        assert lines(tmp_path, "store.txt") == ["colour=blue"]
        assert reply_of(db, thread_id, run_id) == "charge -> charged 7\nset_key -> stored"
        assert all(state.attempts == 1 for state in calls(db, run_id).values())
