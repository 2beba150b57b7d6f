"""Deciding, for each tool call a run asks for, whether to run the tool, reuse a recorded output,
wait for another process, or answer that the outcome is unknown. The ledger's record decides:

* finished: submit the recorded output, never run the tool again;
* never started: claim attempt 1 and run it;
* started, not finished, recently enough that the attempt may still be running somewhere: wait;
* started long ago and never finished (its process died): run it again if the tool is
  idempotent, else answer with an error saying its outcome is unknown (it may have acted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from openai.types.beta.threads import Run

from assistdb.runner.tools.registry import Tool
from assistdb.store.tool_ledger import CallState

#: How long after an attempt's own timeout its process gets to record the outcome.
IN_FLIGHT_GRACE = 2.0
#: Timeout assumed for a call to a function we do not have (answered at once).
UNKNOWN_FUNCTION_TIMEOUT = 0.0

Action = Literal["run", "reuse", "wait", "unknown"]


@dataclass(frozen=True)
class RequestedCall:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Decision:
    action: Action
    attempt: int = 0
    output: str | None = None
    is_error: bool = False


def requested_calls(run: Run) -> list[RequestedCall]:
    """The function calls of a ``requires_action`` run, in the order the run lists them."""
    action: Any = run.required_action
    if action is None or action.type != "submit_tool_outputs":
        return []
    return [
        RequestedCall(call.id, call.function.name, call.function.arguments)
        for call in action.submit_tool_outputs.tool_calls
    ]


def decide(
    call: RequestedCall, state: CallState | None, tool: Tool[..., Any] | None, now_us: int
) -> Decision:
    if state is None or state.attempts == 0:
        return Decision("run", attempt=1)
    if state.finished:
        return Decision("reuse", attempt=state.attempts, output=state.output or "", is_error=state.is_error)
    timeout = tool.timeout if tool is not None else UNKNOWN_FUNCTION_TIMEOUT
    started = state.started_at_us if state.started_at_us is not None else 0
    if now_us - started < (timeout + IN_FLIGHT_GRACE) * 1_000_000:
        return Decision("wait", attempt=state.attempts)
    if tool is None or tool.idempotent:
        return Decision("run", attempt=state.attempts + 1)
    return Decision("unknown", attempt=state.attempts + 1)
