"""Rendering helpers: human times and plain data for --json."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from assistdb.cli.output import human_time, to_data

NOW = 1_800_000_000.0


def test_human_time_is_relative_within_a_week_then_a_date() -> None:
    assert human_time(None) == "-"
    assert human_time(NOW, now=NOW) == "just now"
    assert human_time(NOW - 1, now=NOW) == "1 second ago"
    assert human_time(NOW - 180, now=NOW) == "3 minutes ago"
    assert human_time(NOW - 2 * 3600 - 5, now=NOW) == "2 hours ago"
    assert human_time(NOW - 6 * 86400, now=NOW) == "6 days ago"
    assert human_time(NOW - 8 * 86400, now=NOW) == "2027-01-07 08:00 UTC"
    assert human_time(NOW + 60, now=NOW) == "2027-01-15 08:01 UTC"  # a clock ahead of ours


@dataclass
class _Result:
    when: datetime
    counts: dict[str, int] = field(default_factory=dict)


def test_to_data_turns_results_into_json_data() -> None:
    moment = datetime(2026, 8, 26, tzinfo=UTC)
    assert to_data(_Result(moment, {"a": 1})) == {"when": "2026-08-26T00:00:00+00:00", "counts": {"a": 1}}
