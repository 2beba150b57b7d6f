"""The tool-call ledger: what the run engine must remember to call each tool exactly once.

Each event is committed on its own, before the action it announces: ``started`` before the tool
runs, ``finished`` (with the output) before the output is submitted, ``submitted`` after the API
accepted it. The unique (call, attempt, event) key makes ``started`` a claim: of two processes
resuming one run, only one gets to run a given attempt.

The events of a run are a hash chain like a thread's versions, with its tip in ``chains`` under
``ledger:<run ID>``; appending locks that tip, so the writers of one run take turns. The ledger
verifies a run's chain every time it is read, so an output that was forged or edited in the
database is refused rather than submitted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from assistdb.errors import InvalidInputError, VerificationError
from assistdb.store.archive import CHAINS, lock_tip, move_tip, now_us
from assistdb.store.bulk import bulk_insert
from assistdb.store.chaining import LedgerChecker, event_fields
from assistdb.store.database import Database
from assistdb.store.hashing import GENESIS, Sealer, sha256_hex
from assistdb.store.schema import ID, TOOL_CALLS

LEDGER_PREFIX = "ledger:"


def ledger_chain(run_id: str) -> str:
    """The ``chains`` row that holds the tip of a run's ledger: ``ledger:<run ID>``, or for a run
    ID too long for the column, ``ledger:#<its SHA-256>``."""
    if len(LEDGER_PREFIX) + len(run_id) <= ID:
        return LEDGER_PREFIX + run_id
    return f"{LEDGER_PREFIX}#{sha256_hex(run_id)}"


def seal_events(
    rows: Iterable[dict[str, Any]], sealer: Sealer, tips: dict[str, tuple[int, str]]
) -> list[dict[str, Any]]:
    """Chain event rows (in order) onto their runs' tips, updating ``tips`` (run ID -> seq, hash)."""
    sealed = []
    for row in rows:
        seq, prev = tips.get(row["run_id"], (0, GENESIS))
        row = {**row, "seq": seq + 1, "prev_hash": prev, "scheme": sealer.scheme}
        row["row_hash"] = sealer.seal(event_fields(row))
        tips[row["run_id"]] = (seq + 1, row["row_hash"])
        sealed.append(row)
    return sealed


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
    def __init__(self, database: Database, sealer: Sealer | None = None) -> None:
        self.database = database
        self.sealer = sealer or Sealer()

    def start(
        self, *, call_id: str, run_id: str, thread_id: str, function_name: str, arguments: str, attempt: int
    ) -> None:
        """Claim ``attempt`` of a call; raises :class:`AttemptTaken` if another process has it."""
        try:
            self._append(
                run_id,
                [
                    self._row(
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
                ],
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
        row = self._row(
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
        self._append(run_id, [row])

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
        if rows:  # a second process may have marked some of them already: those are skipped
            self._append(run_id, rows, skip_recorded=True)

    def calls_of_run(self, run_id: str) -> dict[str, CallState]:
        """The state of every call of a run the ledger has seen, by call ID; raises
        :class:`VerificationError` if the run's events do not verify, so that nothing forged
        is ever submitted."""
        statement = select(TOOL_CALLS).where(TOOL_CALLS.c.run_id == run_id).order_by(TOOL_CALLS.c.seq)
        tip_statement = select(CHAINS.c.last_seq, CHAINS.c.last_hash).where(
            CHAINS.c.chain_id == ledger_chain(run_id)
        )
        with self.database.snapshot() as connection:
            rows = [dict(row) for row in connection.execute(statement).mappings()]
            tip = connection.execute(tip_statement).first()
        checker = LedgerChecker(ledger_chain(run_id), self.sealer)
        for row in rows:
            checker.check(row)
        problem = checker.problem
        if problem is None and (rows or tip is not None):
            problem = checker.check_tip((int(tip.last_seq), tip.last_hash) if tip else None)
        if problem is not None:
            raise VerificationError(
                f"the tool ledger of run {run_id} does not verify: {problem.describe()}",
                hint="nothing was submitted; verify the archive, restore it from an export",
                situation="ledger_tampered",
            )
        if checker.unverified:
            raise InvalidInputError(
                f"the tool ledger of run {run_id} is sealed with an archive key",
                hint="set ASSISTDB_ARCHIVE_KEY to the key it was written with",
            )
        states: dict[str, CallState] = {}
        for row in rows:
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

    def _append(self, run_id: str, rows: list[dict[str, Any]], *, skip_recorded: bool = False) -> None:
        """Chain ``rows`` onto the run's ledger in one transaction, holding its tip locked.

        An event already recorded (same call, attempt and event) fails the unique key, which
        rolls the whole transaction back; with ``skip_recorded``, such events are left out first
        (one more query, for marking several calls submitted, which two processes may both do)."""
        with self.database.write() as connection:
            seq, last_hash = lock_tip(connection, ledger_chain(run_id), self.sealer)
            if skip_recorded:
                recorded = {
                    (r.call_id, r.attempt, r.event)
                    for r in connection.execute(
                        select(TOOL_CALLS.c.call_id, TOOL_CALLS.c.attempt, TOOL_CALLS.c.event).where(
                            TOOL_CALLS.c.run_id == run_id,
                            TOOL_CALLS.c.call_id.in_(sorted({row["call_id"] for row in rows})),
                        )
                    )
                }
                rows = [row for row in rows if (row["call_id"], row["attempt"], row["event"]) not in recorded]
            if not rows:
                return
            tips = {run_id: (seq, last_hash)}
            bulk_insert(connection, TOOL_CALLS, seal_events(rows, self.sealer, tips))
            move_tip(connection, ledger_chain(run_id), *tips[run_id], self.sealer.scheme)

    @staticmethod
    def _row(**values: object) -> dict[str, Any]:
        return {**values, "recorded_at_us": now_us()}
