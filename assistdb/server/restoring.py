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
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select

from assistdb.server import tables
from assistdb.server.lifecycle import new_driver_state
from assistdb.server.objects import Obj
from assistdb.server.state import ServerState, encode

#: The wire ``object`` of each kind, in the order kinds are restored (parents first).
KINDS = {
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
_ACTIVE_RUN = ("queued", "in_progress", "requires_action", "cancelling")
_MAX_ID = tables.ID


class RestoreError(Exception):
    """The objects cannot be restored as given; ``problems`` names each one (nothing was written)."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass
class RestoreReport:
    """What a restore did: objects added and already present per kind, and runs it expired."""

    added: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    unchanged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    expired_runs: list[str] = field(default_factory=list)

    @property
    def total_added(self) -> int:
        return sum(self.added.values())


def restore_objects(store: ServerState, bodies: Iterable[Obj], *, dry_run: bool = False) -> RestoreReport:
    """Insert ``bodies`` (any kinds, each kind in creation order) that the server lacks.

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
        if body["id"] in seen:
            problems.append(f"object {position}: {body['id']} appears twice")
            continue
        seen.add(body["id"])
        at_rest = _at_rest(body)
        if at_rest is not body and body["object"] == "thread.run":
            expired.add(body["id"])
        by_kind[body["object"]].append(at_rest)
    report = RestoreReport()
    with store.writing() as tx:
        connection = tx.connection
        new: dict[str, list[Obj]] = {}
        known: set[str] = set()
        for kind, table in KINDS.items():
            existing = _existing(connection, table, [body["id"] for body in by_kind[kind]])
            known.update(existing)
            fresh = []
            for body in by_kind[kind]:
                stored = existing.get(body["id"])
                if stored is None:
                    fresh.append(body)
                elif stored == body:
                    report.unchanged[kind] += 1
                else:
                    problems.append(f"{body['id']} exists in the server with different content")
            new[kind] = fresh
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


def _existing(connection: Any, table: Table, ids: list[str]) -> dict[str, Obj]:
    """Bodies of the given IDs the server already has (in chunks, for long lists)."""
    found: dict[str, Obj] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = connection.execute(select(table.c.id, table.c.body).where(table.c.id.in_(chunk)))
        for row in rows:
            found[str(row.id)] = json.loads(row.body)
    return found


def _exists_anywhere(tx: Any, name: str, object_id: str) -> bool:
    table = {"thread_id": tables.threads, "run_id": tables.runs, "assistant_id": tables.assistants}[name]
    return tx.connection.execute(select(table.c.id).where(table.c.id == object_id)).first() is not None
