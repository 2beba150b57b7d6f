"""The tool-call ledger: what the run engine must remember to call each tool exactly once.

Each event is committed on its own, before the action it announces: ``started`` before the tool
runs, ``finished`` (with the output) before the output is submitted, ``submitted`` after the API
accepted it. The unique (call, attempt, event) key makes ``started`` a claim: of two processes
resuming one run, only one gets to run a given attempt.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select

from assistdb.store.archive import now_us
from assistdb.store.database import Database
from assistdb.store.schema import TOOL_CALLS as TOOL_CALLS


class AttemptTaken(Exception):
    """Another process has already started this attempt of this tool call."""


@dataclass
class CallState:
    """Everything the ledger knows about one tool call."""

    call_id: str
    function_name: str
    arguments: str
    attempts: int = 0
    output: str | None = None
    is_error: bool = False
    finished: bool = False
    submitted: bool = False
    started_at_us: int | None = None  # when the latest attempt was claimed
    events: list[str] = field(default_factory=list)


class ToolLedger:
    def __init__(self, database: Database) -> None:
        self.database = database

    def start(
        self, *, call_id: str, run_id: str, thread_id: str, function_name: str, arguments: str, attempt: int
    ) -> None:
        """Claim ``attempt`` of a call; raises :class:`AttemptTaken` if another process has it."""
        try:
            self._insert(
                call_id=call_id,
                attempt=attempt,
                event="started",
                run_id=run_id,
                thread_id=thread_id,
                function_name=function_name,
                arguments=arguments,
                output=None,
                is_error=False,
            )
        except sa_exc.IntegrityError:
            raise AttemptTaken(call_id) from None

    def finish(
        self,
        *,
        call_id: str,
        run_id: str,
        thread_id: str,
        function_name: str,
        arguments: str,
        attempt: int,
        output: str,
        is_error: bool,
    ) -> None:
        self._insert(
            call_id=call_id,
            attempt=attempt,
            event="finished",
            run_id=run_id,
            thread_id=thread_id,
            function_name=function_name,
            arguments=arguments,
            output=output,
            is_error=is_error,
        )

    def mark_submitted(self, states: Sequence[CallState], *, run_id: str, thread_id: str) -> None:
        rows = [
            self._row(
                call_id=state.call_id,
                attempt=max(state.attempts, 1),
                event="submitted",
                run_id=run_id,
                thread_id=thread_id,
                function_name=state.function_name,
                arguments=state.arguments,
                output=state.output,
                is_error=state.is_error,
            )
            for state in states
        ]
        if rows:
            with self.database.write() as connection:
                for row in rows:  # tolerate a second process having marked some of them already
                    with contextlib.suppress(sa_exc.IntegrityError), connection.begin_nested():
                        connection.execute(insert(TOOL_CALLS), row)

    def calls_of_run(self, run_id: str) -> dict[str, CallState]:
        """The state of every call of a run the ledger has seen, by call ID."""
        statement = select(TOOL_CALLS).where(TOOL_CALLS.c.run_id == run_id).order_by(TOOL_CALLS.c.id)
        states: dict[str, CallState] = {}
        with self.database.read() as connection:
            for row in connection.execute(statement).mappings():
                state = states.setdefault(
                    row["call_id"], CallState(row["call_id"], row["function_name"], row["arguments"])
                )
                state.events.append(row["event"])
                if row["event"] == "started":
                    state.attempts = max(state.attempts, row["attempt"])
                    state.started_at_us = row["recorded_at_us"]
                elif row["event"] == "finished":
                    state.finished, state.output, state.is_error = True, row["output"], bool(row["is_error"])
                elif row["event"] == "submitted":
                    state.submitted = True
        return states

    def _insert(self, **values: object) -> None:
        with self.database.write() as connection:
            connection.execute(insert(TOOL_CALLS), self._row(**values))

    @staticmethod
    def _row(**values: object) -> dict[str, object]:
        return {**values, "recorded_at_us": now_us()}
