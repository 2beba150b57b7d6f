"""Checking hash chains row by row, for ``audit verify``, for imports, and for the run engine
before it submits a recorded tool output.

A checker is fed one chain's rows in sequence order and stops at the first that breaks it:
``altered`` (its fields or link changed), ``removed`` (a gap, or a tail cut short of the tip) or
``inserted`` (a row that does not belong). Rows sealed with a key the checker lacks are counted
as ``unverified``: their links and content are checked, their seal cannot be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from assistdb.store.hashing import GENESIS, PLAIN, Sealer, content_hash, ledger_fields, version_fields

ProblemKind = Literal["altered", "removed", "inserted"]
EVENT_COLUMNS = (
    "call_id",
    "attempt",
    "event",
    "run_id",
    "thread_id",
    "function_name",
    "arguments",
    "output",
    "is_error",
    "recorded_at_us",
)
VERSION_FIELDS = (
    "prev_hash",
    "chain_id",
    "chain_seq",
    "object_type",
    "object_id",
    "version",
    "tombstone",
    "observed_at_us",
    "content_hash",
)


def event_fields(row: Mapping[str, Any]) -> list[Any]:
    """What a ledger row's hash covers."""
    return ledger_fields(**{name: row[name] for name in (*EVENT_COLUMNS, "seq", "prev_hash")})


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


class ChainChecker:
    """What both kinds of chain share: sequence, links, seals, the tip, and no downgrade from a
    keyed row to a plain one. Subclasses say how to read a row."""

    noun = "row"

    def __init__(self, chain_id: str, sealer: Sealer) -> None:
        self.chain_id = chain_id
        self.sealer = sealer
        self.expected_seq = 1
        self.prev_hash = GENESIS
        self.keyed_seen = False
        self.unverified = 0
        self.problem: ChainProblem | None = None

    @property
    def length(self) -> int:
        """How many rows verified so far."""
        return self.expected_seq - 1

    def check(self, row: Mapping[str, Any]) -> None:
        if self.problem is None:
            self.problem = self._problem_at(row)
            if self.problem is None:
                self.prev_hash = row["row_hash"]
                self.expected_seq += 1

    def _seq(self, row: Mapping[str, Any]) -> int:
        raise NotImplementedError

    def _fields(self, row: Mapping[str, Any]) -> list[Any]:
        raise NotImplementedError

    def _object(self, row: Mapping[str, Any]) -> str | None:
        raise NotImplementedError

    def _content_problem(self, row: Mapping[str, Any]) -> str | None:
        return None

    def _problem_at(self, row: Mapping[str, Any]) -> ChainProblem | None:
        seq = self._seq(row)

        def problem(kind: ProblemKind, detail: str, at: int | None = None) -> ChainProblem:
            return ChainProblem(self.chain_id, at or seq, kind, detail, row["id"], self._object(row))

        noun = self.noun
        if seq > self.expected_seq:
            missing = (
                f"{self.expected_seq}" if seq == self.expected_seq + 1 else f"{self.expected_seq}..{seq - 1}"
            )
            return problem("removed", f"{noun}(s) with seq {missing} are missing", self.expected_seq)
        if seq < self.expected_seq:
            return problem("inserted", f"a second {noun} with this seq")
        content = self._content_problem(row)
        verdict = self.sealer.check(row["scheme"], self._fields(row), row["row_hash"])
        if row["prev_hash"] != self.prev_hash:
            if verdict and content is None:
                return problem("inserted", f"a well-formed {noun} that does not link to the {noun} before it")
            return problem("altered", f"its link to the previous {noun} was changed")
        if content is not None:
            return problem("altered", content)
        if verdict is False and row["scheme"] not in (PLAIN, self.sealer.scheme):
            return problem("altered", f"it is sealed as {row['scheme']!r}, not with this archive key")
        if verdict is False:
            return problem("altered", "its fields do not match its row hash")
        if row["scheme"] == PLAIN and self.keyed_seen:
            return problem("altered", f"a {noun} without the archive key follows {noun}s sealed with it")
        if verdict is None:
            self.unverified += 1
        self.keyed_seen = self.keyed_seen or row["scheme"] != PLAIN
        return None

    def check_tip(self, tip: tuple[int, str] | None) -> ChainProblem | None:
        """The problem with the chain's recorded tip, once every row was checked."""
        last_seq = self.length
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
                self.chain_id, tip_seq + 1, "inserted", f"{self.noun}s after the recorded tip (seq {tip_seq})"
            )
        if tip_hash != self.prev_hash:
            return ChainProblem(
                self.chain_id, last_seq, "altered", f"the last {self.noun} does not match the recorded tip"
            )
        return None


class VersionChecker(ChainChecker):
    """Checks one chain of ``versions`` rows: also each body against its content hash, and each
    object's versions numbered 1, 2, 3..."""

    def __init__(self, chain_id: str, sealer: Sealer) -> None:
        super().__init__(chain_id, sealer)
        self.versions: dict[str, int] = {}

    def _seq(self, row: Mapping[str, Any]) -> int:
        return int(row["chain_seq"])

    def _fields(self, row: Mapping[str, Any]) -> list[Any]:
        return version_fields(**{name: row[name] for name in VERSION_FIELDS})

    def _object(self, row: Mapping[str, Any]) -> str | None:
        return str(row["object_id"])

    def _content_problem(self, row: Mapping[str, Any]) -> str | None:
        if content_hash(row["body"]) != row["content_hash"]:
            return "its body does not match its content hash"
        expected = self.versions.get(row["object_id"], 0) + 1
        if row["version"] != expected:
            return f"version {row['version']} follows version {expected - 1}"
        return None

    def check(self, row: Mapping[str, Any]) -> None:
        super().check(row)
        if self.problem is None:
            self.versions[row["object_id"]] = row["version"]


class LedgerChecker(ChainChecker):
    """Checks the ``tool_calls`` events of one run (chain ``ledger:<run ID>``)."""

    noun = "event"

    def _seq(self, row: Mapping[str, Any]) -> int:
        return int(row["seq"])

    def _fields(self, row: Mapping[str, Any]) -> list[Any]:
        return event_fields(row)

    def _object(self, row: Mapping[str, Any]) -> str | None:
        return str(row["call_id"])
