"""Usage reports: tokens of archived runs per assistant, model, thread or day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from assistdb import InvalidInputError
from assistdb.audit import usage_report
from assistdb.store import Store
from tests import factories

DAY = 86_400
MONDAY = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())


def _run(
    run_id: str, thread_id: str, *, at: int, tokens: tuple[int, int] | None, **fields: Any
) -> dict[str, Any]:
    body = factories.run(
        run_id, thread_id, created_at=at, **{"assistant_id": fields.pop("assistant_id", "asst_a")}
    )
    body.update(fields)
    if tokens is not None:
        prompt, completion = tokens
        body["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return body


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    archive = Store(database_url)
    archive.record(
        [
            factories.thread("thread_a"),
            factories.thread("thread_b"),
            _run("run_1", "thread_a", at=MONDAY, tokens=(100, 10)),
            _run("run_2", "thread_a", at=MONDAY + 60, tokens=(200, 20), model="gpt-4o-mini"),
            _run("run_3", "thread_b", at=MONDAY + DAY, tokens=(300, 30), assistant_id="asst_b"),
            _run(
                "run_4", "thread_b", at=MONDAY + DAY + 5, tokens=None, status="failed", assistant_id="asst_b"
            ),
        ]
    )
    # A run seen in progress first and completed later counts once, with its final usage.
    archive.record([_run("run_1", "thread_a", at=MONDAY, tokens=(1000, 100))])
    archive.record_deleted(["thread_b"])  # deleting a thread does not undo what its runs cost
    yield archive
    archive.close()


def _rows(report: Any) -> list[tuple[str, int, int, int, int]]:
    return [(r.key, r.runs, r.prompt_tokens, r.completion_tokens, r.total_tokens) for r in report.rows]


def test_usage_per_assistant_model_thread_and_day(store: Store) -> None:
    by_assistant = usage_report(store, group_by="assistant")
    assert _rows(by_assistant) == [("asst_a", 2, 1200, 120, 1320), ("asst_b", 2, 300, 30, 330)]
    total = by_assistant.total
    assert (total.runs, total.prompt_tokens, total.completion_tokens, total.total_tokens) == (
        4,
        1500,
        150,
        1650,
    )
    assert _rows(usage_report(store, group_by="model")) == [
        ("gpt-4o", 3, 1300, 130, 1430),
        ("gpt-4o-mini", 1, 200, 20, 220),
    ]
    assert [r.key for r in usage_report(store, group_by="thread").rows] == ["thread_a", "thread_b"]
    assert _rows(usage_report(store, group_by="day")) == [
        ("2026-03-02", 2, 1200, 120, 1320),
        ("2026-03-03", 2, 300, 30, 330),
    ]


def test_usage_within_a_period(store: Store) -> None:
    tuesday = datetime(2026, 3, 3, tzinfo=UTC)
    assert _rows(usage_report(store, group_by="day", since=tuesday)) == [("2026-03-03", 2, 300, 30, 330)]
    assert _rows(usage_report(store, group_by="day", until=tuesday)) == [("2026-03-02", 2, 1200, 120, 1320)]
    naive = datetime(2026, 3, 3)  # taken as UTC
    assert usage_report(store, since=naive).total.runs == 2
    assert usage_report(store, since=datetime(2027, 1, 1, tzinfo=UTC)).rows == []


def test_bad_usage_options_are_refused(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="cannot group usage by 'week'"):
        usage_report(store, group_by="week")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="since is not before until"):
        usage_report(store, since=datetime(2026, 3, 3, tzinfo=UTC), until=datetime(2026, 3, 2, tzinfo=UTC))
