"""Giving up on a run: a timeout, or Ctrl-C, cancels it remotely and says so."""

from __future__ import annotations

import os
import signal
import threading
import time

import openai
import pytest

from assistdb import AssistDB, InvalidInputError, RunTimeoutError, ToolRegistry, tool
from assistdb.cli.errors import exit_code
from assistdb.errors import Interrupted
from assistdb.server import LocalServer
from tests.runner.conftest import assistant_for, statuses, thread_saying
from tests.runner.slow_link import SlowLink


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


@pytest.mark.parametrize("stream", [True, False])
def test_a_create_answered_after_the_timeout_finds_its_run_and_cancels_it(
    sqlite_url: str, assistdb_server: LocalServer, stream: bool
) -> None:
    """The create's answer comes back after the whole timeout (a slow link): the run exists,
    but a resend would be refused while it is active. It is found by listing the thread's runs,
    and cancelled."""
    with AssistDB(sqlite_url, client=assistdb_server.client()) as direct:
        thread_id = thread_saying(direct, "/sleep 30\nslow")
        assistant_id = assistant_for(direct)
    with SlowLink("127.0.0.1", assistdb_server.port, delay=0.6) as link:
        slow = openai.OpenAI(base_url=f"http://127.0.0.1:{link.port}/v1", api_key=assistdb_server.api_key)
        db = AssistDB(sqlite_url, client=slow)
        with pytest.raises(RunTimeoutError) as raised:
            db.runs.create_and_wait(thread_id, assistant_id=assistant_id, timeout=0.3, stream=stream)
        db.close()
    assert raised.value.message.endswith("it was cancelled")
    run_id = raised.value.run.id  # type: ignore[attr-defined]
    with AssistDB(sqlite_url, client=assistdb_server.client()) as direct:
        assert [run.id for run in direct.runs.list(thread_id)] == [run_id]
        assert direct.runs.wait(run_id).status == "cancelled"


@pytest.mark.parametrize(("status", "looked_up"), [(503, 1), (429, 0)])
def test_a_create_refused_before_it_made_a_run_is_sent_again(
    sqlite_db: AssistDB, assistdb_server: LocalServer, status: int, looked_up: int
) -> None:
    """A 5xx may or may not have made the run, so the thread's runs are listed first (none
    here); a 429 made none. Either way the create goes again, and one run completes."""
    thread_id = thread_saying(sqlite_db, "hello")
    assistant_id = assistant_for(sqlite_db)

    def heal(operation: str, answered: int, body: object) -> None:
        if operation == "createRun" and answered // 100 == status // 100:  # 500, 502 or 503 alike
            assistdb_server.configure(fault_rate=0.0)

    assistdb_server.reset_stats()
    assistdb_server.on_response = heal
    assistdb_server.configure(fault_rate=1.0, rate_limit_share=1.0 if status == 429 else 0.0)
    try:
        run = sqlite_db.runs.create_and_wait(thread_id, assistant_id=assistant_id, timeout=30)
    finally:
        assistdb_server.on_response = None
        assistdb_server.configure(fault_rate=0.0)
    assert run.status == "completed"
    routes = assistdb_server.stats()["by_route"]
    assert routes["POST /v1/threads/{thread_id}/runs"] == 2
    assert routes.get("GET /v1/threads/{thread_id}/runs", 0) == looked_up
    assert [listed.id for listed in sqlite_db.runs.list(thread_id)] == [run.id]
