"""The two faces of the library as one fixture: ``it`` runs a test against ``AssistDB`` and
``AsyncAssistDB``, on SQLite and PostgreSQL, against the local server over HTTP."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, TypeVar

import pytest

from assistdb import AssistDB, AsyncAssistDB
from assistdb.server import LocalServer

T = TypeVar("T")


class Either:
    """One face of the library, called the same way from a test: ``it(db.x.y(...))`` gives the
    result whether the face returned it or an awaitable, ``items(...)`` drains either iterator."""

    def __init__(self, db: AssistDB | AsyncAssistDB, loop: asyncio.AbstractEventLoop | None) -> None:
        self.db: Any = db
        self._loop = loop

    def __call__(self, value: T | Awaitable[T]) -> T:
        if self._loop is None:
            assert not inspect.isawaitable(value)
            return value  # type: ignore[return-value]
        assert inspect.isawaitable(value), "the asyncio face must return awaitables"
        return self._loop.run_until_complete(value)  # type: ignore[arg-type]

    def items(self, listing: Iterator[T] | AsyncIterator[T]) -> list[T]:
        if self._loop is None:
            assert isinstance(listing, Iterator)
            return list(listing)
        assert isinstance(listing, AsyncIterator)

        async def drain() -> list[T]:
            return [item async for item in listing]

        return self._loop.run_until_complete(drain())


@pytest.fixture(params=["blocking", "asyncio"])
def it(request: pytest.FixtureRequest, database_url: str, assistdb_server: LocalServer) -> Iterator[Either]:
    if request.param == "blocking":
        with AssistDB(database_url, client=assistdb_server.client()) as db:
            yield Either(db, None)
        return
    loop = asyncio.new_event_loop()
    adb = AsyncAssistDB(database_url, client=assistdb_server.async_client())
    try:
        yield Either(adb, loop)
    finally:
        loop.run_until_complete(adb.close())
        loop.run_until_complete(adb.client.close())
        loop.close()
