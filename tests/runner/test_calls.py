"""The ledger decisions on their own: what to do with each call a run asks for."""

from __future__ import annotations

import pytest

from assistdb import tool
from assistdb.runner.rules.calls import IN_FLIGHT_GRACE, Decision, RequestedCall, decide
from assistdb.store.tool_ledger import CallState

SECOND = 1_000_000
CALL = RequestedCall("call_1", "act", "{}")


@tool(timeout=3.0)
def act() -> str:
    return "acted"


@tool(idempotent=True, timeout=3.0)
def look() -> str:
    return "looked"


def started(attempts: int = 1, at: int = 0, **fields: object) -> CallState:
    return CallState("call_1", "act", "{}", attempts=attempts, started_at_us=at, events=["started"], **fields)  # type: ignore[arg-type]


def test_a_new_call_is_run_as_attempt_one() -> None:
    assert decide(CALL, None, act, 0) == Decision("run", attempt=1)


def test_a_finished_call_reuses_its_recorded_output() -> None:
    state = started(output="done", is_error=False, finished=True)
    assert decide(CALL, state, act, 100 * SECOND) == Decision("reuse", attempt=1, output="done")


def test_a_call_started_moments_ago_may_still_be_running_elsewhere() -> None:
    deadline = int((3.0 + IN_FLIGHT_GRACE) * SECOND)
    assert decide(CALL, started(at=0), act, deadline - 1).action == "wait"
    assert decide(CALL, started(at=0), look, deadline - 1).action == "wait"


@pytest.mark.parametrize(
    ("idempotent", "expected"), [(False, Decision("unknown", attempt=3)), (True, Decision("run", attempt=3))]
)
def test_an_abandoned_call_is_rerun_only_if_idempotent(idempotent: bool, expected: Decision) -> None:
    later = int((3.0 + IN_FLIGHT_GRACE) * SECOND) + 1
    assert decide(CALL, started(attempts=2, at=0), look if idempotent else act, later) == expected


def test_a_call_to_an_unknown_function_is_answered_again_without_waiting() -> None:
    assert decide(CALL, started(at=0), None, int(IN_FLIGHT_GRACE * SECOND) + 1) == Decision("run", attempt=2)
