"""``AsyncAssistDB``: the core of the API for asyncio apps built on ``AsyncOpenAI``.

It covers what an app needs to hold a conversation: threads, messages and runs, with runs driven
to their end by the asyncio run engine. Like :class:`AssistDB`, everything it sees is archived;
the archive is the same blocking :class:`Store`, called from worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Literal

from openai import AsyncOpenAI
from openai import BaseModel as SdkModel
from openai.types.beta import Thread
from openai.types.beta.threads import Message, Run

from assistdb.client import ClientSettings, make_async_client
from assistdb.repositories import api
from assistdb.repositories.base import PAGE_SIZE, thread_of
from assistdb.repositories.validation import check_id, check_metadata
from assistdb.runner.async_engine import AsyncRunEngine
from assistdb.runner.driving import ToolsArgument
from assistdb.store import Store


class AsyncAssistDB:
    """The asyncio twin of :class:`AssistDB` for threads, messages and runs.

    ``database_url`` as for :class:`AssistDB` (the database is opened and migrated here, once);
    ``client`` is an ``AsyncOpenAI`` client, built from the environment when first needed.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        client: AsyncOpenAI | None = None,
        client_settings: ClientSettings | None = None,
    ) -> None:
        self.store = Store(database_url)
        self._client = client
        self._client_settings = client_settings
        self.threads = AsyncThreads(self)
        self.messages = AsyncMessages(self)
        self.runs = AsyncRuns(self)

    @property
    def client(self) -> AsyncOpenAI:
        if self._client is None:
            self._client = make_async_client(self._client_settings)
        return self._client

    async def record(self, *objects: SdkModel, track: Sequence[str] = ()) -> None:
        """Archive API objects without blocking the event loop."""
        bodies = [obj.to_dict() for obj in objects]
        await asyncio.to_thread(lambda: self.store.record(bodies, track=track))

    async def archive_results(self, run_id: str, *, thread_id: str) -> None:
        """Archive every step of a run and every message it created."""
        steps = self.client.beta.threads.runs.steps
        await self._archive_pages(steps.list, run_id, thread_id=thread_id, order="asc")
        messages = self.client.beta.threads.messages
        await self._archive_pages(messages.list, thread_id, run_id=run_id, order="asc")

    async def _archive_pages(self, list_method: Callable[..., Any], *args: Any, **params: Any) -> None:
        params["limit"] = PAGE_SIZE
        while True:
            page = await api.acall(list_method, *args, **params)
            items = list(page.data)
            if items:
                await self.record(*items)
            if not items or not page.has_more:
                return
            params["after"] = items[-1].id

    async def close(self) -> None:
        await asyncio.to_thread(self.store.close)

    async def __aenter__(self) -> AsyncAssistDB:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class _AsyncRepository:
    def __init__(self, owner: AsyncAssistDB) -> None:
        self._owner = owner


class AsyncThreads(_AsyncRepository):
    async def create(self, **params: Any) -> Thread:
        """Create a thread (optionally with ``messages``) and start tracking it."""
        check_metadata(params.get("metadata"))
        for message in params.get("messages") or ():
            check_metadata(message.get("metadata"))
        client = self._owner.client
        thread: Thread = await api.acall(client.beta.threads.create, **params)
        created: list[SdkModel] = [thread]
        if params.get("messages"):
            page = await api.acall(client.beta.threads.messages.list, thread.id, order="asc", limit=PAGE_SIZE)
            created.extend(page.data)
        await self._owner.record(*created, track=(thread.id,))
        return thread


class AsyncMessages(_AsyncRepository):
    async def create(
        self, thread_id: str, *, content: Any, role: Literal["user", "assistant"] = "user", **params: Any
    ) -> Message:
        check_metadata(params.get("metadata"))
        message: Message = await api.acall(
            self._owner.client.beta.threads.messages.create,
            check_id("thread", thread_id),
            content=content,
            role=role,
            **params,
        )
        await self._owner.record(message)
        return message


class AsyncRuns(_AsyncRepository):
    async def create(self, thread_id: str, *, assistant_id: str, **params: Any) -> Run:
        check_metadata(params.get("metadata"))
        run: Run = await api.acall(
            self._owner.client.beta.threads.runs.create,
            check_id("thread", thread_id),
            assistant_id=check_id("assistant", assistant_id),
            **params,
        )
        await self._owner.record(run)
        return run

    async def retrieve(self, run_id: str, *, thread_id: str | None = None) -> Run:
        check_id("run", run_id)
        run: Run = await api.acall(
            self._owner.client.beta.threads.runs.retrieve,
            run_id,
            thread_id=await self._thread_of(run_id, thread_id),
        )
        await self._owner.record(run)
        return run

    async def cancel(self, run_id: str, *, thread_id: str | None = None) -> Run:
        check_id("run", run_id)
        run: Run = await api.acall(
            self._owner.client.beta.threads.runs.cancel,
            run_id,
            thread_id=await self._thread_of(run_id, thread_id),
        )
        await self._owner.record(run)
        return run

    async def create_and_wait(
        self,
        thread_id: str,
        *,
        assistant_id: str,
        tools: ToolsArgument = None,
        timeout: float | None = None,
        cancel_on_timeout: bool = True,
        stream: bool = False,
        on_event: Callable[[Any], None] | None = None,
        **create_params: Any,
    ) -> Run:
        """Create a run and drive it to its end (see :meth:`wait`); with ``stream=True``,
        ``on_event`` sees each event as it arrives (text deltas, to show a reply as it comes)."""
        check_metadata(create_params.get("metadata"))
        return await AsyncRunEngine(self._owner, on_event=on_event).create_and_wait(
            check_id("thread", thread_id),
            assistant_id=check_id("assistant", assistant_id),
            tools=tools,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            stream=stream,
            **create_params,
        )

    async def wait(
        self,
        run_id: str,
        *,
        thread_id: str | None = None,
        tools: ToolsArgument = None,
        timeout: float | None = None,
        cancel_on_timeout: bool = True,
        stream: bool = False,
    ) -> Run:
        """Drive a run to a terminal status, as :meth:`AssistDB.runs.wait` does. Cancelling the
        awaiting task cancels the run too, then the ``CancelledError`` goes on."""
        check_id("run", run_id)
        return await AsyncRunEngine(self._owner).wait(
            run_id,
            thread_id=await self._thread_of(run_id, thread_id),
            tools=tools,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            stream=stream,
        )

    async def _thread_of(self, run_id: str, thread_id: str | None) -> str:
        return await asyncio.to_thread(thread_of, self._owner.store, run_id, thread_id)
