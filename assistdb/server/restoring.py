"""Loading API objects made elsewhere into the server's state, keeping their IDs, times and order.

The server does not read archives or exports (that is the client side's business); it takes
plain object bodies, as the Assistants API returned them, in creation order, and inserts them
as they are, so an application that kept its IDs finds the same objects answering.

Everything is checked before anything is written, and all of it is written in one transaction:
an object whose ID already exists with the same body is left alone (a second restore changes
nothing); one whose ID exists with a different body is a conflict, and a restore with any
conflict writes nothing at all. A run that was still active when it was archived cannot be
continued (its model call and tool outputs are gone), so it is restored as ``expired`` at its
own ``expires_at``, with the step and message it was working on closed the same way; the
report names each one.

Files come back with their content when the caller has it (:class:`Content`, read a piece at a
time and checked against its SHA-256 as it is stored); a file whose content is not given is not
restored, since the server would answer for bytes it does not have, and the report names it.
Vector stores come back with the vector store files given for them (``vector_store.file``
bodies: same file IDs, attributes, chunking strategy, usage and status), a ``completed`` one's
chunks indexed again from its file's content so that search finds it; a store's counts are those
of the files it gets back. A vector store file that was not ``completed`` or ``failed``, or whose
file is neither restored nor in the server, is left out and named in the report.
"""

from __future__ import annotations

import builtins
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Table, select

from assistdb.server import blobs, file_tables, tables, vector_stores
from assistdb.server.lifecycle import new_driver_state
from assistdb.server.objects import Obj
from assistdb.server.state import ServerState, encode

LINK = "vector_store.file"  # a file's place in a vector store
#: The wire ``object`` of each kind, in the order kinds are restored (parents first).
KINDS = {
    "file": file_tables.files,
    "vector_store": file_tables.vector_stores,
    LINK: file_tables.vector_store_files,
    "assistant": tables.assistants,
    "thread": tables.threads,
    "thread.message": tables.messages,
    "thread.run": tables.runs,
    "thread.run.step": tables.steps,
}
_PARENTS = {
    "thread.message": ("thread_id",),
    "thread.run": ("thread_id", "assistant_id"),
    "thread.run.step": ("thread_id", "run_id"),
}
#: A vector store file in any other status was being processed or was cancelled: nothing to index.
RESTORED_LINK_STATUSES = ("completed", "failed")
_ACTIVE_RUN = ("queued", "in_progress", "requires_action", "cancelling")
_MAX_ID = tables.ID
_MAX_PURPOSE = 32


class Content(Protocol):
    """A file's content as the caller holds it: its digest and size, and its bytes in pieces."""

    @property
    def sha256(self) -> str: ...

    @property
    def bytes(self) -> int: ...

    def pieces(self) -> Iterable[builtins.bytes]: ...


def _no_content(file_id: str) -> Content | None:
    return None


class RestoreError(Exception):
    """The objects cannot be restored as given; ``problems`` names each one (nothing was written)."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class ContentMismatchError(RestoreError):
    """A file's content, as it was read, is not what its SHA-256 and size say (nothing was written)."""


@dataclass
class RestoreReport:
    """What a restore did: objects added and already present per kind, and runs it expired."""

    added: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    unchanged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    expired_runs: list[str] = field(default_factory=list)
    contentless: list[str] = field(default_factory=list)  # files not restored: no content given
    #: Vector store files left out, as (``STORE_ID/FILE_ID``, why).
    skipped_links: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total_added(self) -> int:
        return sum(self.added.values())


def restore_objects(
    store: ServerState,
    bodies: Iterable[Obj],
    *,
    contents: Callable[[str], Content | None] = _no_content,
    dry_run: bool = False,
) -> RestoreReport:
    """Insert ``bodies`` (any kinds, each kind in creation order) that the server lacks;
    ``contents`` gives a file's content by its ID (None: not held, the file is skipped).

    Raises :class:`RestoreError` naming every conflict or malformed object; then nothing is
    written. ``dry_run`` checks and counts without writing.
    """
    by_kind: dict[str, list[Obj]] = {kind: [] for kind in KINDS}
    problems: list[str] = []
    seen: set[str] = set()
    expired: set[str] = set()
    for position, body in enumerate(bodies, 1):
        problem = _malformed(body)
        if problem is not None:
            problems.append(f"object {position}: {problem}")
            continue
        key = _key(body)
        if key in seen:
            problems.append(f"object {position}: {key} appears twice")
            continue
        seen.add(key)
        at_rest = _at_rest(body)
        if at_rest is not body and body["object"] == "thread.run":
            expired.add(body["id"])
        by_kind[body["object"]].append(at_rest)
    report = RestoreReport()
    with store.writing() as tx:
        connection = tx.connection
        new: dict[str, list[Obj]] = {kind: [] for kind in KINDS}
        known: set[str] = set()

        def settle(kind: str) -> None:
            """Split a kind's bodies into new ones, and ones the server has (same, or a conflict)."""
            existing = _existing(connection, KINDS[kind], [body["id"] for body in by_kind[kind]])
            known.update(existing)
            for body in by_kind[kind]:
                if body["id"] not in existing:
                    new[kind].append(body)
                    continue
                stored = existing[body["id"]]
                if stored is None:
                    problems.append(f"{body['id']} was deleted in the server; it is not brought back")
                elif _same(stored, body) and _same_content(connection, body, contents):
                    report.unchanged[kind] += 1
                else:
                    problems.append(f"{body['id']} exists in the server with different content")

        settle("file")
        file_contents: dict[str, Content] = {}
        for body in new["file"]:
            content = contents(body["id"])
            if content is None:
                report.contentless.append(body["id"])
            elif content.bytes != body["bytes"]:
                problems.append(f"{body['id']} has {body['bytes']} bytes, its content {content.bytes}")
            else:
                file_contents[body["id"]] = content
        new["file"] = [body for body in new["file"] if body["id"] in file_contents]
        held = _settle_links(connection, by_kind, new, file_contents, report, problems)
        for body in by_kind["vector_store"]:
            vector_stores.tally(body, held.pop(body["id"], []))
        # stores the server has, not given themselves, that get files
        recount = sorted(set(held) & {body["vector_store_id"] for body in new[LINK]})
        for kind in KINDS:
            if kind not in ("file", LINK):
                settle(kind)
        restored = known | {body["id"] for bodies_ in new.values() for body in bodies_}
        for kind, parent_fields in _PARENTS.items():
            for body in new[kind]:
                for name in parent_fields:
                    parent = body.get(name)
                    if (
                        parent is not None
                        and parent not in restored
                        and not _exists_anywhere(tx, name, parent)
                    ):
                        if name == "assistant_id":
                            continue  # a run of a deleted assistant keeps its history
                        problems.append(
                            f"{body['id']} belongs to {parent}, which is neither given nor in the server"
                        )
        if problems:
            raise RestoreError(f"{len(problems)} object(s) cannot be restored", problems)
        for kind, fresh in new.items():
            report.added[kind] = len(fresh)
        report.expired_runs = [body["id"] for body in new["thread.run"] if body["id"] in expired]
        if dry_run:
            return report
        for body in new["file"]:
            _store_content(connection, body["id"], file_contents[body["id"]])
        tx.insert_many(
            file_tables.files,
            [
                {"id": b["id"], "purpose": b["purpose"], "sha256": file_contents[b["id"]].sha256, "body": b}
                for b in new["file"]
            ],
        )
        tx.insert_many(file_tables.vector_stores, [{"id": b["id"], "body": b} for b in new["vector_store"]])
        for body in new[LINK]:
            vector_stores.restore_link(tx, body)
        for store_id in recount:
            vector_stores.recount(tx, store_id)
        tx.insert_many(tables.assistants, [{"id": b["id"], "body": b} for b in new["assistant"]])
        tx.insert_many(tables.threads, [{"id": b["id"], "body": b} for b in new["thread"]])
        tx.insert_many(
            tables.messages,
            [
                {"id": b["id"], "thread_id": b["thread_id"], "run_id": b.get("run_id"), "body": b}
                for b in new["thread.message"]
            ],
        )
        tx.insert_many(tables.runs, [_run_row(b) for b in new["thread.run"]])
        tx.insert_many(
            tables.steps,
            [
                {"id": b["id"], "run_id": b["run_id"], "thread_id": b["thread_id"], "body": b}
                for b in new["thread.run.step"]
            ],
        )
    return report


def _settle_links(
    connection: Any,
    by_kind: dict[str, list[Obj]],
    new: dict[str, list[Obj]],
    file_contents: dict[str, Content],
    report: RestoreReport,
    problems: list[str],
) -> dict[str, list[Obj]]:
    """Sort the vector store files given into new ones, ones the server has (the same, or a
    conflict) and ones left out (not completed or failed, or their file is not restored and not
    in the server); the kept ones (new and unchanged) by store, which their counts come from."""
    links = by_kind[LINK]
    live_files = _live(connection, file_tables.files, {body["id"] for body in links}) | set(file_contents)
    given_stores = {body["id"] for body in by_kind["vector_store"]}
    live_stores = _live(connection, file_tables.vector_stores, {b["vector_store_id"] for b in links})
    held: dict[str, list[Obj]] = {}
    for body in links:
        key, store_id = _key(body), body["vector_store_id"]
        if body["status"] not in RESTORED_LINK_STATUSES:
            report.skipped_links.append((key, f"it was {body['status']} when archived"))
        elif body["id"] not in live_files:
            contentless = body["id"] in report.contentless
            why = "has no content" if contentless else "is neither given nor in the server"
            report.skipped_links.append((key, f"its file {why}"))
        elif store_id not in given_stores and store_id not in live_stores:
            problems.append(f"{key} belongs to {store_id}, which is neither given nor in the server")
        else:
            stored = _existing_link(connection, store_id, body["id"])
            if stored is None:
                new[LINK].append(body)
            elif stored == body:
                report.unchanged[LINK] += 1
            else:
                problems.append(f"{key} exists in the server with different content")
                continue
            held.setdefault(store_id, []).append(body)
    return held


#: What using a vector store changes (searching it, a run reading it): not a conflict.
_USE_FIELDS = ("last_active_at", "expires_at")


def _same(stored: Obj, body: Obj) -> bool:
    """Whether the server's object is the one given, but for the marks of its use since."""
    if body["object"] == "vector_store":
        return {**stored, **{name: body.get(name) for name in _USE_FIELDS}} == body
    return stored == body


def _key(body: Obj) -> str:
    """What identifies a body: its ID, or for a vector store file its store's and its own."""
    return f"{body['vector_store_id']}/{body['id']}" if body["object"] == LINK else str(body["id"])


def _live(connection: Any, table: Table, ids: builtins.set[str]) -> builtins.set[str]:
    """Which of these file or vector store IDs the server has, not deleted."""
    found: builtins.set[str] = set()
    wanted = sorted(ids)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            connection.execute(
                select(table.c.id).where(table.c.id.in_(chunk), table.c.deleted == False)  # noqa: E712
            ).scalars()
        )
    return found


def _existing_link(connection: Any, store_id: str, file_id: str) -> Obj | None:
    table = file_tables.vector_store_files
    found = connection.execute(
        select(table.c.body).where(table.c.vector_store_id == store_id, table.c.id == file_id)
    ).scalar()
    return None if found is None else dict(json.loads(found))


def _malformed(body: object) -> str | None:
    if not isinstance(body, dict):
        return "not a JSON object"
    kind = body.get("object")
    if kind not in KINDS:
        return f"'object' is {kind!r}, not one of {', '.join(KINDS)}"
    object_id = body.get("id")
    if not isinstance(object_id, str) or not object_id or len(object_id) > _MAX_ID:
        return f"a {kind} needs an 'id' of 1 to {_MAX_ID} characters"
    if not isinstance(body.get("created_at"), int):
        return f"{object_id} has no integer 'created_at'"
    if kind == "file":
        purpose = body.get("purpose")
        if not isinstance(purpose, str) or not purpose or len(purpose) > _MAX_PURPOSE:
            return f"{object_id} needs a 'purpose' of 1 to {_MAX_PURPOSE} characters"
        if not isinstance(body.get("bytes"), int) or not isinstance(body.get("filename"), str):
            return f"{object_id} needs integer 'bytes' and a 'filename'"
    if kind == LINK:
        store_id = body.get("vector_store_id")
        if not isinstance(store_id, str) or not store_id or len(store_id) > _MAX_ID:
            return f"{object_id} needs a 'vector_store_id' of 1 to {_MAX_ID} characters"
        if not isinstance(body.get("status"), str) or not isinstance(body.get("usage_bytes"), int):
            return f"{store_id}/{object_id} needs a 'status' and integer 'usage_bytes'"
    for name in _PARENTS.get(kind, ()):
        value = body.get(name)
        if name != "assistant_id" and (not isinstance(value, str) or not value):
            return f"{object_id} has no '{name}'"
    return None


def _at_rest(body: Obj) -> Obj:
    """The body as the server keeps it: an active run (and its open step or message) expired.

    Deterministic (the archived ``expires_at`` is the moment), so restoring twice compares equal.
    """
    kind = body["object"]
    status = body.get("status")
    if kind == "vector_store":
        return dict(body)  # its counts are those of the files it gets back (``tally``)
    if kind == "thread.run" and status in _ACTIVE_RUN:
        at = body.get("expires_at") or body["created_at"]
        return {
            **body,
            "status": "expired",
            "required_action": None,
            "expires_at": at,
        }
    if kind == "thread.run.step" and status == "in_progress":
        at = body.get("expires_at") or body["created_at"]
        return {**body, "status": "expired", "expired_at": at}
    if kind == "thread.message" and status == "in_progress":
        return {
            **body,
            "status": "incomplete",
            "incomplete_at": body["created_at"],
            "incomplete_details": {"reason": "run_expired"},
        }
    return body


def _run_row(body: Obj) -> dict[str, Any]:
    return {
        "id": body["id"],
        "thread_id": body["thread_id"],
        "status": body["status"],
        "body": body,
        "driver": encode(new_driver_state()),
        "expire_at": float(body.get("expires_at") or body["created_at"]),
    }


def _existing(connection: Any, table: Table, ids: list[str]) -> dict[str, Obj | None]:
    """Bodies of the given IDs the server already has (in chunks, for long lists); None for a
    file or vector store the server keeps as deleted."""
    found: dict[str, Obj | None] = {}
    deleted = table.c.deleted if "deleted" in table.c else None
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        columns = [table.c.id, table.c.body] + ([deleted] if deleted is not None else [])
        for row in connection.execute(select(*columns).where(table.c.id.in_(chunk))):
            found[str(row.id)] = None if deleted is not None and row.deleted else json.loads(row.body)
    return found


def _same_content(connection: Any, body: Obj, contents: Callable[[str], Content | None]) -> bool:
    """Whether a file already in the server has the content given for it (if any is given)."""
    if body["object"] != "file":
        return True
    content = contents(body["id"])
    if content is None:
        return True
    table = file_tables.files
    stored = connection.execute(select(table.c.sha256).where(table.c.id == body["id"])).scalar()
    return bool(stored == content.sha256)


def _store_content(connection: Any, file_id: str, content: Content) -> None:
    """Store a file's content unless the server has it; its pieces must hash to its digest
    (else the restore fails and its transaction writes nothing)."""
    digest = hashlib.sha256()

    def checked() -> Iterator[bytes]:
        size = 0
        for piece in content.pieces():
            digest.update(piece)
            size += len(piece)
            yield piece
        if digest.hexdigest() != content.sha256 or size != content.bytes:
            raise ContentMismatchError(
                f"the content of {file_id} does not match its SHA-256 {content.sha256}",
                [f"{file_id}: its content read {size} bytes hashing to {digest.hexdigest()}"],
            )

    blobs.put_pieces(connection, content.sha256, content.bytes, checked())


def _exists_anywhere(tx: Any, name: str, object_id: str) -> bool:
    table = {"thread_id": tables.threads, "run_id": tables.runs, "assistant_id": tables.assistants}[name]
    return tx.connection.execute(select(table.c.id).where(table.c.id == object_id)).first() is not None
