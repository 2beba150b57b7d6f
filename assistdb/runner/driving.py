"""What the blocking and the asyncio engine share besides the rules: checking arguments, the
run being driven, and how streaming requests are made."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assistdb.errors import InvalidInputError
from assistdb.runner.session import RunSession
from assistdb.runner.tools import Tool, ToolRegistry

ToolsArgument = ToolRegistry | Sequence[Tool[..., Any] | Callable[..., Any]] | None
POLL_AFTER_HEADER = "openai-poll-after-ms"


def check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout < math.inf:
        raise InvalidInputError(
            f"timeout must be a positive number of seconds, not {timeout!r}", hint="pass e.g. timeout=60"
        )
    return float(timeout)


def stream_timeout(session: RunSession) -> dict[str, float]:
    """A stream request must not outlive the wait: its reads time out at the deadline."""
    remaining = session.remaining()
    return {} if remaining is None else {"timeout": remaining + 0.05}


@dataclass
class Target:
    """The run being driven; ``run_id`` is known once the run exists."""

    thread_id: str
    run_id: str | None = None

    @property
    def known_run_id(self) -> str:
        if self.run_id is None:
            raise RuntimeError("the run has not been created yet")
        return self.run_id
