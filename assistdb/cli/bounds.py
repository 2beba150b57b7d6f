"""Number option types with bounds, so that no number a user types overflows a database
column, a clock or a socket timeout (kept light: the root command imports it)."""

from __future__ import annotations

import math
from typing import Any

import click

#: The largest count an option takes (``--limit``): more than any archive holds, and a number
#: every database compares without overflowing.
MAX_COUNT = 1_000_000_000
#: The longest wait or timeout an option takes: a week.
MAX_SECONDS = 7 * 24 * 3600.0


class FiniteRange(click.FloatRange):
    """A float range that also refuses ``nan`` and ``inf`` (which pass every comparison or
    overflow the clock)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


COUNT = click.IntRange(1, MAX_COUNT)
SECONDS = FiniteRange(min=0, min_open=True, max=MAX_SECONDS)
