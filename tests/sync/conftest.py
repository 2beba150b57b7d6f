"""Fixtures of the sync tests: an archive on each backend, with a client of the local server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistdb import AssistDB
from assistdb.server import LocalServer


@pytest.fixture
def db(database_url: str, assistdb_server: LocalServer) -> Iterator[AssistDB]:
    archive = AssistDB(database_url, client=assistdb_server.client())
    yield archive
    archive.close()
