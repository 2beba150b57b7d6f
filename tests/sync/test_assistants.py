"""Pulling assistants: every change is a version, every deletion a tombstone."""

from __future__ import annotations

from collections.abc import Callable

from assistdb import AssistDB
from assistdb.audit.verify import verify
from assistdb.repositories import api
from assistdb.server import LocalServer
from assistdb.sync import pull_assistants


def test_pull_records_each_change_and_tombstones_deleted_assistants(
    database_url: str, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    server = assistdb_server_factory()  # a server of its own: no assistants but these
    client = server.client()
    create = client.beta.assistants.create
    kept, edited, deleted = (api.call(create, model="gpt-4o", instructions=f"v1 {i}").id for i in range(3))
    db = AssistDB(database_url, client=client)

    first = pull_assistants(db)
    assert (first.assistants, first.versions, first.tombstones, first.requests) == (3, 3, 0, 1)

    api.call(client.beta.assistants.update, edited, instructions="v2", model="gpt-4o-mini")
    api.call(client.beta.assistants.delete, deleted)
    second = pull_assistants(db)

    assert (second.assistants, second.versions, second.unchanged, second.tombstones) == (2, 1, 1, 1)
    history = db.store.reader.history(edited)
    assert [(v.body["instructions"], v.body["model"]) for v in history] == [
        ("v1 1", "gpt-4o"),
        ("v2", "gpt-4o-mini"),
    ]
    assert db.store.reader.current(deleted) is None and db.store.reader.history(deleted)[-1].tombstone
    assert db.store.reader.current(kept) is not None

    third = pull_assistants(db)
    assert (third.versions, third.tombstones, third.unchanged) == (0, 0, 2)
    assert verify(db.store).ok
    db.close()


def test_pull_reads_every_page(
    database_url: str, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    server = assistdb_server_factory()
    client = server.client()
    for index in range(150):
        api.call(client.beta.assistants.create, model="gpt-4o", name=f"a{index}")
    db = AssistDB(database_url, client=client)

    result = pull_assistants(db)

    assert (result.assistants, result.versions, result.pages) == (150, 150, 2)
    assert db.store.reader.count("assistant") == 150
    db.close()
