"""Tokens spent, from archived runs' ``usage``: per assistant, model, thread or day.

Each run counts once, with its latest version that is not a tombstone: a run of a thread that was
deleted afterwards still cost what it cost. Runs are placed in time by their ``created_at``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import and_, func, select

from assistdb.errors import InvalidInputError
from assistdb.store import Store
from assistdb.store.archive import HEADS, VERSIONS

GroupBy = Literal["assistant", "model", "thread", "day"]
STREAM_ROWS = 1000


@dataclass
class UsageRow:
    key: str
    runs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def add(self, usage: dict[str, Any] | None) -> None:
        self.runs += 1
        if usage:
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)
            self.total_tokens += int(usage.get("total_tokens") or 0)


@dataclass
class UsageReport:
    """One row per group, sorted by key, and the total; ``runs`` counts runs with or without usage."""

    group_by: GroupBy
    since: datetime | None
    until: datetime | None
    rows: list[UsageRow] = field(default_factory=list)
    total: UsageRow = field(default_factory=lambda: UsageRow("total"))


def usage_report(
    store: Store,
    *,
    group_by: GroupBy = "assistant",
    since: datetime | None = None,
    until: datetime | None = None,
) -> UsageReport:
    """Token usage of the runs created in ``[since, until)`` (naive datetimes are taken as UTC)."""
    if group_by not in get_args(GroupBy):
        raise InvalidInputError(
            f"cannot group usage by {group_by!r}", hint="group by assistant, model, thread or day"
        )
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and since >= until:
        raise InvalidInputError("the period is empty: since is not before until", hint="swap them")
    report = UsageReport(group_by, since, until)
    groups: dict[str, UsageRow] = {}
    for run in _runs(store, since, until):
        key = _key(run, group_by)
        groups.setdefault(key, UsageRow(key)).add(run.get("usage"))
        report.total.add(run.get("usage"))
    report.rows = [groups[key] for key in sorted(groups)]
    return report


def _runs(store: Store, since: datetime | None, until: datetime | None) -> Iterator[dict[str, Any]]:
    """The latest live version of each archived run in the period, streamed."""
    last_live = (
        select(VERSIONS.c.object_id, func.max(VERSIONS.c.version).label("version"))
        .where(VERSIONS.c.object_type == "run", VERSIONS.c.tombstone.is_(False))
        .group_by(VERSIONS.c.object_id)
        .subquery()
    )
    statement = (
        select(VERSIONS.c.body)
        .join(
            last_live,
            and_(VERSIONS.c.object_id == last_live.c.object_id, VERSIONS.c.version == last_live.c.version),
        )
        .join(HEADS, HEADS.c.object_id == VERSIONS.c.object_id)
        .order_by(VERSIONS.c.id)
    )
    if since is not None:
        statement = statement.where(HEADS.c.created_at >= int(since.timestamp()))
    if until is not None:
        statement = statement.where(HEADS.c.created_at < int(until.timestamp()))
    with store.database.snapshot() as connection:
        for body in (
            connection.execution_options(stream_results=True, yield_per=STREAM_ROWS)
            .execute(statement)
            .scalars()
        ):
            run: dict[str, Any] = json.loads(body)
            yield run


def _key(run: dict[str, Any], group_by: GroupBy) -> str:
    if group_by == "day":
        created = run.get("created_at")
        return (
            datetime.fromtimestamp(created, tz=UTC).date().isoformat()
            if isinstance(created, int)
            else "unknown"
        )
    value = run.get({"assistant": "assistant_id", "model": "model", "thread": "thread_id"}[group_by])
    return str(value) if value else "unknown"


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
