"""Tools for the reliability tests: ``--tools tests.reliability.sample_tools``.

``lookup`` is deterministic, so that runs driven by different processes leave comparable
archives; ``explode`` always raises; ``linger`` takes its time the first time it is called (with
``RELIABILITY_TOOL_MARKS`` naming a folder for its mark), so that a test can interrupt a run
while a tool is running, and answers at once after that; ``malformed`` returns what is not valid
JSON text.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from assistdb import ToolRegistry, tool

MARK_ENV = "RELIABILITY_TOOL_MARKS"


@tool
def lookup(key: str) -> str:
    """The value stored under a key.

    Args:
        key: The key to look up.
    """
    return f"value-of-{key}"


@tool
def explode(reason: str) -> str:
    """Fail, always.

    Args:
        reason: What the error says.
    """
    raise RuntimeError(f"exploded: {reason}")


@tool(timeout=60.0)
def linger(seconds: float) -> str:
    """Take a while, the first time only: leave a mark, then sleep.

    Args:
        seconds: How long to take.
    """
    mark = Path(os.environ[MARK_ENV]) / "linger.started"
    if not mark.exists():
        mark.write_text("started")
        time.sleep(seconds)
    return "lingered"


MALFORMED: dict[str, Any] = {
    "nan": float("nan"),
    "infinity inside": {"x": [1, float("inf")]},
    "lone surrogate": "half a pair: \ud800",
    "lone surrogate inside": {"x": "\udc00"},
    "nul": "before\x00after",
}


@tool
def malformed(kind: str) -> Any:
    """A result that is not valid JSON text.

    Args:
        kind: One of the MALFORMED keys.
    """
    return MALFORMED[kind]


registry = ToolRegistry([lookup, explode, linger, malformed])
