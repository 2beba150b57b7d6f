"""Helpers shared by the sync and audit tests: talking to the server behind the archive's back,
and comparing archives."""

from __future__ import annotations

import time
from typing import Any

from openai import OpenAI
from sqlalchemy import func, select

from assistdb.repositories import api
from assistdb.store import Store
from assistdb.store.archive import VERSIONS

TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def add_message(client: OpenAI, thread_id: str, text: str) -> str:
    """A user message created directly through the API, so that the archive does not see it."""
    return api.call(client.beta.threads.messages.create, thread_id, role="user", content=text).id


def new_assistant(client: OpenAI) -> str:
    return api.call(client.beta.assistants.create, model="gpt-4o", tools=[WEATHER_TOOL]).id


def start_run(client: OpenAI, thread_id: str, assistant_id: str) -> str:
    return api.call(client.beta.threads.runs.create, thread_id, assistant_id=assistant_id).id


def wait_run(client: OpenAI, thread_id: str, run_id: str, until: set[str] | None = None) -> Any:
    """Poll until the run reaches one of ``until`` (default: a terminal status or requires_action)."""
    wanted = until or TERMINAL | {"requires_action"}
    deadline = time.monotonic() + 30
    while True:
        run = api.call(client.beta.threads.runs.retrieve, run_id, thread_id=thread_id)
        if run.status in wanted:
            return run
        assert time.monotonic() < deadline, f"run stuck in {run.status}"
        time.sleep(0.02)


def converse(client: OpenAI, thread_id: str, assistant_id: str, text: str) -> Any:
    """Add a user message, run the assistant on it, and wait for the run to rest."""
    add_message(client, thread_id, text)
    return wait_run(client, thread_id, start_run(client, thread_id, assistant_id))


def fingerprint(store: Store) -> dict[str, list[tuple[int, str, bool]]]:
    """Each object's versions as (version, content hash, tombstone): what two archives of the same
    objects must share (observation times and chain order naturally differ)."""
    statement = select(
        VERSIONS.c.object_id, VERSIONS.c.version, VERSIONS.c.content_hash, VERSIONS.c.tombstone
    )
    found: dict[str, list[tuple[int, str, bool]]] = {}
    with store.database.read() as connection:
        for row in connection.execute(statement.order_by(VERSIONS.c.object_id, VERSIONS.c.version)):
            found.setdefault(row.object_id, []).append((row.version, row.content_hash, bool(row.tombstone)))
    return found


def duplicated_versions(store: Store) -> int:
    """Versions that repeat an earlier version of the same object (the same content hash)."""
    pairs = select(VERSIONS.c.object_id, VERSIONS.c.content_hash).distinct().subquery()
    with store.database.read() as connection:
        total = connection.execute(select(func.count()).select_from(VERSIONS)).scalar_one()
        distinct = connection.execute(select(func.count()).select_from(pairs)).scalar_one()
    return int(total - distinct)


def version_rows(store: Store) -> int:
    with store.database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(VERSIONS)).scalar_one())
