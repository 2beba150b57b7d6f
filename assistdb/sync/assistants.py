"""Pulling every assistant: each change becomes a version, each deletion a tombstone."""

from __future__ import annotations

import contextlib

from assistdb.facades import AssistDB
from assistdb.store import Filters
from assistdb.store.archive import now_us
from assistdb.sync.listing import SeenIds, tombstone, unlisted
from assistdb.sync.prefetch import Prefetched
from assistdb.sync.remote import Remote
from assistdb.sync.results import PullResult


def pull_assistants(db: AssistDB) -> PullResult:
    """List all assistants, archive what changed (instructions, model, tools...), and tombstone
    archived assistants the API no longer lists. Each page is stored in its own transaction."""
    result = PullResult()
    remote = Remote(db.client)
    started_us = now_us()
    seen = SeenIds()
    with (
        Prefetched(remote.assistants(), name="assistdb-pull-assistants") as pages,
        contextlib.closing(remote),
    ):
        for page in pages:
            for assistant in page:
                seen.add(str(assistant["id"]))
            recorded = db.store.record(page)
            result.versions += len(recorded.stored)
            result.unchanged += recorded.unchanged
    result.assistants = seen.count
    result.requests, result.pages = remote.requests, remote.pages
    result.tombstones = tombstone(
        db.store, unlisted(db.store, "assistant", Filters(), seen, since_us=started_us)
    )
    return result
