"""What every repository shares, written once for both faces: write-through, paging, typed local
reads (see :mod:`assistdb.repositories.faces` for how an operation becomes a method)."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from openai import BaseModel as SdkModel

from assistdb.errors import InvalidInputError
from assistdb.repositories.faces import Api, Emit, Face, Op, Paged, StoreWork, async_paged, blocking, paged
from assistdb.repositories.faces import awaitable as awaitable_op
from assistdb.repositories.validation import check_id
from assistdb.store import Filters, Store, StoredVersion
from assistdb.store.objects import ObjectType
from assistdb.store.queries import Order

M = TypeVar("M", bound=SdkModel)

PAGE_SIZE = 100  # the API's largest page: the fewest requests per object


@dataclass(frozen=True)
class ArchivedVersion(Generic[M]):
    """One archived version of an object: the SDK object as it was, its version number (1 is
    the first seen), when it was observed, and whether this version is the deletion's tombstone."""

    object: M
    version: int
    observed_at: datetime
    tombstone: bool
    body: dict[str, Any]  # the exact JSON as the API sent it


def thread_of(store: Store, object_id: str, thread_id: str | None) -> str:
    """The thread an object lives in: as given, or as the archive remembers it."""
    if thread_id is not None:
        return check_id("thread", thread_id)
    known = store.reader.thread_of(object_id)
    if known is None:
        raise InvalidInputError(
            f"the archive does not know which thread {object_id} belongs to",
            hint="pass thread_id, or sync that thread first",
        )
    return known


class RepositoryOps(Generic[M]):
    """The operations of one repository, written once; ``model`` is the SDK type they return."""

    object_type: ObjectType
    model: type[M]

    def __init__(self, store: Store) -> None:
        self._store = store

    def _record(self, *objects: SdkModel, track: tuple[str, ...] = ()) -> Op[None]:
        bodies = [obj.to_dict() for obj in objects]
        yield StoreWork(lambda: self._store.record(bodies, track=track))

    def _call(self, pick: Callable[[Any], Callable[..., Any]], *args: Any, **kwargs: Any) -> Op[Any]:
        """Call the API and archive the object it answers with."""
        result = yield Api(pick, args, kwargs)
        yield from self._record(result)
        return result

    def _typed(self, stored: StoredVersion) -> M:
        return self.model.construct(**stored.body)

    def _found(self, found: builtins.list[StoredVersion]) -> builtins.list[M]:
        """Typed objects for archive rows; a deleted object appears as it was when last seen."""
        typed = []
        for stored in found:
            live = self._store.reader.last_live(stored.object_id) if stored.tombstone else stored
            if live is not None:
                typed.append(self._typed(live))
        return typed

    def _read(self, read: Callable[[], builtins.list[StoredVersion]]) -> Op[builtins.list[M]]:
        """Archive rows as typed objects, read where the face does blocking work."""
        found: builtins.list[M] = yield StoreWork(lambda: self._found(read()))
        return found

    def _thread_of(self, object_id: str, thread_id: str | None) -> Op[str]:
        if thread_id is not None:
            return check_id("thread", thread_id)
        known: str = yield StoreWork(lambda: thread_of(self._store, object_id, None))
        return known

    def _pages(self, pick: Callable[[Any], Callable[..., Any]], *args: Any, **params: Any) -> Paged:
        """Every object of a list endpoint from the given cursor on; each page is archived as it
        arrives, in one transaction, oldest first whatever the listing order: the archive orders
        objects created in the same second by arrival, so a newest-first page recorded as it came
        would read back reversed."""
        params = {key: value for key, value in params.items() if value is not None}
        params.setdefault("limit", PAGE_SIZE)
        newest_first = params.get("order", "desc") == "desc"
        while True:
            page = yield Api(pick, args, dict(params))
            items: builtins.list[M] = builtins.list(page.data)
            if items:
                yield from self._record(*(reversed(items) if newest_first else items))
            yield Emit(items)
            if not items or not page.has_more:
                return
            last: Any = items[-1]
            params["after"] = last.id
            params.pop("before", None)

    def archived(self, object_id: str, *, include_deleted: bool = False) -> Op[M | None]:
        """The latest archived state of an object, without an API call; None if unknown, or if
        deleted (unless ``include_deleted``: then as it was when last seen)."""
        check_id(self.object_type, object_id)

        def read() -> builtins.list[StoredVersion]:
            stored = self._store.reader.current(object_id, include_deleted=include_deleted)
            return [stored] if stored is not None else []

        found = yield from self._read(read)
        return found[0] if found else None

    def history(self, object_id: str) -> Op[builtins.list[ArchivedVersion[M]]]:
        """Every archived version of an object, oldest first; a deleted object ends with a tombstone."""
        check_id(self.object_type, object_id)
        stored: builtins.list[StoredVersion] = yield StoreWork(lambda: self._store.reader.history(object_id))
        versions = []
        for row in stored:
            body = row.body
            versions.append(
                ArchivedVersion(
                    object=self.model.construct(**body),
                    version=row.version,
                    observed_at=row.observed_at,
                    tombstone=row.tombstone,
                    body=body,
                )
            )
        return versions


class StandaloneOps(RepositoryOps[M]):
    """Operations of objects that are a chain of their own (assistants, vector stores), found
    in the archive by metadata."""

    def find(
        self,
        *,
        metadata: Mapping[str, str] | None = None,
        include_deleted: bool = False,
        order: Order = "asc",
        limit: int | None = None,
    ) -> Op[builtins.list[M]]:
        """Archived objects of this kind, optionally with these metadata pairs, without an API call."""
        filters = Filters(metadata=metadata, include_deleted=include_deleted)
        return self._read(
            lambda: self._store.reader.find(self.object_type, filters, order=order, limit=limit)
        )


__all__ = [
    "PAGE_SIZE",
    "ArchivedVersion",
    "Face",
    "Op",
    "Paged",
    "RepositoryOps",
    "StandaloneOps",
    "async_paged",
    "awaitable_op",
    "blocking",
    "paged",
    "thread_of",
]
