"""Vector stores: the API's operations, written through to the archive (each store is a chain).

A store's files (the API's ``vector_store.file``: which file, its status, attributes, chunking
strategy, usage and last error) are archived in the store's chain under ``STORE_ID/FILE_ID``
(:func:`~assistdb.store.objects.link_id`), whenever an operation here returns them; removing one
records a tombstone, and so does deleting its store or its file. That is what lets ``restore``
bring a store back with its files. The store itself is archived again after its files change,
with its new ``file_counts`` and status. Search results are answers, not objects: not archived.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from openai.types import VectorStore, VectorStoreDeleted, VectorStoreSearchResponse
from openai.types.vector_stores import VectorStoreFile, VectorStoreFileBatch, VectorStoreFileDeleted
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
from assistdb.repositories.faces import Api, Pause, StoreWork
from assistdb.repositories.validation import check_id, check_metadata
from assistdb.store import Filters
from assistdb.store.objects import link_id

if TYPE_CHECKING:
    from openai.types import FileChunkingStrategyParam
    from openai.types.vector_store_create_params import VectorStoreCreateParams
    from openai.types.vector_store_search_params import VectorStoreSearchParams
    from openai.types.vector_store_update_params import VectorStoreUpdateParams

#: How often ``add_files`` asks whether a batch is done (the SDK's own helpers poll at 1 s).
BATCH_POLL_SECONDS = 0.25


class VectorStoresOps(StandaloneOps[VectorStore]):
    object_type = "vector_store"
    model = VectorStore

    def create(self, **params: Unpack[VectorStoreCreateParams]) -> Op[VectorStore]:
        check_metadata(params.get("metadata"))
        for file_id in params.get("file_ids") or ():
            check_id("file", file_id)
        store: VectorStore = yield from self._call(lambda c: c.vector_stores.create, **params)
        return store

    def retrieve(self, vector_store_id: str) -> Op[VectorStore]:
        check_id("vector_store", vector_store_id)
        store: VectorStore = yield from self._call(lambda c: c.vector_stores.retrieve, vector_store_id)
        return store

    def update(self, vector_store_id: str, **params: Unpack[VectorStoreUpdateParams]) -> Op[VectorStore]:
        check_id("vector_store", vector_store_id)
        check_metadata(params.get("metadata"))
        store: VectorStore = yield from self._call(
            lambda c: c.vector_stores.update, vector_store_id, **params
        )
        return store

    def delete(self, vector_store_id: str) -> Op[VectorStoreDeleted]:
        """Delete remotely (its files stay); the archive keeps its history and a tombstone."""
        check_id("vector_store", vector_store_id)
        deleted: VectorStoreDeleted = yield Api(lambda c: c.vector_stores.delete, (vector_store_id,))
        yield StoreWork(lambda: self._store.record_deleted([vector_store_id]))
        return deleted

    def list(
        self,
        *,
        order: Literal["asc", "desc"] = "asc",
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Paged:
        """All vector stores from the cursor on, fetched lazily, each page archived."""
        return self._pages(
            lambda c: c.vector_stores.list, order=order, limit=limit, after=after, before=before
        )

    def add_files(
        self,
        vector_store_id: str,
        file_ids: Sequence[str],
        *,
        attributes: Mapping[str, str | float | bool] | None = None,
    ) -> Op[VectorStoreFileBatch]:
        """Add files (already uploaded) as one batch and wait until the batch is processed; the
        store is archived as it then is. A file that failed is counted in ``file_counts``."""
        check_id("vector_store", vector_store_id)
        for file_id in file_ids:
            check_id("file", file_id)
        params: dict[str, Any] = {"file_ids": builtins.list(file_ids)}
        if attributes is not None:
            params["attributes"] = dict(attributes)
        batch: VectorStoreFileBatch = yield Api(
            lambda c: c.vector_stores.file_batches.create, (vector_store_id,), params
        )
        while batch.status == "in_progress":
            yield Pause(BATCH_POLL_SECONDS)
            batch = yield Api(
                lambda c: c.vector_stores.file_batches.retrieve,
                (batch.id,),
                {"vector_store_id": vector_store_id},
            )
        params = {"vector_store_id": vector_store_id, "limit": 100}
        while True:  # the batch's files, as processed, archived a page at a time
            page = yield Api(lambda c: c.vector_stores.file_batches.list_files, (batch.id,), dict(params))
            if page.data:
                yield from self._record(*page.data)
            if not page.data or not page.has_more:
                break
            params["after"] = page.data[-1].id
        yield from self._call(lambda c: c.vector_stores.retrieve, vector_store_id)
        return batch

    def add_file(
        self,
        vector_store_id: str,
        file_id: str,
        *,
        attributes: Mapping[str, str | float | bool] | None = None,
        chunking_strategy: FileChunkingStrategyParam | None = None,
    ) -> Op[VectorStoreFile]:
        """Add one file (already uploaded) and wait until it is processed; the vector store file
        and the store are archived as they then are."""
        check_id("vector_store", vector_store_id)
        check_id("file", file_id)
        params: dict[str, Any] = {"file_id": file_id}
        if attributes is not None:
            params["attributes"] = dict(attributes)
        if chunking_strategy is not None:
            params["chunking_strategy"] = chunking_strategy
        link: VectorStoreFile = yield Api(lambda c: c.vector_stores.files.create, (vector_store_id,), params)
        while link.status == "in_progress":
            yield Pause(BATCH_POLL_SECONDS)
            link = yield Api(
                lambda c: c.vector_stores.files.retrieve, (file_id,), {"vector_store_id": vector_store_id}
            )
        yield from self._record(link)
        yield from self._call(lambda c: c.vector_stores.retrieve, vector_store_id)
        return link

    def file(self, vector_store_id: str, file_id: str) -> Op[VectorStoreFile]:
        """One file of a store, with its processing status (archived)."""
        check_id("vector_store", vector_store_id)
        check_id("file", file_id)
        link: VectorStoreFile = yield from self._call(
            lambda c: c.vector_stores.files.retrieve, file_id, vector_store_id=vector_store_id
        )
        return link

    def update_file(
        self, vector_store_id: str, file_id: str, *, attributes: Mapping[str, str | float | bool] | None
    ) -> Op[VectorStoreFile]:
        """Replace a store file's attributes (what search filters match)."""
        check_id("vector_store", vector_store_id)
        check_id("file", file_id)
        link: VectorStoreFile = yield from self._call(
            lambda c: c.vector_stores.files.update,
            file_id,
            vector_store_id=vector_store_id,
            attributes=None if attributes is None else dict(attributes),
        )
        return link

    def remove_file(self, vector_store_id: str, file_id: str) -> Op[VectorStoreFileDeleted]:
        """Take a file out of a store (the file itself stays); the archive records a tombstone
        for the link and the store as it then is."""
        check_id("vector_store", vector_store_id)
        check_id("file", file_id)
        deleted: VectorStoreFileDeleted = yield Api(
            lambda c: c.vector_stores.files.delete, (file_id,), {"vector_store_id": vector_store_id}
        )
        yield StoreWork(lambda: self._store.record_deleted([link_id(vector_store_id, file_id)]))
        yield from self._call(lambda c: c.vector_stores.retrieve, vector_store_id)
        return deleted

    def files(
        self,
        vector_store_id: str,
        *,
        filter: Literal["in_progress", "completed", "failed", "cancelled"] | None = None,
        order: Literal["asc", "desc"] = "asc",
        limit: int | None = None,
        after: str | None = None,
    ) -> Paged:
        """The files in a store, with their processing status, each page archived."""
        check_id("vector_store", vector_store_id)
        return self._pages(
            lambda c: c.vector_stores.files.list,
            vector_store_id,
            filter=filter,
            order=order,
            limit=limit,
            after=after,
        )

    def archived_files(self, vector_store_id: str) -> Op[builtins.list[VectorStoreFile]]:
        """The files a store held when the archive last saw them, oldest first (no API call)."""
        check_id("vector_store", vector_store_id)

        def read() -> builtins.list[VectorStoreFile]:
            found = self._store.reader.find("vs_file", Filters(vector_store_id=vector_store_id))
            return [VectorStoreFile.construct(**stored.body) for stored in found]

        links: builtins.list[VectorStoreFile] = yield StoreWork(read)
        return links

    def search(
        self, vector_store_id: str, **params: Unpack[VectorStoreSearchParams]
    ) -> Op[builtins.list[VectorStoreSearchResponse]]:
        """The store's best chunks for a query, best first (not archived)."""
        check_id("vector_store", vector_store_id)
        page = yield Api(lambda c: c.vector_stores.search, (vector_store_id,), dict(params))
        return builtins.list(page.data)


class VectorStoresRepository(Face):
    """Vector stores, blocking (``db.vector_stores``)."""

    create = blocking(VectorStoresOps.create)
    retrieve = blocking(VectorStoresOps.retrieve)
    update = blocking(VectorStoresOps.update)
    delete = blocking(VectorStoresOps.delete)
    list = paged(VectorStoresOps.list, VectorStore)
    add_files = blocking(VectorStoresOps.add_files)
    add_file = blocking(VectorStoresOps.add_file)
    file = blocking(VectorStoresOps.file)
    update_file = blocking(VectorStoresOps.update_file)
    remove_file = blocking(VectorStoresOps.remove_file)
    archived_files = blocking(VectorStoresOps.archived_files)
    files = paged(VectorStoresOps.files, VectorStoreFile)
    search = blocking(VectorStoresOps.search)
    find = blocking(VectorStoresOps.find)
    archived = blocking(VectorStoresOps.archived)
    history = blocking(VectorStoresOps.history)


class AsyncVectorStoresRepository(Face):
    """Vector stores under asyncio (``adb.vector_stores``)."""

    create = awaitable_op(VectorStoresOps.create)
    retrieve = awaitable_op(VectorStoresOps.retrieve)
    update = awaitable_op(VectorStoresOps.update)
    delete = awaitable_op(VectorStoresOps.delete)
    list = async_paged(VectorStoresOps.list, VectorStore)
    add_files = awaitable_op(VectorStoresOps.add_files)
    add_file = awaitable_op(VectorStoresOps.add_file)
    file = awaitable_op(VectorStoresOps.file)
    update_file = awaitable_op(VectorStoresOps.update_file)
    remove_file = awaitable_op(VectorStoresOps.remove_file)
    archived_files = awaitable_op(VectorStoresOps.archived_files)
    files = async_paged(VectorStoresOps.files, VectorStoreFile)
    search = awaitable_op(VectorStoresOps.search)
    find = awaitable_op(VectorStoresOps.find)
    archived = awaitable_op(VectorStoresOps.archived)
    history = awaitable_op(VectorStoresOps.history)
