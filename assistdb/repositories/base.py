"""What every repository shares: the API, the store, write-through, paging, typed local reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from openai import BaseModel as SdkModel
from openai import OpenAI

from assistdb.errors import InvalidInputError
from assistdb.repositories import api
from assistdb.repositories.validation import check_id
from assistdb.store import Store, StoredVersion
from assistdb.store.objects import ObjectType

if TYPE_CHECKING:
    from assistdb.repositories.facade import AssistDB

M = TypeVar("M", bound=SdkModel)

PAGE_SIZE = 100  # the API's largest page: the fewest requests per object


def thread_of(store: Store, object_id: str, thread_id: str | None) -> str:
    """The thread an object lives in: as given, or as the archive remembers it."""
    if thread_id is not None:
        return check_id("thread", thread_id)
    known = store.reader.thread_of(object_id)
    if known is None:
        raise InvalidInputError(
            f"the archive does not know which thread {object_id} belongs to",
            hint="pass thread_id (or --thread), or sync that thread first",
        )
    return known


class Repository(Generic[M]):
    """Base of the per-object repositories; ``model`` is the SDK type they return."""

    object_type: ObjectType
    model: type[M]

    def __init__(self, owner: AssistDB) -> None:
        self._owner = owner

    @property
    def _store(self) -> Store:
        return self._owner.store

    @property
    def _client(self) -> OpenAI:
        return self._owner.client

    def _record(self, *objects: SdkModel, track: tuple[str, ...] = ()) -> None:
        self._store.record([obj.to_dict() for obj in objects], track=track)

    def _typed(self, stored: StoredVersion) -> M:
        return self.model.construct(**stored.body)

    def _found(self, found: list[StoredVersion]) -> list[M]:
        """Typed objects for archive rows; a deleted object appears as it was when last seen."""
        typed = []
        for stored in found:
            live = self._store.reader.last_live(stored.object_id) if stored.tombstone else stored
            if live is not None:
                typed.append(self._typed(live))
        return typed

    def _thread_of(self, object_id: str, thread_id: str | None) -> str:
        return thread_of(self._store, object_id, thread_id)

    def _pages(self, list_method: Callable[..., Any], *args: Any, **params: Any) -> Iterator[M]:
        """Every object of a list endpoint from the given cursor on; each page is archived as it
        arrives, in one transaction, oldest first whatever the listing order: the archive orders
        objects created in the same second by arrival, so a newest-first page recorded as it
        came would read back reversed."""
        params = {key: value for key, value in params.items() if value is not None}
        params.setdefault("limit", PAGE_SIZE)
        newest_first = params.get("order", "desc") == "desc"  # the API lists newest first by default
        while True:
            page = api.call(list_method, *args, **params)
            items: list[M] = list(page.data)
            if items:
                self._record(*(reversed(items) if newest_first else items))
            yield from items
            if not items or not page.has_more:
                return
            last: Any = items[-1]
            params["after"] = last.id
            params.pop("before", None)

    def archived(self, object_id: str, *, include_deleted: bool = False) -> M | None:
        """The latest archived state of an object, without an API call; None if unknown, or if
        deleted (unless ``include_deleted``: then as it was when last seen)."""
        stored = self._store.reader.current(
            check_id(self.object_type, object_id), include_deleted=include_deleted
        )
        found = self._found([stored]) if stored is not None else []
        return found[0] if found else None

    def history(self, object_id: str) -> list[StoredVersion]:
        """Every archived version of an object, oldest first; a deleted object ends with a tombstone."""
        return self._store.reader.history(check_id(self.object_type, object_id))
