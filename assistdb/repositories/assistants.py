"""Assistants: the API's operations, written through to the archive (each assistant is a chain)."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from typing import Any

from openai.types.beta import Assistant, AssistantDeleted

from assistdb.repositories import api
from assistdb.repositories.base import Repository
from assistdb.repositories.validation import check_id, check_metadata
from assistdb.store import Filters


class AssistantsRepository(Repository[Assistant]):
    object_type = "assistant"
    model = Assistant

    def create(self, *, model: str, **params: Any) -> Assistant:
        check_metadata(params.get("metadata"))
        assistant = api.call(self._client.beta.assistants.create, model=model, **params)
        self._record(assistant)
        return assistant

    def retrieve(self, assistant_id: str) -> Assistant:
        assistant = api.call(self._client.beta.assistants.retrieve, check_id("assistant", assistant_id))
        self._record(assistant)
        return assistant

    def update(self, assistant_id: str, **params: Any) -> Assistant:
        check_metadata(params.get("metadata"))
        assistant = api.call(
            self._client.beta.assistants.update, check_id("assistant", assistant_id), **params
        )
        self._record(assistant)
        return assistant

    def delete(self, assistant_id: str) -> AssistantDeleted:
        deleted = api.call(self._client.beta.assistants.delete, check_id("assistant", assistant_id))
        self._store.record_deleted([assistant_id])
        return deleted

    def list(
        self,
        *,
        order: str = "desc",
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Iterator[Assistant]:
        """All assistants from the cursor on, fetched lazily, each page archived as it arrives."""
        return self._pages(
            self._client.beta.assistants.list, order=order, limit=limit, after=after, before=before
        )

    def find(
        self, *, metadata: Mapping[str, str] | None = None, include_deleted: bool = False
    ) -> builtins.list[Assistant]:
        """Archived assistants, oldest first, optionally with these metadata pairs."""
        found = self._store.reader.find(
            "assistant", Filters(metadata=metadata, include_deleted=include_deleted)
        )
        return self._found(found)
