"""The schedule of one run: everything needed to recompute its state at any moment.

A run's status is a function of time and of what clients did (submissions, cancellation). The
plan holds those inputs and the current stage; it is persisted with the run, so a restarted
server carries on with the same schedule.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Stage = Literal["queued", "working", "waiting", "cancelling", "done"]


@dataclass
class RunPlan:
    """``rounds`` holds ``[name, arguments]`` pairs; ``pending`` holds ``[call_id, name, arguments]``."""

    rounds: list[list[list[str]]]
    ending: str
    fail_message: str
    user_text: str | None
    prompt_base: int
    expire_at: float
    phase_start: float
    phase_length: float
    queued_length: float
    phase: int = 0
    stage: Stage = "queued"
    cancel_at: float | None = None
    step_id: str | None = None
    message_id: str | None = None
    blocked: str | None = None
    pending: list[list[str]] = field(default_factory=list)
    outputs: list[list[str]] = field(default_factory=list)
    output_tokens: int = 0
    completion_used: int = 0

    @property
    def in_tool_round(self) -> bool:
        return self.phase < len(self.rounds)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunPlan:
        return cls(**data)


def finished_plan() -> RunPlan:
    """The plan of a run that is already over (seeded runs)."""
    return RunPlan(
        rounds=[],
        ending="reply",
        fail_message="",
        user_text=None,
        prompt_base=0,
        expire_at=0.0,
        phase_start=0.0,
        phase_length=0.0,
        queued_length=0.0,
        stage="done",
    )
