"""Listing a whole thread, and finding what vanished: live in the archive, absent from the listing.

A full reconcile and ``diff_thread`` both list everything and then compare. The listing's IDs are
remembered as 64-bit digests, 8 bytes each instead of about 100 for the strings, so memory stays
near flat at 100,000 objects. The price: a vanished object whose digest equals a listed one's (odds
about 1 in 10^13 against a million listed IDs) is not tombstoned.
"""

from __future__ import annotations

import bisect
import hashlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from assistdb.store import Filters, Store
from assistdb.store.objects import ObjectType
from assistdb.sync.remote import Body, Remote

TOMBSTONE_BATCH = 500


class SeenIds:
    """A set of IDs that only supports ``add`` and ``in``."""

    def __init__(self) -> None:
        self._digests = array("q")
        self._sorted = True
        self.count = 0

    def add(self, object_id: str) -> None:
        self._digests.append(_digest(object_id))
        self._sorted = False
        self.count += 1

    def __contains__(self, object_id: object) -> bool:
        if not isinstance(object_id, str):
            return False
        if not self._sorted:
            self._digests = array("q", sorted(self._digests))
            self._sorted = True
        digest = _digest(object_id)
        at = bisect.bisect_left(self._digests, digest)
        return at < len(self._digests) and self._digests[at] == digest


def _digest(object_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(object_id.encode(), digest_size=8).digest(), "big", signed=True)


@dataclass
class Listed:
    """Every ID a complete listing returned, and when the listing began."""

    started_us: int
    messages: SeenIds = field(default_factory=SeenIds)
    runs: SeenIds = field(default_factory=SeenIds)
    steps: SeenIds = field(default_factory=SeenIds)

    def kinds(self) -> tuple[tuple[ObjectType, SeenIds], ...]:
        return (("message", self.messages), ("run", self.runs), ("run_step", self.steps))


@dataclass(frozen=True)
class ListedPage:
    """One page of messages, or of runs together with their steps (``ids``: the page's own objects)."""

    object_type: ObjectType
    ids: list[str]
    bodies: list[Body]


def list_thread(remote: Remote, thread_id: str, listed: Listed) -> Iterator[ListedPage]:
    """Every message, then every run with its steps, oldest first, noting each ID in ``listed``."""
    for page in remote.messages(thread_id):
        ids = [str(body["id"]) for body in page]
        for object_id in ids:
            listed.messages.add(object_id)
        yield ListedPage("message", ids, page)
    for page in remote.runs(thread_id):
        yield ListedPage("run", [str(run["id"]) for run in page], with_steps(remote, thread_id, page, listed))


def with_steps(remote: Remote, thread_id: str, runs: list[Body], listed: Listed | None = None) -> list[Body]:
    """Each run followed by its steps."""
    bodies: list[Body] = []
    all_steps = remote.steps_of_runs(thread_id, [str(run["id"]) for run in runs])
    for run, steps in zip(runs, all_steps, strict=True):
        bodies.append(run)
        bodies.extend(steps)
        if listed is not None:
            listed.runs.add(str(run["id"]))
            for step in steps:
                listed.steps.add(str(step["id"]))
    return bodies


def unlisted(
    store: Store, object_type: ObjectType, filters: Filters, seen: SeenIds, *, since_us: int
) -> Iterator[str]:
    """Live archived objects matching ``filters`` that the listing did not return. Objects
    archived after the listing began (by a write-through meanwhile) are left out."""
    archived = store.reader.iter_object_ids(object_type, filters, observed_before_us=since_us)
    return (object_id for object_id in archived if object_id not in seen)


def tombstone(store: Store, object_ids: Iterable[str]) -> int:
    """Tombstone these objects (not their children), a few hundred per transaction so that
    writers elsewhere are not held up; return how many tombstones were stored."""
    stored = 0
    iterator = iter(object_ids)
    while chunk := list(islice(iterator, TOMBSTONE_BATCH)):
        with store.writing() as writer:
            stored += len(writer.record_deleted(chunk, cascade=False).stored)
    return stored
