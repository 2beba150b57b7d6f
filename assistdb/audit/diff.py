"""What changed remotely since the last sync, and what vanished, without writing anything.

The thread is listed in full and each object's content hash compared with the archive's latest
version; archived objects the listing lacks have vanished (been deleted) remotely.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from assistdb.errors import NotFoundError
from assistdb.facades import AssistDB
from assistdb.repositories.validation import check_id
from assistdb.store import Filters, Store, hashing
from assistdb.store.archive import now_us
from assistdb.store.objects import ObjectType, object_type_of
from assistdb.sync.listing import Listed, list_thread, unlisted
from assistdb.sync.remote import Body, Remote


@dataclass(frozen=True)
class ObjectChange:
    """One object that differs; for a changed one, the top-level fields whose values differ."""

    object_type: ObjectType
    object_id: str
    fields: list[str] = field(default_factory=list)


@dataclass
class ThreadDiff:
    """``new``: remote objects the archive lacks; ``changed``: remote objects whose content differs
    from their archived version; ``vanished``: archived objects the API no longer has."""

    thread_id: str
    thread_gone: bool = False
    new: list[ObjectChange] = field(default_factory=list)
    changed: list[ObjectChange] = field(default_factory=list)
    vanished: list[ObjectChange] = field(default_factory=list)
    unchanged: int = 0
    requests: int = 0

    @property
    def clean(self) -> bool:
        return not (self.new or self.changed or self.vanished)

    def to_text(self) -> str:
        if self.thread_gone:
            head = f"thread {self.thread_id} is gone remotely"
        elif self.clean:
            head = f"thread {self.thread_id}: the archive is up to date ({self.unchanged} objects)"
        else:
            head = (
                f"thread {self.thread_id}: {len(self.new)} new, {len(self.changed)} changed, "
                f"{len(self.vanished)} vanished, {self.unchanged} unchanged"
            )
        lines = [head]
        for label, changes in (("new", self.new), ("changed", self.changed), ("vanished", self.vanished)):
            for change in changes:
                fields = f" ({', '.join(change.fields)})" if change.fields else ""
                lines.append(f"  {label:<8} {change.object_type:<8} {change.object_id}{fields}")
        return "\n".join(lines)


def diff_thread(db: AssistDB, thread_id: str) -> ThreadDiff:
    """Compare a synced thread with the API; API errors raise (nothing is written either way)."""
    check_id("thread", thread_id)
    store = db.store
    if store.reader.current(thread_id, include_deleted=True) is None:
        raise NotFoundError(f"the archive has no thread {thread_id}", hint="sync it first")
    diff = ThreadDiff(thread_id)
    listed = Listed(started_us=now_us())
    remote = Remote(db.client)
    with contextlib.closing(remote):
        thread = remote.thread(thread_id)
        if thread is None:
            diff.thread_gone = True
            if store.reader.current(thread_id) is not None:
                diff.vanished.append(ObjectChange("thread", thread_id))
        else:
            _compare(store, [thread], diff)
            for page in list_thread(remote, thread_id, listed):
                _compare(store, page.bodies, diff)
        for object_type, seen in listed.kinds():
            for object_id in unlisted(
                store, object_type, Filters(thread_id=thread_id), seen, since_us=listed.started_us
            ):
                diff.vanished.append(ObjectChange(object_type, object_id))
    diff.requests = remote.requests
    return diff


def _compare(store: Store, bodies: list[Body], diff: ThreadDiff) -> None:
    heads = store.reader.head_hashes(str(body["id"]) for body in bodies)
    for body in bodies:
        object_id, object_type = str(body["id"]), object_type_of(body)
        head = heads.get(object_id)
        if head is None or head[1]:  # never archived, or archived as deleted
            diff.new.append(ObjectChange(object_type, object_id))
        elif head[0] != hashing.content_hash(hashing.canonical_json(body)):
            archived = store.reader.current(object_id)
            fields = _changed_fields(archived.body if archived else {}, body)
            diff.changed.append(ObjectChange(object_type, object_id, fields))
        else:
            diff.unchanged += 1


def _changed_fields(archived: dict[str, Any], remote: Body) -> list[str]:
    return sorted(key for key in archived.keys() | remote.keys() if archived.get(key) != remote.get(key))
