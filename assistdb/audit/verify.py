"""Verifying the archive: the database file, every hash chain, and everything derived from them.

In order:

1. The database itself: SQLite's ``PRAGMA quick_check``; on PostgreSQL, ``amcheck`` over our
   B-tree indexes when that extension is installed (otherwise skipped, and said so). A damaged
   database is a :class:`DatabaseError` (exit 7), not a verdict on the chains.
2. Every chain, streaming, in sequence order: the ``versions`` of each thread or assistant and
   the tool-ledger events of each run (``ledger:<run ID>``). Each names its first bad row as
   ``altered``, ``removed`` or ``inserted``; a chain that stops short of, or runs past, its
   recorded tip (``chains``) is named at the tail.
3. The index: ``heads`` and ``head_metadata`` are re-derived from each chain's versions exactly
   as the writer derives them, and every row that disagrees is named (``assistdb audit reindex``
   rebuilds them).
4. File content: every stored content re-hashed from its parts (it must hash to its name), and
   every file's recorded size checked against the content it names.
5. With ``expected`` (a state named by a digest from an earlier run), that every chain of that
   state still holds the same row at the same position: the archive is a continuation of it.

Every chain's length and end hash, and one digest over them all, are in the report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, and_, exists, insert, select, text
from sqlalchemy import exc as sa_exc

from assistdb.errors import DatabaseError, InvalidInputError, VerificationError
from assistdb.store import Store
from assistdb.store.archive import CHAINS, HEAD_METADATA, HEADS, VERSIONS, index_rows, now_us
from assistdb.store.chaining import ChainChecker, ChainProblem, LedgerChecker, ProblemKind, VersionChecker
from assistdb.store.contents import ContentProblem, content_problems
from assistdb.store.hashing import Sealer, tips_digest
from assistdb.store.objects import Indexed, index_of
from assistdb.store.schema import CHECKPOINTS, TOOL_CALLS
from assistdb.store.tool_ledger import LEDGER_PREFIX, ledger_chain

__all__ = ["ChainProblem", "IndexProblem", "VerifyReport", "load_expected", "record_checkpoint", "verify"]

INDEX_BATCH = 2000  # objects whose index rows are compared with one query
HEAD_COLUMNS = (
    "object_type",
    "chain_id",
    "version",
    "content_hash",
    "tombstone",
    "thread_id",
    "run_id",
    "assistant_id",
    "status",
    "created_at",
    "first_observed_at_us",
    "first_seq",
)
#: A state: chain ID -> (length, end hash).
State = dict[str, tuple[int, str]]


@dataclass(frozen=True)
class IndexProblem:
    """A ``heads`` or ``head_metadata`` row that is not what the archive says it should be."""

    table: str
    object_id: str
    kind: ProblemKind
    detail: str

    def describe(self) -> str:
        return f"{self.table} {self.object_id}: {self.kind}: {self.detail}"


@dataclass
class VerifyReport:
    chains: int = 0  # chains of versions
    rows: int = 0
    ledgers: int = 0  # runs with tool-ledger events
    events: int = 0
    unverified: int = 0  # rows sealed with a key we were not given
    integrity: str = "not checked"
    problems: list[ChainProblem] = field(default_factory=list)
    index_problems: list[IndexProblem] = field(default_factory=list)
    contents: int = 0  # file contents re-hashed
    content_problems: list[ContentProblem] = field(default_factory=list)
    tips: State = field(default_factory=dict)  # every chain's (length, end hash), ledgers included

    @property
    def ok(self) -> bool:
        return not self.problems and not self.index_problems and not self.content_problems

    @property
    def digest(self) -> str:
        """One hash over every chain's ID, length and end hash (see :func:`tips_digest`)."""
        return tips_digest([(chain, length, end) for chain, (length, end) in self.tips.items()])

    def error(self) -> VerificationError:
        """The one-line error for a report that is not ok."""
        broken_ledgers = sum(1 for p in self.problems if p.chain_id.startswith(LEDGER_PREFIX))
        broken_chains = len(self.problems) - broken_ledgers
        parts = []
        if broken_chains:
            parts.append(f"{broken_chains} of {self.chains} chain(s) do not verify")
        if broken_ledgers:
            parts.append(f"{broken_ledgers} of {self.ledgers} tool ledger(s) do not verify")
        if self.index_problems:
            parts.append(f"{len(self.index_problems)} index row(s) disagree with the archive")
        if self.content_problems:
            parts.append(f"{len(self.content_problems)} file content(s) do not match their hash")
        hint = (
            "the rows named were changed or removed after they were written; restore from an export"
            if self.problems or self.content_problems
            else "rebuild them from the archive with reindex()"
        )
        situation = None if self.problems or self.content_problems else "reindex"
        return VerificationError("; ".join(parts), hint=hint, situation=situation)


def verify(
    store: Store,
    *,
    chain_id: str | None = None,
    expected: State | None = None,
    on_row: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify the database, every chain (or one thread's, with its runs' ledgers) and the index,
    in constant memory per chain; with ``expected``, also that the archive continues that state."""
    report = VerifyReport(integrity=check_integrity(store))
    with store.database.snapshot() as connection:
        verify_connection(
            connection, store.sealer, report, chain_id=chain_id, expected=expected, on_row=on_row
        )
    return report


def verify_connection(
    connection: Connection,
    sealer: Sealer,
    report: VerifyReport,
    *,
    chain_id: str | None = None,
    expected: State | None = None,
    on_row: Callable[[int], None] | None = None,
) -> None:
    """:func:`verify`'s chain and index checks, on an open connection (an import runs them inside
    its own transaction, before it commits)."""
    tips = _tips(connection, chain_id)
    index = _IndexComparison(connection)
    continuation = _Continuation(expected or {})
    for current, rows in _version_chains(connection, chain_id):
        report.chains += 1
        checker = VersionChecker(current, sealer)
        derived = _DerivedHeads()
        for row in rows:
            report.rows += 1
            checker.check(row)
            derived.add(row)
            continuation.see(current, row["chain_seq"], row["row_hash"], checker)
            if on_row is not None:
                on_row(1)
        if _finish_chain(report, checker, tips.pop(current, None), continuation):
            index.add(current, derived, report)  # a broken chain's index is its consequence
    index.flush(report)
    for current, events in _ledger_chains(connection, chain_id):
        report.ledgers += 1
        ledger = LedgerChecker(current, sealer)
        for row in events:
            report.events += 1
            ledger.check(row)
            continuation.see(current, row["seq"], row["row_hash"], ledger)
            if on_row is not None:
                on_row(1)
        _finish_chain(report, ledger, tips.pop(current, None), continuation)
    for missing in sorted(tips):
        last_seq, _ = tips[missing]
        if last_seq > 0:
            if missing.startswith(LEDGER_PREFIX):
                report.ledgers += 1
            else:
                report.chains += 1
            report.problems.append(
                ChainProblem(missing, 1, "removed", f"all {last_seq} rows of this chain are gone")
            )
    if chain_id is None:
        index.orphans(report)

        def counted() -> None:
            report.contents += 1
            if on_row is not None:
                on_row(1)

        report.content_problems.extend(content_problems(connection, counted))
    report.problems.extend(continuation.missing(report, chain_id))


def _finish_chain(
    report: VerifyReport, checker: ChainChecker, tip: tuple[int, str] | None, continuation: _Continuation
) -> bool:
    """Record the chain's outcome and tip; whether it verified."""
    report.unverified += checker.unverified
    problem = checker.problem or checker.check_tip(tip) or continuation.check(checker)
    if problem:
        report.problems.append(problem)
    report.tips[checker.chain_id] = (checker.length, checker.prev_hash)
    return problem is None


class _Continuation:
    """Does each chain of an expected state still hold, at that state's length, that end hash?"""

    def __init__(self, expected: State) -> None:
        self.expected = expected
        self.found: dict[str, str] = {}

    def see(self, chain_id: str, seq: int, row_hash: str, checker: ChainChecker) -> None:
        want = self.expected.get(chain_id)
        if want is not None and seq == want[0] and checker.problem is None:
            self.found[chain_id] = row_hash

    def check(self, checker: ChainChecker) -> ChainProblem | None:
        want = self.expected.get(checker.chain_id)
        if want is None:
            return None
        length, end = want
        if checker.length < length:
            return ChainProblem(
                checker.chain_id,
                checker.length + 1,
                "removed",
                f"the chain ends at seq {checker.length}, but the expected state had {length} rows",
            )
        if length > 0 and self.found.get(checker.chain_id) != end:
            return ChainProblem(
                checker.chain_id, length, "altered", "this row is not the one the expected state ended with"
            )
        return None

    def missing(self, report: VerifyReport, chain_id: str | None) -> list[ChainProblem]:
        """Chains of the expected state that the archive no longer has at all (of one thread's
        chain only its own: which runs' ledgers belong to it is not in the state)."""
        return [
            ChainProblem(chain, 1, "removed", f"the chain is gone; the expected state had {length} rows")
            for chain, (length, _) in sorted(self.expected.items())
            if (chain_id is None or chain == chain_id)
            and chain not in report.tips
            and length > 0
            and not any(problem.chain_id == chain for problem in report.problems)
        ]


@dataclass
class _ObjectState:
    version: int
    content_hash: str
    tombstone: bool
    first_observed_at_us: int
    first_seq: int
    last_row: Mapping[str, Any]
    last_live_body: str | None


class _DerivedHeads:
    """What ``heads`` and ``head_metadata`` should hold for one chain, from its versions."""

    def __init__(self) -> None:
        self.objects: dict[str, _ObjectState] = {}

    def add(self, row: Mapping[str, Any]) -> None:
        state = self.objects.get(row["object_id"])
        live_body = None if row["tombstone"] else row["body"]
        if state is None:
            self.objects[row["object_id"]] = _ObjectState(
                row["version"],
                row["content_hash"],
                bool(row["tombstone"]),
                row["observed_at_us"],
                row["chain_seq"],
                row,
                live_body,
            )
            return
        if row["version"] > state.version:
            state.version, state.content_hash, state.tombstone = (
                row["version"],
                row["content_hash"],
                bool(row["tombstone"]),
            )
            state.last_row = row
            state.last_live_body = live_body or state.last_live_body

    def rows(self) -> Iterator[tuple[dict[str, Any], list[dict[str, str]]]]:
        for object_id, state in self.objects.items():
            last = state.last_row
            try:
                index = index_of(json.loads(state.last_live_body)) if state.last_live_body else None
            except (ValueError, KeyError, TypeError):
                index = None  # a body that is not an API object: the chain check names it
            if index is None:
                index = Indexed(
                    last["object_type"],
                    object_id,
                    last["chain_id"],
                    last["thread_id"],
                    None,
                    None,
                    None,
                    None,
                    {},
                )
            yield index_rows(
                index,
                version=state.version,
                content_hash=state.content_hash,
                tombstone=state.tombstone,
                first_observed_at_us=state.first_observed_at_us,
                first_seq=state.first_seq,
            )


class _IndexComparison:
    """Compares derived index rows with the stored ones, a batch of chains per query."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.chains: list[str] = []
        self.heads: dict[str, dict[str, Any]] = {}
        self.pairs: dict[tuple[str, str], str] = {}

    def add(self, chain_id: str, derived: _DerivedHeads, report: VerifyReport) -> None:
        self.chains.append(chain_id)
        for head, pairs in derived.rows():
            self.heads[head["object_id"]] = head
            self.pairs.update({(pair["object_id"], pair["key"]): pair["value"] for pair in pairs})
        if len(self.heads) >= INDEX_BATCH:
            self.flush(report)

    def flush(self, report: VerifyReport) -> None:
        if not self.chains:
            return
        stored = {
            row["object_id"]: row
            for row in self.connection.execute(
                select(HEADS).where(HEADS.c.chain_id.in_(self.chains))
            ).mappings()
        }
        for object_id, head in sorted(self.heads.items()):
            row = stored.get(object_id)
            if row is None:
                report.index_problems.append(
                    IndexProblem("heads", object_id, "removed", "its heads row is missing")
                )
                continue
            for column in HEAD_COLUMNS:
                have, want = _plain(row[column]), _plain(head[column])
                if have != want:
                    report.index_problems.append(
                        IndexProblem(
                            "heads", object_id, "altered", f"{column} is {have!r}, the archive says {want!r}"
                        )
                    )
                    break
        stored_pairs = {
            (row.object_id, row.key): row.value
            for row in self.connection.execute(
                select(HEAD_METADATA)
                .join(HEADS, HEADS.c.object_id == HEAD_METADATA.c.object_id)
                .where(HEADS.c.chain_id.in_(self.chains))
            )
        }
        for key in sorted(set(stored_pairs) | set(self.pairs)):
            object_id, name = key
            have, want = stored_pairs.get(key), self.pairs.get(key)
            if have == want:
                continue
            if want is None:
                kind: ProblemKind = "inserted"
                detail = f"metadata {name}={have!r} is not in the archive"
            elif have is None:
                kind, detail = "removed", f"metadata {name}={want!r} is missing"
            else:
                kind, detail = "altered", f"metadata {name} is {have!r}, the archive says {want!r}"
            report.index_problems.append(IndexProblem("head_metadata", object_id, kind, detail))
        self.chains, self.heads, self.pairs = [], {}, {}

    def orphans(self, report: VerifyReport) -> None:
        """Index rows for objects the archive does not hold (in that chain)."""
        stray_heads = select(HEADS.c.object_id, HEADS.c.chain_id).where(
            ~exists().where(
                and_(VERSIONS.c.object_id == HEADS.c.object_id, VERSIONS.c.chain_id == HEADS.c.chain_id)
            )
        )
        broken = {problem.chain_id for problem in report.problems}
        for row in self.connection.execute(stray_heads.order_by(HEADS.c.object_id)):
            if row.chain_id in broken:
                continue
            report.index_problems.append(
                IndexProblem(
                    "heads",
                    row.object_id,
                    "inserted",
                    f"the archive has no such object in chain {row.chain_id}",
                )
            )
        stray_pairs = select(HEAD_METADATA.c.object_id, HEAD_METADATA.c.key).where(
            ~exists().where(HEADS.c.object_id == HEAD_METADATA.c.object_id)
        )
        for row in self.connection.execute(
            stray_pairs.order_by(HEAD_METADATA.c.object_id, HEAD_METADATA.c.key)
        ):
            report.index_problems.append(
                IndexProblem(
                    "head_metadata",
                    row.object_id,
                    "inserted",
                    f"metadata {row.key} of an object with no heads row",
                )
            )


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def check_integrity(store: Store) -> str:
    """Check the database's own structures; raise :class:`DatabaseError` if they are damaged."""
    database = store.database
    with database.read() as connection:
        if database.dialect == "sqlite":
            findings = [str(row[0]) for row in connection.exec_driver_sql("PRAGMA quick_check")]
            if findings != ["ok"]:
                raise DatabaseError(
                    f"the database {database.display_url} is damaged: {findings[0][:200]}",
                    hint="restore it from a backup or an export (`sqlite3 FILE .recover` may save the rest)",
                )
            return "quick_check ok"
        if not connection.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'")).first():
            return "skipped: the amcheck extension is not installed (CREATE EXTENSION amcheck enables it)"
        indexes = connection.execute(
            text(
                "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_am a ON a.oid = c.relam JOIN pg_class t ON t.oid = i.indrelid "
                "WHERE a.amname = 'btree' AND t.relnamespace = current_schema()::regnamespace"
            )
        ).all()
        for oid, name in indexes:
            try:
                connection.execute(text("SELECT bt_index_check(:oid)"), {"oid": oid})
            except Exception as exc:  # amcheck reports damage as an error
                raise DatabaseError(
                    f"the index {name} of {database.display_url} is damaged: {str(exc).splitlines()[0][:99]}",
                    hint="REINDEX it, or restore the database from a backup or an export",
                ) from None
        return f"amcheck ok ({len(indexes)} indexes)"


def _tips(connection: Connection, chain_id: str | None) -> State:
    statement = select(CHAINS.c.chain_id, CHAINS.c.last_seq, CHAINS.c.last_hash)
    if chain_id is not None:
        runs = select(TOOL_CALLS.c.run_id).where(TOOL_CALLS.c.thread_id == chain_id).distinct()
        wanted = [chain_id, *(ledger_chain(run) for run in connection.execute(runs).scalars())]
        statement = statement.where(CHAINS.c.chain_id.in_(wanted))
    return {row.chain_id: (int(row.last_seq), row.last_hash) for row in connection.execute(statement)}


def _version_chains(connection: Connection, chain_id: str | None) -> Iterator[tuple[str, Iterator[Any]]]:
    """Rows grouped by chain, in chain order, streamed."""
    statement = select(VERSIONS).order_by(VERSIONS.c.chain_id, VERSIONS.c.chain_seq)
    if chain_id is not None:
        statement = statement.where(VERSIONS.c.chain_id == chain_id)
    result = connection.execute(statement.execution_options(stream_results=True, yield_per=1000)).mappings()
    for current, rows in groupby(result, key=lambda row: row["chain_id"]):
        yield str(current), rows


def _ledger_chains(connection: Connection, chain_id: str | None) -> Iterator[tuple[str, Iterator[Any]]]:
    statement = select(TOOL_CALLS).order_by(TOOL_CALLS.c.run_id, TOOL_CALLS.c.seq)
    if chain_id is not None:
        statement = statement.where(TOOL_CALLS.c.thread_id == chain_id)
    result = connection.execute(statement.execution_options(stream_results=True, yield_per=1000)).mappings()
    for run_id, rows in groupby(result, key=lambda row: row["run_id"]):
        yield ledger_chain(str(run_id)), rows


def record_checkpoint(store: Store, report: VerifyReport) -> bool:
    """Remember the state a full, sound verify saw, under its digest, so that a later
    ``verify --expect DIGEST`` can spell it out; False if the database cannot be written."""
    state = json.dumps(sorted([chain, length, end] for chain, (length, end) in report.tips.items()))
    try:
        with store.database.write() as connection:
            if connection.execute(
                select(CHECKPOINTS.c.digest).where(CHECKPOINTS.c.digest == report.digest)
            ).first():
                return True
            connection.execute(
                insert(CHECKPOINTS).values(digest=report.digest, recorded_at_us=now_us(), state=state)
            )
    except DatabaseError:
        return False
    except sa_exc.IntegrityError:  # another verify recorded the same state just now
        return True
    return True


def load_expected(store: Store, expect: str) -> State:
    """The state a digest names: from the checkpoint an earlier verify recorded, or from a saved
    ``verify --json`` output (``@FILE``); either must hash to the digest it claims."""
    if expect.startswith("@"):
        path = expect[1:]
        try:
            with open(path, encoding="utf-8") as handle:
                saved = json.load(handle)
            digest = str(saved["digest"])
            entries = [(str(c["chain_id"]), int(c["length"]), str(c["end_hash"])) for c in saved["tips"]]
        except OSError as exc:
            raise InvalidInputError(
                f"cannot read {path}: {exc.strerror}",
                hint="pass '@' and the path of a saved verify report",
                situation="saved_report",
            ) from None
        except (ValueError, KeyError, TypeError):
            raise InvalidInputError(
                f"{path} is not a saved verify report (JSON with its digest and tips)",
                hint="pass '@' and the path of a saved verify report",
                situation="saved_report",
            ) from None
    else:
        digest = expect.strip().lower()
        if len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest):
            raise InvalidInputError(
                f"{expect!r} is not a digest",
                hint="pass a verify report's digest (64 hex digits), or '@' and the path of a saved report",
                situation="expected_digest",
            )
        with store.database.read() as connection:
            row = connection.execute(
                select(CHECKPOINTS.c.state).where(CHECKPOINTS.c.digest == digest)
            ).first()
        if row is None:
            raise VerificationError(
                f"the archive holds no record of the state {digest[:12]}...: it is not a continuation of it "
                "(its checkpoint was removed, or the digest is from another archive)",
                hint="check against a saved verify report instead: expected '@' and its path",
                situation="saved_report_instead",
            )
        try:
            entries = [(str(c), int(n), str(h)) for c, n, h in json.loads(row.state)]
        except (ValueError, TypeError):
            entries = []
    if tips_digest(entries) != digest:
        raise VerificationError(
            f"the recorded state does not hash to {digest[:12]}...: it was altered",
            hint="check against a saved verify report instead: expected '@' and its path",
            situation="saved_report_instead",
        )
    return {chain: (length, end) for chain, length, end in entries}
