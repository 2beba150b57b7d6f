"""Giving up on a run: a timeout, or Ctrl-C, cancels it remotely and says so."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from assistdb import AssistDB, InvalidInputError, RunTimeoutError, ToolRegistry, tool
from assistdb.cli.errors import exit_code
from assistdb.errors import Interrupted
from tests.runner.conftest import assistant_for, statuses, thread_saying


def test_a_timeout_cancels_the_run_records_it_and_raises(db: AssistDB) -> None:
    thread_id = thread_saying(db, "/sleep 30\nslow")
    with pytest.raises(RunTimeoutError) as raised:
        db.runs.create_and_wait(thread_id, assistant_id=assistant_for(db), timeout=0.3)
    error = raised.value
    assert exit_code(error) == 5
    assert "did not end within 0.3 s; it was cancelled" in error.message
    run = error.run
    assert run.status == "cancelling"  # type: ignore[attr-defined]
    assert statuses(db, run.id)[-1] == "cancelling"  # type: ignore[attr-defined]
    assert db.runs.wait(run.id).status == "cancelled"  # type: ignore[attr-defined]


def test_a_timeout_can_leave_the_run_running(sqlite_db: AssistDB) -> None:
    thread_id = thread_saying(sqlite_db, "/sleep 30\nslow")
    with pytest.raises(RunTimeoutError, match="it is still in_progress") as raised:
        sqlite_db.runs.create_and_wait(
            thread_id, assistant_id=assistant_for(sqlite_db), timeout=0.2, cancel_on_timeout=False
        )
    run_id = raised.value.run.id  # type: ignore[attr-defined]
    assert sqlite_db.runs.retrieve(run_id).status == "in_progress"
    sqlite_db.runs.cancel(run_id)


def test_a_timeout_while_tools_run_keeps_their_outputs_but_submits_nothing(sqlite_db: AssistDB) -> None:
    @tool
    def slow() -> str:
        time.sleep(0.5)
        return "done"

    registry = ToolRegistry([slow])
    thread_id = thread_saying(sqlite_db, "/tool slow {}")
    with pytest.raises(RunTimeoutError) as raised:
        sqlite_db.runs.create_and_wait(
            thread_id, assistant_id=assistant_for(sqlite_db, registry), tools=registry, timeout=0.3
        )
    run_id = raised.value.run.id  # type: ignore[attr-defined]
    (state,) = sqlite_db.store.tools.calls_of_run(run_id).values()
    assert state.events == ["started", "finished"] and state.output == "done"
    assert statuses(sqlite_db, run_id)[-1] == "cancelling"


def test_ctrl_c_cancels_the_run_remotely_and_raises_interrupted(db: AssistDB) -> None:
    thread_id = thread_saying(db, "/sleep 30\nslow")
    interrupter = threading.Timer(0.4, lambda: os.kill(os.getpid(), signal.SIGINT))
    interrupter.start()
    try:
        with pytest.raises(Interrupted) as raised:
            db.runs.create_and_wait(thread_id, assistant_id=assistant_for(db))
    finally:
        interrupter.join()
    assert exit_code(raised.value) == 130
    assert raised.value.message.startswith("interrupted; run ") and raised.value.message.endswith(
        " was cancelled"
    )
    (run,) = db.runs.find(thread_id=thread_id)
    assert run.status == "cancelling"  # archived before raising
    assert db.runs.retrieve(run.id).status in ("cancelling", "cancelled")


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "10", True])
def test_bad_timeouts_are_refused_before_anything_happens(sqlite_db: AssistDB, timeout: object) -> None:
    thread_id = thread_saying(sqlite_db, "hi")
    with pytest.raises(InvalidInputError, match="timeout must be a positive number of seconds"):
        sqlite_db.runs.create_and_wait(thread_id, assistant_id=assistant_for(sqlite_db), timeout=timeout)  # type: ignore[arg-type]
    assert sqlite_db.runs.find(thread_id=thread_id) == []


def test_bad_ids_are_refused_before_anything_happens(sqlite_db: AssistDB) -> None:
    with pytest.raises(InvalidInputError, match="is a thread ID, not a run ID"):
        sqlite_db.runs.wait("thread_abc")
    with pytest.raises(InvalidInputError, match="does not know which thread"):
        sqlite_db.runs.wait("run_unknown")
