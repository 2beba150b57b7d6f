"""Messages of a thread, written through to the thread's chain."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from openai.types.beta.threads import Message, MessageDeleted

from assistdb.repositories.base import (
    Face,
    Op,
    Paged,
    RepositoryOps,
    async_paged,
    awaitable_op,
    blocking,
    paged,
)
from assistdb.repositories.faces import Api, StoreWork
from assistdb.repositories.validation import check_id, check_metadata
from assistdb.store import Filters
from assistdb.store.queries import Order

if TYPE_CHECKING:
    from openai.types.beta.threads.message_content_part_param import MessageContentPartParam
    from openai.types.beta.threads.message_create_params import Attachment


class MessagesOps(RepositoryOps[Message]):
    object_type = "message"
    model = Message

    def create(
        self,
        thread_id: str,
        *,
        content: str | Iterable[MessageContentPartParam],
        role: Literal["user", "assistant"] = "user",
        attachments: Iterable[Attachment] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Op[Message]:
        """Add a message to a thread, from the user unless ``role="assistant"``."""
        check_id("thread", thread_id)
        check_metadata(metadata)
        params: dict[str, Any] = {"content": content, "role": role}
        if attachments is not None:
            params["attachments"] = attachments
        if metadata is not None:
            params["metadata"] = metadata
        message: Message = yield from self._call(
            lambda c: c.beta.threads.messages.create, thread_id, **params
        )
        return message

    def retrieve(self, message_id: str, *, thread_id: str | None = None) -> Op[Message]:
        check_id("message", message_id)
        thread = yield from self._thread_of(message_id, thread_id)
        message: Message = yield from self._call(
            lambda c: c.beta.threads.messages.retrieve, message_id, thread_id=thread
        )
        return message

    def update(
        self, message_id: str, *, thread_id: str | None = None, metadata: dict[str, str] | None = None
    ) -> Op[Message]:
        """Change a message's metadata (the only field the API lets change)."""
        check_id("message", message_id)
        check_metadata(metadata)
        thread = yield from self._thread_of(message_id, thread_id)
        message: Message = yield from self._call(
            lambda c: c.beta.threads.messages.update, message_id, thread_id=thread, metadata=metadata
        )
        return message

    def delete(self, message_id: str, *, thread_id: str | None = None) -> Op[MessageDeleted]:
        check_id("message", message_id)
        thread = yield from self._thread_of(message_id, thread_id)
        deleted: MessageDeleted = yield Api(
            lambda c: c.beta.threads.messages.delete, (message_id,), {"thread_id": thread}
        )
        yield StoreWork(lambda: self._store.record_deleted([message_id]))
        return deleted

    def list(
        self,
        thread_id: str,
        *,
        run_id: str | None = None,
        order: Literal["asc", "desc"] = "asc",
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Paged:
        """All messages of a thread from the cursor on, lazily, each page archived as it arrives."""
        return self._pages(
            lambda c: c.beta.threads.messages.list,
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
        include_deleted: bool = False,
        order: Order = "asc",
        limit: int | None = None,
        after: str | None = None,
    ) -> Op[builtins.list[Message]]:
        """A thread's archived messages in conversation order, without an API call."""
        filters = Filters(
            thread_id=check_id("thread", thread_id),
            run_id=check_id("run", run_id) if run_id else None,
            metadata=metadata,
            include_deleted=include_deleted,
        )
        return self._read(
            lambda: self._store.reader.find("message", filters, order=order, limit=limit, after=after)
        )


class MessagesRepository(Face):
    """Messages, blocking (``db.messages``)."""

    create = blocking(MessagesOps.create)
    retrieve = blocking(MessagesOps.retrieve)
    update = blocking(MessagesOps.update)
    delete = blocking(MessagesOps.delete)
    list = paged(MessagesOps.list, Message)
    find = blocking(MessagesOps.find)
    archived = blocking(MessagesOps.archived)
    history = blocking(MessagesOps.history)


class AsyncMessagesRepository(Face):
    """Messages under asyncio (``adb.messages``)."""

    create = awaitable_op(MessagesOps.create)
    retrieve = awaitable_op(MessagesOps.retrieve)
    update = awaitable_op(MessagesOps.update)
    delete = awaitable_op(MessagesOps.delete)
    list = async_paged(MessagesOps.list, Message)
    find = awaitable_op(MessagesOps.find)
    archived = awaitable_op(MessagesOps.archived)
    history = awaitable_op(MessagesOps.history)
