"""``AssistDB``: one object that holds the archive and the API client and hands out repositories."""

from __future__ import annotations

from types import TracebackType

from openai import OpenAI

from assistdb.client import ClientSettings, make_client
from assistdb.repositories.assistants import AssistantsRepository
from assistdb.repositories.messages import MessagesRepository
from assistdb.repositories.runs import RunsRepository
from assistdb.repositories.steps import RunStepsRepository
from assistdb.repositories.threads import ThreadsRepository
from assistdb.store import Store


class AssistDB:
    """The Assistants API through the official SDK, with every object seen kept in the archive.

    ``database_url`` is any SQLAlchemy URL (default: ``ASSISTDB_DATABASE_URL`` or a SQLite file
    in the user data folder). ``client`` is an ``openai.OpenAI`` client; without one, a client is
    built from the environment the first time the API is needed, so archive-only reads work
    without a key. ``store`` shares an archive already open (``database_url`` is then ignored).
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        client: OpenAI | None = None,
        client_settings: ClientSettings | None = None,
        store: Store | None = None,
    ) -> None:
        self.store = store if store is not None else Store(database_url)
        self._client = client
        self._client_settings = client_settings
        self.assistants = AssistantsRepository(self)
        self.threads = ThreadsRepository(self)
        self.messages = MessagesRepository(self)
        self.runs = RunsRepository(self)
        self.steps = RunStepsRepository(self)

    @classmethod
    def from_env(cls) -> AssistDB:
        """Database from ``ASSISTDB_DATABASE_URL``, client from ``OPENAI_*``/``AZURE_OPENAI_*``."""
        return cls()

    @property
    def client(self) -> OpenAI:
        if self._client is None:
            self._client = make_client(self._client_settings)
        return self._client

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> AssistDB:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
