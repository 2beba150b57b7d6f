"""Fixtures for the run engine tests: an archive (SQLite and PostgreSQL) wired to a local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistdb import AssistDB, ToolRegistry
from assistdb.repositories import api
from assistdb.server import LocalServer

HERE = Path(__file__).parent


@pytest.fixture
def db(database_url: str, assistdb_server: LocalServer) -> Iterator[AssistDB]:
    """An archive on each database, talking to the fast local server."""
    with AssistDB(database_url, client=assistdb_server.client()) as opened:
        yield opened


@pytest.fixture
def sqlite_db(sqlite_url: str, assistdb_server: LocalServer) -> Iterator[AssistDB]:
    """The same on SQLite only, for behaviour that does not depend on the database."""
    with AssistDB(sqlite_url, client=assistdb_server.client()) as opened:
        yield opened


def assistant_for(db: AssistDB, *tools: ToolRegistry | dict[str, Any]) -> str:
    """An assistant offering the functions of these registries and hand-written definitions."""
    definitions: list[dict[str, Any]] = []
    for item in tools:
        definitions.extend(item.definitions() if isinstance(item, ToolRegistry) else [item])
    return db.assistants.create(model="gpt-4o", tools=definitions).id


def thread_saying(db: AssistDB, text: str) -> str:
    return db.threads.create(messages=[{"role": "user", "content": text}]).id


def function(name: str) -> dict[str, Any]:
    """A function definition with no parameters, for tools the registry does not have."""
    return {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object", "properties": {}}},
    }


def statuses(db: AssistDB, run_id: str) -> list[str]:
    return [version.body["status"] for version in db.runs.history(run_id)]


def reply_of(db: AssistDB, thread_id: str, run_id: str) -> str:
    messages = [m for m in db.messages.find(thread_id, run_id=run_id) if m.role == "assistant"]
    assert len(messages) == 1
    block: Any = messages[0].content[0]
    return str(block.text.value)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The SDK's deprecation warnings must never reach users: here they fail the test, unless
    the library's own filter (installed once on import, as users get it) silences them."""
    for item in items:
        if item.path.parent == HERE:
            item.add_marker(pytest.mark.filterwarnings("error::DeprecationWarning", *api.QUIET_FILTERS))
