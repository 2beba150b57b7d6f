"""What a run's status means to the engine.

Only the statuses known to be transient keep the engine waiting; any other status, including one
added to the API after this was written, ends the wait, so a new status can never make it spin.
"""

from __future__ import annotations

from assistdb.store.objects import UNFINISHED

#: The run waits for tool outputs from us.
REQUIRES_ACTION = "requires_action"
#: The statuses the engine knows; every other status is terminal.
NON_TERMINAL = UNFINISHED
#: Statuses in which the run is busy and will change without us doing anything.
BUSY = NON_TERMINAL - {REQUIRES_ACTION}


def is_terminal(status: str) -> bool:
    return status not in NON_TERMINAL


def is_busy(status: str) -> bool:
    return status in BUSY
