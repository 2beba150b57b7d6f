"""The poll schedule, the learned durations and the session's timing, without a server."""

from __future__ import annotations

import itertools

import pytest
from openai.types.beta.threads import Run

from assistdb.runner.rules.durations import Bracket, DurationBook, phases_from_history
from assistdb.runner.rules.schedule import (
    COLD_FIRST,
    DEFAULT_INTERVAL,
    DENSE_GAP,
    GUARD,
    MIN_GAP,
    PollSchedule,
    interval_from_header,
)
from assistdb.runner.rules.session import Observed, RunSession
from tests.factories import run as run_body


def planned(schedule: PollSchedule, count: int) -> list[float]:
    """The first ``count`` poll times when every poll answers instantly."""
    times: list[float] = []
    elapsed = 0.0
    for _ in range(count):
        elapsed = schedule.next_poll(elapsed)
        times.append(elapsed)
    return times


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise([0.0, *times])]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1000", 1.0),
        ("50", 0.05),
        ("0", MIN_GAP),
        (None, DEFAULT_INTERVAL),
        ("soon", DEFAULT_INTERVAL),
        ("-5", DEFAULT_INTERVAL),
        ("nan", DEFAULT_INTERVAL),
    ],
)
def test_interval_comes_from_the_poll_after_header(header: str | None, expected: float) -> None:
    assert interval_from_header(header) == pytest.approx(expected)


def test_without_history_polls_start_fast_and_back_off_to_the_interval() -> None:
    times = planned(PollSchedule(None, interval=1.0), 8)
    assert times[0] == pytest.approx(COLD_FIRST)
    steps = gaps(times)
    assert all(later >= earlier for earlier, later in itertools.pairwise(steps))
    assert max(steps) == pytest.approx(1.0)
    assert steps[-1] == pytest.approx(1.0)


def test_a_narrow_bracket_is_polled_just_before_its_end_then_at_its_end() -> None:
    times = planned(PollSchedule(Bracket(0.59, 0.61), interval=1.0), 4)
    assert times[0] == pytest.approx(0.61 - GUARD)
    assert times[1] == pytest.approx(0.61)
    assert times[2] == pytest.approx(0.61 + DENSE_GAP)
    assert gaps(times)[3] > DENSE_GAP


def test_a_wide_bracket_is_probed_in_its_middle() -> None:
    times = planned(PollSchedule(Bracket(0.2, 0.8), interval=1.0), 3)
    assert times[:2] == [pytest.approx(0.5), pytest.approx(0.8)]


def test_long_phases_are_polled_evenly_never_slower_than_the_interval() -> None:
    times = planned(PollSchedule(Bracket(2.49, 2.51), interval=1.0), 6)
    probe = 2.51 - GUARD
    before_end = [moment for moment in times if moment <= probe + 1e-9]
    assert before_end[-1] == pytest.approx(probe)
    assert len(before_end) == 3  # as few as the interval allows: 2.485 s in steps of at most 1 s
    assert max(gaps(times)) <= 1.0 + 1e-9
    # A fixed 1 s poller polls at 0, 1, 2 and 3 s to see a 2.5 s phase end, 0.5 s late; we poll
    # as often and see it within the bracket's width.
    assert next(moment for moment in times if moment > 2.5) == pytest.approx(2.51)


def test_a_very_wide_bracket_still_keeps_polls_within_the_interval() -> None:
    times = planned(PollSchedule(Bracket(0.0, 5.0), interval=1.0), 8)
    assert max(gaps(times)) <= 1.0 + 1e-9
    assert 5.0 in [pytest.approx(moment) for moment in times]


def test_backing_off_after_a_late_end_is_capped_by_the_interval() -> None:
    times = planned(PollSchedule(Bracket(0.29, 0.3), interval=0.2), 30)
    assert max(gaps(times)) <= 0.2 + 1e-9
    assert gaps(times)[-1] == pytest.approx(0.2)


def test_times_already_past_are_skipped_and_polls_keep_a_minimum_gap() -> None:
    schedule = PollSchedule(None, interval=1.0)
    assert schedule.next_poll(0.0) == pytest.approx(COLD_FIRST)
    # The first poll took 0.4 s to answer: the plan's 0.15 s and 0.35 s are gone.
    assert schedule.next_poll(0.45) == pytest.approx(0.75)
    assert schedule.next_poll(0.7499) == pytest.approx(0.7499 + MIN_GAP)


def test_a_tiny_interval_still_leaves_a_minimum_gap() -> None:
    times = planned(PollSchedule(Bracket(0.04, 0.05), interval=0.0), 5)
    assert min(gaps(times)) >= MIN_GAP - 1e-9


def test_the_expected_end_is_where_the_latest_brackets_overlap() -> None:
    book = DurationBook(window=8)
    key = ("asst_a", "gpt-4o")
    assert book.expected(key) is None
    book.add(key, Bracket(0.75, 1.55))  # a first phase, polled coarsely
    assert book.expected(key) == Bracket(0.75, 1.55)
    book.add(key, Bracket(1.15, 1.56))
    book.add(key, Bracket(0.6, 1.36))
    assert book.expected(key) == Bracket(1.15, 1.36)  # each agreeing phase narrows the window
    book.add(key, Bracket(1.9, 2.1))  # phases got slower: start again from the newest
    assert book.expected(key) == Bracket(1.9, 2.1)
    book.add(key, Bracket(1.0, 2.05))
    assert book.expected(key) == Bracket(1.9, 2.05)


def test_a_bracket_that_contradicts_itself_is_skipped() -> None:
    book = DurationBook()
    key = ("asst_a", "gpt-4o")
    book.add(key, Bracket(0.5, 0.6))
    book.add(key, Bracket(0.7, 0.7))
    assert book.expected(key) == Bracket(0.5, 0.6)


def test_seeding_from_history_never_overrides_what_the_process_learned() -> None:
    book = DurationBook()
    key = ("asst_a", "gpt-4o")
    book.seed(key, [Bracket(0.9, 1.0)])
    assert book.expected(key) == Bracket(0.9, 1.0)
    book.seed(key, [Bracket(2.9, 3.0)])
    assert book.expected(key) == Bracket(0.9, 1.0)


def test_phases_are_read_from_archived_versions() -> None:
    second = 1_000_000
    versions = [
        ("queued", 0),
        ("in_progress", second // 10),
        ("requires_action", second),
        ("queued", 2 * second),
        ("in_progress", 2 * second + second // 10),
        ("completed", 3 * second + second // 2),
    ]
    assert phases_from_history(versions) == [Bracket(0.1, 1.0), Bracket(0.1, 1.5)]


def test_cancelled_and_partly_seen_phases_are_not_learned() -> None:
    assert phases_from_history([("in_progress", 0), ("completed", 10)]) == []
    assert phases_from_history([("queued", 0), ("cancelling", 5), ("cancelled", 10)]) == []
    assert phases_from_history([("queued", 0), ("expired", 10)]) == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def observed(status: str, sent_at: float, received_at: float, *, header: str | None = "1000") -> Observed:
    return Observed(Run.construct(**run_body("run_a", status=status)), sent_at, received_at, header)


def test_a_session_learns_each_phase_it_watches_and_aims_the_next_one() -> None:
    clock, book = FakeClock(), DurationBook()
    session = RunSession(timeout=None, book=book, clock=clock)
    session.begin_phase(100.0)
    session.observe(observed("queued", 100.0, 100.01))
    assert session.poll_delay() == pytest.approx(COLD_FIRST)  # nothing known yet
    session.observe(observed("in_progress", 100.79, 100.80))
    session.observe(observed("completed", 100.81, 100.82))
    assert book.expected(session.key) == Bracket(pytest.approx(0.79), pytest.approx(0.82))  # type: ignore[arg-type]

    clock.now = 200.0
    session.begin_phase(200.0)
    session.observe(observed("queued", 200.0, 200.01))
    assert session.poll_delay() == pytest.approx(0.82 - GUARD)


def test_a_session_never_sleeps_past_its_deadline() -> None:
    clock = FakeClock()
    session = RunSession(timeout=0.02, book=DurationBook(), clock=clock)
    session.begin_phase(clock.now)
    session.observe(observed("queued", clock.now, clock.now))
    assert session.poll_delay() == pytest.approx(0.02)
    clock.now += 0.02
    assert session.timed_out()


def test_joining_a_running_run_is_not_learned_from() -> None:
    clock, book = FakeClock(), DurationBook()
    session = RunSession(timeout=None, book=book, clock=clock)
    session.observe(observed("in_progress", 100.0, 100.01))
    session.observe(observed("completed", 100.5, 100.51))
    assert not book.knows(session.key)


def test_a_cancelled_phase_is_not_learned_from() -> None:
    clock, book = FakeClock(), DurationBook()
    session = RunSession(timeout=None, book=book, clock=clock)
    session.begin_phase(100.0)
    session.observe(observed("queued", 100.0, 100.01))
    session.observe(observed("cancelling", 100.2, 100.21))
    session.observe(observed("cancelled", 100.6, 100.61))
    assert not book.knows(session.key)


def test_a_new_poll_after_header_reshapes_the_schedule() -> None:
    clock = FakeClock()
    session = RunSession(timeout=None, book=DurationBook(), clock=clock)
    session.begin_phase(clock.now)
    session.observe(observed("queued", clock.now, clock.now, header="20"))
    assert session.interval == pytest.approx(0.02)
    assert session.poll_delay() == pytest.approx(0.02)
