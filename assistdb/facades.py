"""The two faces of the library: :class:`AssistDB` (blocking, ``openai.OpenAI``) and
:class:`AsyncAssistDB` (asyncio, ``openai.AsyncOpenAI``).

Both wire the same repository operations and the same run engine (the engine is handed to the
runs repository here, so repositories never import the engine); they differ only in the
interpreter that performs I/O (:mod:`assistdb.repositories.faces`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from openai import AsyncOpenAI, OpenAI
from typing_extensions import Unpack

from assistdb.client import ClientSettings, make_async_client, make_client
from assistdb.repositories.assistants import AssistantsOps, AssistantsRepository, AsyncAssistantsRepository
from assistdb.repositories.conversation import AsyncThreadHandle, ThreadHandle, ThreadOps
from assistdb.repositories.faces import AsyncIO, BlockingIO
from assistdb.repositories.files import AsyncFilesRepository, FilesOps, FilesRepository
from assistdb.repositories.messages import AsyncMessagesRepository, MessagesOps, MessagesRepository
from assistdb.repositories.runs import AsyncRunsRepository, RunsOps, RunsRepository
from assistdb.repositories.steps import AsyncRunStepsRepository, RunStepsOps, RunStepsRepository
from assistdb.repositories.threads import AsyncThreadsRepository, ThreadsOps, ThreadsRepository
from assistdb.repositories.validation import check_id
from assistdb.repositories.vector_stores import (
    AsyncVectorStoresRepository,
    VectorStoresOps,
    VectorStoresRepository,
)
from assistdb.runner.engine import RunEngine
from assistdb.runner.rules.durations import DurationBook
from assistdb.store import Store

if TYPE_CHECKING:
    from openai.types.beta.thread_create_params import ThreadCreateParams


class _Operations:
    """Every repository's operations over one store, and the run engine wired into the runs."""

    def __init__(self, store: Store, book: DurationBook | None) -> None:
        self.assistants = AssistantsOps(store)
        self.threads = ThreadsOps(store)
        self.messages = MessagesOps(store)
        self.steps = RunStepsOps(store)
        self.engine = RunEngine(store, steps=self.steps, messages=self.messages, book=book)
        self.runs = RunsOps(store, self.engine)
        self.files = FilesOps(store)
        self.vector_stores = VectorStoresOps(store)

    def thread(self, thread_id: str) -> ThreadOps:
        return ThreadOps(check_id("thread", thread_id), self.messages, self.runs)


class AssistDB:
    """The Assistants API through the official SDK, with every object seen kept in the archive.

    ``database_url`` is any SQLAlchemy URL (default: ``ASSISTDB_DATABASE_URL`` or a SQLite file
    in the user data folder). ``client`` is an ``openai.OpenAI`` client; without one, a client is
    built from the environment the first time the API is needed, so archive-only reads work
    without a key. ``store`` shares an archive already open (``database_url`` is then ignored).
    ``sleep`` is how the run engine waits between polls (replaceable in tests).
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        client: OpenAI | None = None,
        client_settings: ClientSettings | None = None,
        store: Store | None = None,
        durations: DurationBook | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store if store is not None else Store(database_url)
        self._client = client
        self._client_settings = client_settings
        self._ops = ops = _Operations(self.store, durations)
        self._io = io = BlockingIO(lambda: self.client, sleep=sleep)
        self.assistants = AssistantsRepository(ops.assistants, io)
        self.threads = ThreadsRepository(ops.threads, io)
        self.messages = MessagesRepository(ops.messages, io)
        self.runs = RunsRepository(ops.runs, io)
        self.steps = RunStepsRepository(ops.steps, io)
        self.files = FilesRepository(ops.files, io)
        self.vector_stores = VectorStoresRepository(ops.vector_stores, io)

    @classmethod
    def from_env(cls) -> AssistDB:
        """Database from ``ASSISTDB_DATABASE_URL``, client from ``OPENAI_*``/``AZURE_OPENAI_*``."""
        return cls()

    @property
    def client(self) -> OpenAI:
        if self._client is None:
            self._client = make_client(self._client_settings)
        return self._client

    @property
    def durations(self) -> DurationBook:
        """What this archive's run engine learnt about how long runs take."""
        return self._ops.engine.book

    def thread(self, thread_id: str) -> ThreadHandle:
        """A handle on an existing thread (no API call)."""
        return ThreadHandle(self._ops.thread(thread_id), self._io)

    def new_thread(self, **params: Unpack[ThreadCreateParams]) -> ThreadHandle:
        """Create a thread (see ``threads.create``) and return a handle on it."""
        return self.thread(self.threads.create(**params).id)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> AssistDB:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncAssistDB:
    """:class:`AssistDB` for asyncio apps: the same repositories and methods, awaited, with an
    ``AsyncOpenAI`` client; archive reads and writes run in worker threads, off the event loop.

    ``database_url`` as for :class:`AssistDB` (the database is opened and migrated here, once);
    ``client`` is an ``AsyncOpenAI`` client, built from the environment when first needed.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        client: AsyncOpenAI | None = None,
        client_settings: ClientSettings | None = None,
        store: Store | None = None,
        durations: DurationBook | None = None,
    ) -> None:
        self.store = store if store is not None else Store(database_url)
        self._client = client
        self._client_settings = client_settings
        self._ops = ops = _Operations(self.store, durations)
        self._io = io = AsyncIO(lambda: self.client)
        self.assistants = AsyncAssistantsRepository(ops.assistants, io)
        self.threads = AsyncThreadsRepository(ops.threads, io)
        self.messages = AsyncMessagesRepository(ops.messages, io)
        self.runs = AsyncRunsRepository(ops.runs, io)
        self.steps = AsyncRunStepsRepository(ops.steps, io)
        self.files = AsyncFilesRepository(ops.files, io)
        self.vector_stores = AsyncVectorStoresRepository(ops.vector_stores, io)

    @classmethod
    def from_env(cls) -> AsyncAssistDB:
        """Database from ``ASSISTDB_DATABASE_URL``, client from ``OPENAI_*``/``AZURE_OPENAI_*``."""
        return cls()

    @property
    def client(self) -> AsyncOpenAI:
        if self._client is None:
            self._client = make_async_client(self._client_settings)
        return self._client

    @property
    def durations(self) -> DurationBook:
        """What this archive's run engine learnt about how long runs take."""
        return self._ops.engine.book

    def thread(self, thread_id: str) -> AsyncThreadHandle:
        """A handle on an existing thread (no API call)."""
        return AsyncThreadHandle(self._ops.thread(thread_id), self._io)

    async def new_thread(self, **params: Unpack[ThreadCreateParams]) -> AsyncThreadHandle:
        """Create a thread (see ``threads.create``) and return a handle on it."""
        return self.thread((await self.threads.create(**params)).id)

    async def close(self) -> None:
        await asyncio.to_thread(self.store.close)

    async def __aenter__(self) -> AsyncAssistDB:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
