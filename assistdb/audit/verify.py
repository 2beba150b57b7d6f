"""Verifying the archive's hash chains, and naming the first row that breaks each one.

Walks every chain in order, streaming, recomputing each row's content hash and chain hash. A
row whose body or fields changed shows up as ``altered``; a gap in the sequence as ``removed``;
a well-formed row that does not link to its predecessor as ``inserted``; a chain whose rows stop
short of, or run past, its recorded tip as ``removed`` or ``inserted`` at the tail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter
from typing import Literal

from sqlalchemy import select

from assistdb.store import Store, hashing
from assistdb.store.archive import CHAINS, VERSIONS
from assistdb.store.queries import VERSION_COLUMNS, StoredVersion, stored_version

ProblemKind = Literal["altered", "removed", "inserted"]


@dataclass(frozen=True)
class ChainProblem:
    """The first row at which one chain stops verifying."""

    chain_id: str
    chain_seq: int
    kind: ProblemKind
    detail: str
    row_id: int | None = None
    object_id: str | None = None

    def describe(self) -> str:
        where = f"row {self.row_id} " if self.row_id is not None else ""
        what = f" ({self.object_id})" if self.object_id else ""
        return f"chain {self.chain_id} seq {self.chain_seq}: {where}{self.kind}{what}: {self.detail}"


@dataclass
class VerifyReport:
    chains: int = 0
    rows: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    tips: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(
    store: Store, *, chain_id: str | None = None, on_row: Callable[[int], None] | None = None
) -> VerifyReport:
    """Verify every chain (or one), in constant memory per chain."""
    report = VerifyReport()
    tips = _tips(store, chain_id)
    seen: set[str] = set()
    for current_chain, rows in _chains(store, chain_id):
        seen.add(current_chain)
        report.chains += 1
        checker = _ChainChecker(current_chain)
        for row in rows:
            report.rows += 1
            checker.check(row)
            if on_row is not None:
                on_row(1)
        problem = checker.problem or checker.check_tip(tips.get(current_chain))
        if problem:
            report.problems.append(problem)
        report.tips[current_chain] = checker.prev_hash
    for missing in sorted(set(tips) - seen):
        last_seq, _ = tips[missing]
        if last_seq > 0:
            report.chains += 1
            report.problems.append(
                ChainProblem(missing, 1, "removed", f"all {last_seq} rows of this chain are gone")
            )
    return report


class _ChainChecker:
    def __init__(self, chain_id: str) -> None:
        self.chain_id = chain_id
        self.expected_seq = 1
        self.prev_hash = hashing.GENESIS
        self.versions: dict[str, int] = {}
        self.problem: ChainProblem | None = None

    def check(self, row: StoredVersion) -> None:
        if self.problem is not None:
            return
        self.problem = self._problem_at(row)
        if self.problem is None:
            self.prev_hash = row.row_hash
            self.expected_seq += 1
            self.versions[row.object_id] = row.version

    def _problem_at(self, row: StoredVersion) -> ChainProblem | None:
        def problem(kind: ProblemKind, detail: str, seq: int | None = None) -> ChainProblem:
            return ChainProblem(self.chain_id, seq or row.chain_seq, kind, detail, row.id, row.object_id)

        if row.chain_seq > self.expected_seq:
            missing = (
                f"{self.expected_seq}"
                if row.chain_seq == self.expected_seq + 1
                else f"{self.expected_seq}..{row.chain_seq - 1}"
            )
            return problem("removed", f"row(s) with seq {missing} are missing", self.expected_seq)
        if row.chain_seq < self.expected_seq:
            return problem("inserted", "a second row with this seq")
        body_ok = hashing.content_hash(row.body_json) == row.content_hash
        self_consistent = body_ok and _recomputed(row) == row.row_hash
        if row.prev_hash != self.prev_hash:
            if self_consistent:
                return problem("inserted", "a well-formed row that does not link to the row before it")
            return problem("altered", "its link to the previous row was changed")
        if not body_ok:
            return problem("altered", "its body does not match its content hash")
        if not self_consistent:
            return problem("altered", "its fields do not match its row hash")
        expected_version = self.versions.get(row.object_id, 0) + 1
        if row.version != expected_version:
            return problem("altered", f"version {row.version} follows version {expected_version - 1}")
        return None

    def check_tip(self, tip: tuple[int, str] | None) -> ChainProblem | None:
        last_seq = self.expected_seq - 1
        if tip is None:
            return ChainProblem(self.chain_id, last_seq, "inserted", "the chain has no recorded tip")
        tip_seq, tip_hash = tip
        if tip_seq > last_seq:
            return ChainProblem(
                self.chain_id,
                last_seq + 1,
                "removed",
                f"the chain ends at seq {last_seq} but its tip says {tip_seq}",
            )
        if tip_seq < last_seq:
            return ChainProblem(
                self.chain_id, tip_seq + 1, "inserted", f"rows after the recorded tip (seq {tip_seq})"
            )
        if tip_hash != self.prev_hash:
            return ChainProblem(
                self.chain_id, last_seq, "altered", "the last row does not match the recorded tip"
            )
        return None


def _recomputed(row: StoredVersion) -> str:
    return hashing.row_hash(
        prev_hash=row.prev_hash,
        chain_id=row.chain_id,
        chain_seq=row.chain_seq,
        object_type=row.object_type,
        object_id=row.object_id,
        version=row.version,
        tombstone=row.tombstone,
        observed_at_us=row.observed_at_us,
        content_hash=row.content_hash,
    )


def _tips(store: Store, chain_id: str | None) -> dict[str, tuple[int, str]]:
    statement = select(CHAINS.c.chain_id, CHAINS.c.last_seq, CHAINS.c.last_hash)
    if chain_id is not None:
        statement = statement.where(CHAINS.c.chain_id == chain_id)
    with store.database.read() as connection:
        return {row.chain_id: (int(row.last_seq), row.last_hash) for row in connection.execute(statement)}


def _chains(store: Store, chain_id: str | None) -> Iterator[tuple[str, Iterator[StoredVersion]]]:
    """Rows grouped by chain, in chain order, streamed from one read transaction."""
    statement = select(*VERSION_COLUMNS).order_by(VERSIONS.c.chain_id, VERSIONS.c.chain_seq)
    if chain_id is not None:
        statement = statement.where(VERSIONS.c.chain_id == chain_id)
    with store.database.snapshot() as connection:
        result = connection.execution_options(stream_results=True, yield_per=1000).execute(statement)
        yield from groupby((stored_version(row) for row in result), key=attrgetter("chain_id"))
