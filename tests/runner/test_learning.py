"""A new process starts with what the archive knows about how long runs take."""

from __future__ import annotations

from collections.abc import Callable

from assistdb import AssistDB
from assistdb.runner.rules.durations import DurationBook, archived_brackets
from assistdb.server import LocalServer
from tests.runner.conftest import assistant_for, thread_saying


def test_phase_lengths_are_learned_from_the_archive_by_a_fresh_engine(
    database_url: str, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    server = assistdb_server_factory(run_latency=0.2, poll_after_ms=1000)
    with AssistDB(database_url, client=server.client()) as db:
        assistant_id = assistant_for(db)
        for _ in range(2):
            db.runs.create_and_wait(thread_saying(db, "hi"), assistant_id=assistant_id)
        fresh = DurationBook()  # what a new process would have
        new_process = AssistDB(store=db.store, client=server.client(), durations=fresh)
        run = new_process.runs.create_and_wait(thread_saying(db, "hi"), assistant_id=assistant_id)
        assert run.status == "completed"
        expected = fresh.expected((assistant_id, "gpt-4o"))
        assert expected is not None
        # The archive's versions bracket the earlier phases: the run was busy early on and at
        # rest by the time it was seen completed, at least the run latency after it began.
        assert 0 < expected.low < expected.high
        assert expected.high > 0.1
        earlier = archived_brackets(db.store.reader, (assistant_id, "gpt-4o"), exclude=run.id)
        assert len(earlier) == 2
        assert all(0 <= bracket.low < bracket.high for bracket in earlier)
