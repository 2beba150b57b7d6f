"""The transitions of a run, each applied inside one database transaction with its stream events.

Whoever moves a run (its driver, a client's cancel or submission, the sweeper expiring it)
changes the run, its open step and message and appends the matching events in the same
transaction, so the stored state and the event stream never disagree, even across processes.

``RunRow.driver`` is the driver's bookkeeping: ``rounds`` (earlier tool rounds: calls and
outputs), ``pending`` (the calls awaiting outputs), ``pending_usage``, ``completion_used``, and
the ``step_id``/``message_id`` of the round in progress, reused if the round is run again after
its process died, so a reply is never written twice.
"""

from __future__ import annotations

from typing import Any

from assistdb.server import objects
from assistdb.server.errors import invalid
from assistdb.server.objects import Obj
from assistdb.server.request_models import ToolOutput
from assistdb.server.state import RunRow, Tx

ACTIVE_STATUSES = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
TERMINAL_STAMPS = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at"}


def new_driver_state() -> Obj:
    return {
        "rounds": [],
        "pending": [],
        "pending_usage": None,
        "completion_used": 0,
        "step_id": None,
        "message_id": None,
    }


def emit(tx: Tx, run_id: str, event: str, payload: Obj, now: float) -> None:
    tx.add_event(run_id, event, payload, now)


def mark_in_progress(tx: Tx, row: RunRow, now: float, *, save: bool = True) -> None:
    """``save=False``: the caller saves the run itself once its transition is done."""
    if row.obj["status"] == "in_progress":
        return
    row.obj["status"] = "in_progress"
    row.obj["started_at"] = int(now)
    if save:
        tx.save_run(row)
    emit(tx, row.id, "thread.run.in_progress", row.obj, now)


def open_step(tx: Tx, row: RunRow, now: float, details: Obj) -> Obj:
    step = objects.run_step(tx.new_id("step_"), row.obj, int(now), details)
    tx.add_step(step)
    row.driver["step_id"] = step["id"]
    emit(tx, row.id, "thread.run.step.created", step, now)
    emit(tx, row.id, "thread.run.step.in_progress", step, now)
    return step


def _unfinished_step(tx: Tx, row: RunRow, kind: str) -> Obj | None:
    """The step an interrupted attempt at this round left open, if it is of ``kind``; one of
    another kind is discarded (the model answered differently this time, and no client was ever
    asked to act on it)."""
    step = tx.step_by_id(row.driver.get("step_id") or "")
    if step is None or step["status"] != "in_progress":
        return None
    if step["type"] == kind:
        return step
    tx.discard_step(step["id"])
    if row.driver.get("message_id"):
        tx.discard_message(row.driver["message_id"])
    row.driver.update(step_id=None, message_id=None)
    return None


def open_tool_step(tx: Tx, row: RunRow, now: float) -> Obj:
    """The round's tool_calls step (the one an interrupted attempt opened, emptied, if any)."""
    step = _unfinished_step(tx, row, "tool_calls")
    if step is not None:
        step["step_details"]["tool_calls"] = []
        tx.save_step(step)
        return step
    return open_step(tx, row, now, {"type": "tool_calls", "tool_calls": []})


def open_message(tx: Tx, row: RunRow, now: float) -> Obj:
    """The round's message_creation step and its empty assistant message (reused on a rerun)."""
    _unfinished_step(tx, row, "message_creation")
    existing = tx.message_by_id(row.driver.get("message_id") or "")
    if existing is not None and existing["status"] == "in_progress":
        existing["content"] = []
        tx.save_message(existing)
        return existing
    message_id = tx.new_id("msg_")
    open_step(tx, row, now, {"type": "message_creation", "message_creation": {"message_id": message_id}})
    message = objects.message(
        message_id,
        row.obj["thread_id"],
        int(now),
        role="assistant",
        content=[],
        assistant_id=row.obj["assistant_id"],
        run_id=row.id,
        status="in_progress",
    )
    tx.add_message(message)
    row.driver["message_id"] = message_id
    emit(tx, row.id, "thread.message.created", message, now)
    emit(tx, row.id, "thread.message.in_progress", message, now)
    return message


def close_message(
    tx: Tx, row: RunRow, now: float, text: str, *, cut_short: bool, annotations: list[Obj] | None = None
) -> None:
    message = tx.message_by_id(row.driver.get("message_id") or "")
    if message is None:
        return
    message["content"] = [{"type": "text", "text": {"value": text, "annotations": annotations or []}}]
    if cut_short:
        message.update(
            status="incomplete", incomplete_at=int(now), incomplete_details={"reason": "max_tokens"}
        )
    else:
        message.update(status="completed", completed_at=int(now))
    tx.save_message(message)
    emit(tx, row.id, f"thread.message.{message['status']}", message, now)


def complete_step(tx: Tx, row: RunRow, now: float, usage: Obj, step: Obj | None = None) -> None:
    step = step or tx.step_by_id(row.driver.get("step_id") or "")
    if step is None:
        return
    step.update(status="completed", completed_at=int(now), usage=usage)
    tx.save_step(step)
    emit(tx, row.id, "thread.run.step.completed", step, now)


def require_action(tx: Tx, row: RunRow, now: float, calls: list[Obj], usage: Obj) -> None:
    """The model asked for tool calls: fill the step and wait for the client's outputs."""
    step = tx.step_by_id(row.driver.get("step_id") or "")
    if step is not None:
        step["step_details"]["tool_calls"] = [
            {"id": call["id"], "type": "function", "function": {**call["function"], "output": None}}
            for call in calls
        ]
        tx.save_step(step)
    row.driver.update(pending=calls, pending_usage=usage)
    row.obj["status"] = "requires_action"
    row.obj["required_action"] = {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {"tool_calls": calls},
    }
    tx.save_run(row, owner=None, lease_until=None)
    emit(tx, row.id, "thread.run.requires_action", row.obj, now)


def accept_tool_outputs(tx: Tx, row: RunRow, outputs: list[ToolOutput], now: float) -> None:
    """Record the outputs of every pending call; the run is queued for its next round."""
    if row.status != "requires_action":
        raise invalid(f'Runs in status "{row.status}" do not accept tool outputs.')
    pending = row.driver["pending"]
    expected = [call["id"] for call in pending]
    given = [output.tool_call_id for output in outputs]
    if sorted(given) != sorted(expected):
        raise invalid(f"Expected tool outputs for call_ids {expected}, got {given}", param="tool_outputs")
    answers = {output.tool_call_id: output.output for output in outputs}
    usage = row.driver.get("pending_usage") or objects.usage(0, 0)
    step = tx.step_by_id(row.driver.get("step_id") or "")
    if step is not None:
        for call in step["step_details"]["tool_calls"]:
            call["function"]["output"] = answers.get(call["id"])
        complete_step(tx, row, now, usage, step)
    row.driver["rounds"].append(
        {
            "calls": [
                {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                for c in pending
            ],
            "outputs": {call_id: answers[call_id] for call_id in expected},
        }
    )
    row.driver["completion_used"] += int(usage["completion_tokens"])
    row.driver.update(pending=[], pending_usage=None, step_id=None, message_id=None)
    row.obj["status"] = "queued"
    row.obj["required_action"] = None
    tx.save_run(row)
    emit(tx, row.id, "thread.run.queued", row.obj, now)


def request_cancel(tx: Tx, row: RunRow, now: float) -> None:
    if row.status not in ("queued", "in_progress", "requires_action"):
        raise invalid(f"Cannot cancel run with status '{row.status}'.")
    row.obj["status"] = "cancelling"
    tx.save_run(row)
    emit(tx, row.id, "thread.run.cancelling", row.obj, now)


def is_overdue(row: RunRow, now: float) -> bool:
    return row.status in ("queued", "in_progress", "requires_action") and now >= row.expire_at


def expire(tx: Tx, row: RunRow, now: float, text: str = "") -> None:
    at = min(now, row.expire_at)
    abandon(tx, row, at, step_status="expired", message_reason="run_expired", text=text)
    end(tx, row, at, "expired")


def cancel(tx: Tx, row: RunRow, now: float, text: str = "") -> None:
    abandon(tx, row, now, step_status="cancelled", message_reason="run_cancelled", text=text)
    end(tx, row, now, "cancelled")


def fail(tx: Tx, row: RunRow, now: float, code: str, message: str, text: str = "") -> None:
    error = {"code": code, "message": message}
    abandon(tx, row, now, step_status="failed", message_reason="run_failed", last_error=error, text=text)
    end(tx, row, now, "failed", last_error=error)


def abandon(
    tx: Tx,
    row: RunRow,
    now: float,
    *,
    step_status: str,
    message_reason: str,
    last_error: Obj | None = None,
    text: str = "",
) -> None:
    """Close the step and message the run was working on when it stopped early, keeping the
    text the model had written so far."""
    step = tx.step_by_id(row.driver.get("step_id") or "")
    if step is not None and step["status"] == "in_progress":
        step.update({"status": step_status, f"{step_status}_at": int(now)})
        if last_error is not None:
            step["last_error"] = last_error
        tx.save_step(step)
        emit(tx, row.id, f"thread.run.step.{step_status}", step, now)
    message = tx.message_by_id(row.driver.get("message_id") or "")
    if message is not None and message["status"] == "in_progress":
        if text:
            message["content"] = [{"type": "text", "text": {"value": text, "annotations": []}}]
        message.update(
            status="incomplete", incomplete_at=int(now), incomplete_details={"reason": message_reason}
        )
        tx.save_message(message)
        emit(tx, row.id, "thread.message.incomplete", message, now)


def end(tx: Tx, row: RunRow, now: float, status: str, **fields: Any) -> None:
    """Put the run in a terminal status, with its usage summed over its steps."""
    run_obj = row.obj
    if run_obj["status"] == "queued" and status not in ("cancelled", "expired"):
        mark_in_progress(tx, row, now)
    run_obj.update(fields)
    run_obj["status"] = status
    run_obj["required_action"] = None
    stamp = TERMINAL_STAMPS.get(status)
    if stamp is not None:
        run_obj[stamp] = int(now)
    run_obj["expires_at"] = int(now) if status == "expired" else None
    prompt = completion = 0
    for step in tx.run_steps(row.id):
        if step["usage"] is not None:
            prompt += step["usage"]["prompt_tokens"]
            completion += step["usage"]["completion_tokens"]
    run_obj["usage"] = objects.usage(prompt, completion)
    row.driver.update(pending=[], pending_usage=None)
    tx.save_run(row, owner=None, lease_until=None)
    emit(tx, row.id, f"thread.run.{status}", run_obj, now)
