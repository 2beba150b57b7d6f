"""What the engine keeps from a run's event stream: the run at each run event, and steps and
messages once they are finished (their deltas only rebuild what the finished object holds)."""

from __future__ import annotations

from typing import Any

from openai.types.beta.threads import Run

from assistdb.runner.rules.statuses import is_busy

_FINISHED = ("completed", "failed", "cancelled", "expired", "incomplete")
_KEPT_STEP_EVENTS = frozenset(f"thread.run.step.{status}" for status in _FINISHED)
_KEPT_MESSAGE_EVENTS = frozenset(f"thread.message.{status}" for status in _FINISHED)


def run_of(event: Any) -> Run | None:
    """The run an event carries, if it is a run event."""
    data = getattr(event, "data", None)
    return data if isinstance(data, Run) else None


def kept_body(event: Any) -> dict[str, Any] | None:
    """The API object to archive from this event, or None."""
    name = getattr(event, "event", "")
    data = getattr(event, "data", None)
    if data is None or not hasattr(data, "to_dict"):
        return None
    if isinstance(data, Run) or name in _KEPT_STEP_EVENTS or name in _KEPT_MESSAGE_EVENTS:
        body: dict[str, Any] = data.to_dict()
        return body
    return None


def is_resting(event: Any) -> bool:
    """True for a run event after which this phase is over: the run needs our outputs or has
    ended. Any status not known to be busy counts, so a new status cannot hang a stream."""
    run = run_of(event)
    return run is not None and not is_busy(run.status)
