"""Messages of a thread, written through to the thread's chain."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from openai.types.beta.threads import Message, MessageDeleted

from assistdb.repositories import api
from assistdb.repositories.base import Repository
from assistdb.repositories.validation import check_id, check_metadata
from assistdb.store import Filters
from assistdb.store.queries import Order


class MessagesRepository(Repository[Message]):
    object_type = "message"
    model = Message

    def create(
        self, thread_id: str, *, content: Any, role: Literal["user", "assistant"] = "user", **params: Any
    ) -> Message:
        check_metadata(params.get("metadata"))
        message = api.call(
            self._client.beta.threads.messages.create,
            check_id("thread", thread_id),
            content=content,
            role=role,
            **params,
        )
        self._record(message)
        return message

    def retrieve(self, message_id: str, *, thread_id: str | None = None) -> Message:
        check_id("message", message_id)
        message = api.call(
            self._client.beta.threads.messages.retrieve,
            message_id,
            thread_id=self._thread_of(message_id, thread_id),
        )
        self._record(message)
        return message

    def update(self, message_id: str, *, thread_id: str | None = None, **params: Any) -> Message:
        check_id("message", message_id)
        check_metadata(params.get("metadata"))
        message = api.call(
            self._client.beta.threads.messages.update,
            message_id,
            thread_id=self._thread_of(message_id, thread_id),
            **params,
        )
        self._record(message)
        return message

    def delete(self, message_id: str, *, thread_id: str | None = None) -> MessageDeleted:
        check_id("message", message_id)
        deleted = api.call(
            self._client.beta.threads.messages.delete,
            message_id,
            thread_id=self._thread_of(message_id, thread_id),
        )
        self._store.record_deleted([message_id])
        return deleted

    def list(
        self,
        thread_id: str,
        *,
        order: str = "desc",
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        run_id: str | None = None,
    ) -> Iterator[Message]:
        """All messages of a thread from the cursor on, lazily, each page archived as it arrives."""
        return self._pages(
            self._client.beta.threads.messages.list,
            check_id("thread", thread_id),
            order=order,
            limit=limit,
            after=after,
            before=before,
            run_id=check_id("run", run_id) if run_id else None,
        )

    def find(
        self,
        thread_id: str,
        *,
        run_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        order: Order = "asc",
        limit: int | None = None,
        after: str | None = None,
        include_deleted: bool = False,
    ) -> builtins.list[Message]:
        """A thread's archived messages in conversation order, without an API call."""
        filters = Filters(
            thread_id=check_id("thread", thread_id),
            run_id=run_id,
            metadata=metadata,
            include_deleted=include_deleted,
        )
        found = self._store.reader.find("message", filters, order=order, limit=limit, after=after)
        return self._found(found)
