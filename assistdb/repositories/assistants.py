"""Assistants: the API's operations, written through to the archive (each assistant is a chain)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from openai.types.beta import Assistant, AssistantDeleted
from typing_extensions import Unpack

from assistdb.repositories.base import (
    Face,
    Op,
    Paged,
    StandaloneOps,
    async_paged,
    awaitable_op,
    blocking,
    paged,
)
from assistdb.repositories.faces import Api, StoreWork
from assistdb.repositories.validation import check_id, check_metadata

if TYPE_CHECKING:
    from openai.types.beta.assistant_create_params import AssistantCreateParams
    from openai.types.beta.assistant_update_params import AssistantUpdateParams


class AssistantsOps(StandaloneOps[Assistant]):
    object_type = "assistant"
    model = Assistant

    def create(self, **params: Unpack[AssistantCreateParams]) -> Op[Assistant]:
        check_metadata(params.get("metadata"))
        assistant: Assistant = yield from self._call(lambda c: c.beta.assistants.create, **params)
        return assistant

    def retrieve(self, assistant_id: str) -> Op[Assistant]:
        check_id("assistant", assistant_id)
        assistant: Assistant = yield from self._call(lambda c: c.beta.assistants.retrieve, assistant_id)
        return assistant

    def update(self, assistant_id: str, **params: Unpack[AssistantUpdateParams]) -> Op[Assistant]:
        check_id("assistant", assistant_id)
        check_metadata(params.get("metadata"))
        assistant: Assistant = yield from self._call(
            lambda c: c.beta.assistants.update, assistant_id, **params
        )
        return assistant

    def delete(self, assistant_id: str) -> Op[AssistantDeleted]:
        check_id("assistant", assistant_id)
        deleted: AssistantDeleted = yield Api(lambda c: c.beta.assistants.delete, (assistant_id,))
        yield StoreWork(lambda: self._store.record_deleted([assistant_id]))
        return deleted

    def list(
        self,
        *,
        order: Literal["asc", "desc"] = "asc",
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Paged:
        """All assistants from the cursor on, fetched lazily, each page archived as it arrives."""
        return self._pages(
            lambda c: c.beta.assistants.list, order=order, limit=limit, after=after, before=before
        )


class AssistantsRepository(Face):
    """Assistants, blocking (``db.assistants``)."""

    create = blocking(AssistantsOps.create)
    retrieve = blocking(AssistantsOps.retrieve)
    update = blocking(AssistantsOps.update)
    delete = blocking(AssistantsOps.delete)
    list = paged(AssistantsOps.list, Assistant)
    find = blocking(AssistantsOps.find)
    archived = blocking(AssistantsOps.archived)
    history = blocking(AssistantsOps.history)


class AsyncAssistantsRepository(Face):
    """Assistants under asyncio (``adb.assistants``)."""

    create = awaitable_op(AssistantsOps.create)
    retrieve = awaitable_op(AssistantsOps.retrieve)
    update = awaitable_op(AssistantsOps.update)
    delete = awaitable_op(AssistantsOps.delete)
    list = async_paged(AssistantsOps.list, Assistant)
    find = awaitable_op(AssistantsOps.find)
    archived = awaitable_op(AssistantsOps.archived)
    history = awaitable_op(AssistantsOps.history)
