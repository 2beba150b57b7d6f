"""Following a run through its event stream, and falling back to polling when the stream breaks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from assistdb import AssistDB, RunTimeoutError, ToolRegistry, tool
from assistdb.server import LocalServer
from tests.runner.conftest import assistant_for, reply_of, statuses, thread_saying

GET_RUN = "GET /v1/threads/{thread_id}/runs/{run_id}"


@tool
def double(n: int) -> int:
    return 2 * n


def test_a_streamed_run_with_two_rounds_is_archived_without_a_single_poll(
    db: AssistDB, assistdb_server: LocalServer
) -> None:
    registry = ToolRegistry([double])
    thread_id = thread_saying(db, '/tool double {"n": 2}\n/then\n/tool double {"n": 21}')
    assistant_id = assistant_for(db, registry)
    assistdb_server.reset_stats()
    run = db.runs.create_and_wait(thread_id, assistant_id=assistant_id, tools=registry, stream=True)
    assert run.status == "completed"
    assert assistdb_server.stats()["by_route"] == {
        "POST /v1/threads/{thread_id}/runs": 1,
        "POST /v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs": 2,
    }
    seen = statuses(db, run.id)
    assert seen[0] == "queued" and seen[-1] == "completed" and seen.count("requires_action") == 2
    assert "in_progress" in seen
    assert reply_of(db, thread_id, run.id) == "double -> 4\ndouble -> 42"
    assert [(step.type, step.status) for step in db.steps.find(run.id)] == [
        ("tool_calls", "completed"),
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    assert all(state.submitted for state in db.store.tools.calls_of_run(run.id).values())


def test_a_broken_stream_falls_back_to_polling(
    database_url: str, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    server = assistdb_server_factory(run_latency=0.8, poll_after_ms=100)
    # Reads time out after 0.25 s of silence: the stream breaks while the run works quietly.
    with AssistDB(database_url, client=server.client(timeout=0.25, max_retries=0)) as db:
        registry = ToolRegistry([double])
        thread_id = thread_saying(db, '/tool double {"n": 5}')
        assistant_id = assistant_for(db, registry)
        server.reset_stats()
        run = db.runs.create_and_wait(thread_id, assistant_id=assistant_id, tools=registry, stream=True)
        assert run.status == "completed"
        by_route: dict[str, Any] = server.stats()["by_route"]
        assert by_route[GET_RUN] >= 2, "both phases were polled after their streams broke"
        assert reply_of(db, thread_id, run.id) == "double -> 10"
        assert [step.status for step in db.steps.find(run.id)] == ["completed", "completed"]
        seen = statuses(db, run.id)
        assert seen[0] == "queued" and seen[-1] == "completed" and "requires_action" in seen


def test_a_streamed_wait_times_out_too(sqlite_db: AssistDB) -> None:
    thread_id = thread_saying(sqlite_db, "/sleep 30\nslow")
    # Long enough for the create's answer to arrive on a loaded machine: a streamed create
    # that does not answer before the deadline is retried by the SDK (see docs/library.md).
    with pytest.raises(RunTimeoutError, match="it was cancelled") as raised:
        sqlite_db.runs.create_and_wait(
            thread_id, assistant_id=assistant_for(sqlite_db), stream=True, timeout=1.5
        )
    assert raised.value.run.status == "cancelling"  # type: ignore[attr-defined]


@pytest.mark.parametrize("script", ["/fail nope", "/expire", "/incomplete"])
def test_streamed_runs_end_in_every_status(sqlite_db: AssistDB, script: str) -> None:
    thread_id = thread_saying(sqlite_db, script)
    run = sqlite_db.runs.create_and_wait(thread_id, assistant_id=assistant_for(sqlite_db), stream=True)
    assert run.status == {"/fail nope": "failed", "/expire": "expired", "/incomplete": "incomplete"}[script]
    assert statuses(sqlite_db, run.id)[-1] == run.status
