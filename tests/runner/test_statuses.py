"""Every way a run can end, and what the archive keeps of it."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from assistdb import AssistDB
from assistdb.server import LocalServer
from tests.runner.conftest import assistant_for, reply_of, statuses, thread_saying


def test_a_completed_run_is_archived_with_every_status_its_steps_and_its_reply(db: AssistDB) -> None:
    assistant_id = assistant_for(db)
    thread_id = thread_saying(db, "hello there")
    run = db.runs.create_and_wait(thread_id, assistant_id=assistant_id)
    assert run.status == "completed"
    seen = statuses(db, run.id)
    assert seen[0] == "queued" and seen[-1] == "completed"
    assert db.runs.archived(run.id) == run
    steps = db.steps.find(run.id)
    assert [(step.type, step.status) for step in steps] == [("message_creation", "completed")]
    assert reply_of(db, thread_id, run.id) == "You said: hello there"


@pytest.mark.parametrize(
    ("script", "status"),
    [("/fail the model gave up", "failed"), ("/incomplete", "incomplete"), ("/expire", "expired")],
)
def test_each_other_terminal_status_is_returned_not_raised(db: AssistDB, script: str, status: str) -> None:
    thread_id = thread_saying(db, script)
    run = db.runs.create_and_wait(thread_id, assistant_id=assistant_for(db))
    assert run.status == status
    assert statuses(db, run.id)[-1] == status
    if status == "failed":
        assert run.last_error is not None and run.last_error.message == "the model gave up"
    if status == "incomplete":  # the only one of these that wrote something
        assert [step.status for step in db.steps.find(run.id)] == ["completed"]
        assert db.messages.find(thread_id, run_id=run.id)[0].status == "incomplete"


def test_a_run_cancelled_by_someone_else_ends_the_wait_as_cancelled(db: AssistDB) -> None:
    thread_id = thread_saying(db, "/sleep 30\ntake your time")
    run = db.runs.create(thread_id, assistant_id=assistant_for(db))
    result: list[str] = []
    waiter = threading.Thread(target=lambda: result.append(db.runs.wait(run.id).status))
    waiter.start()
    db.runs.cancel(run.id)
    waiter.join(timeout=30)
    assert result == ["cancelled"]
    seen = statuses(db, run.id)
    assert "cancelling" in seen and seen[-1] == "cancelled"


def test_every_state_the_server_answered_is_archived_in_order(
    database_url: str, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    answered: list[dict[str, Any]] = []

    def keep(operation: str, status: int, body: object) -> None:
        if operation in ("createRun", "getRun") and isinstance(body, dict):
            answered.append(json.loads(json.dumps(body)))  # the server keeps changing its own dict

    server = assistdb_server_factory(run_latency=0.3, poll_after_ms=100, on_response=keep)
    with AssistDB(database_url, client=server.client()) as db:
        thread_id = thread_saying(db, "hello")
        run = db.runs.create_and_wait(thread_id, assistant_id=assistant_for(db))
        changes = [body for before, body in itertools.pairwise([{}, *answered]) if body != before]
        assert [version.body for version in db.runs.history(run.id)] == changes
        assert [body["status"] for body in changes] == ["queued", "in_progress", "completed"]
        assert len(answered) > len(changes), "unchanged answers are not stored twice"


def test_waiting_for_a_run_that_has_ended_returns_it_at_once(db: AssistDB) -> None:
    thread_id = thread_saying(db, "hi")
    run = db.runs.create_and_wait(thread_id, assistant_id=assistant_for(db))
    again = db.runs.wait(run.id)  # the thread is found in the archive
    assert again.status == "completed" and again.id == run.id
