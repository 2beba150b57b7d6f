"""Files: uploaded, listed, downloaded and deleted through the API, each file its own chain in
the archive; their content hashed on the way in and out, and archived content-addressed when
asked (``archive_content=True``, ``archive_content(file_id)``)."""

from __future__ import annotations

import builtins
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from openai.types import FileDeleted, FileObject

from assistdb.errors import InvalidInputError, NotFoundError
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
from assistdb.repositories.faces import Api, Download, StoreWork
from assistdb.repositories.validation import check_id
from assistdb.store import Filters
from assistdb.store.contents import FileHash, Spool
from assistdb.store.queries import Order

if TYPE_CHECKING:
    from openai.types import FilePurpose
    from openai.types.file_create_params import ExpiresAfter

Content = bytes | IO[bytes] | os.PathLike[str]
#: What ``files.create`` uploads: a path, bytes or a binary file, or ``(filename, that)``.
FileInput = Content | tuple[str | None, Content]


class _Hashing:
    """A binary reader that hashes (and with a keeping spool, keeps) what the SDK reads from it."""

    def __init__(self, source: IO[bytes], spool: Spool) -> None:
        self.source = source
        self.spool = spool

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.spool.write(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


class _Upload:
    """One upload's source, opened and wrapped; closes what it opened."""

    def __init__(self, file: FileInput, spool: Spool) -> None:
        name, content = file if isinstance(file, tuple) else (None, file)
        self._owned: IO[bytes] | None = None
        self.reader: _Hashing | None = None
        if isinstance(content, bytes):  # passed as is: the SDK can send bytes again on a retry
            spool.write(content)
            self.sdk_file: tuple[str, Any] = (name or "upload", content)
            return
        source: IO[bytes]
        if isinstance(content, os.PathLike):
            path = Path(content)
            name = name or path.name
            try:
                source = self._owned = path.open("rb")
            except OSError as exc:
                raise InvalidInputError(
                    f"cannot read {path}: {exc.strerror}", hint="check the path"
                ) from None
        elif hasattr(content, "read"):
            source = content
            given = getattr(content, "name", None)
            name = name or (os.path.basename(given) if isinstance(given, str) else None)
        else:
            raise InvalidInputError(
                f"cannot upload a {type(content).__name__}", hint="pass a path, bytes or a binary file"
            )
        self.reader = _Hashing(source, spool)
        self.sdk_file = (name or "upload", self.reader)

    def finish(self) -> None:
        """Hash whatever the upload did not read (nothing, when it succeeded)."""
        if self.reader is not None:
            self.reader.drain()

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()


class FilesOps(RepositoryOps[FileObject]):
    object_type = "file"
    model = FileObject

    def create(
        self,
        file: FileInput,
        *,
        purpose: FilePurpose,
        expires_after: ExpiresAfter | None = None,
        archive_content: bool = False,
    ) -> Op[FileObject]:
        """Upload a file, streamed (never read into memory whole) and hashed as it is sent; with
        ``archive_content``, its content is archived too (once per distinct content)."""
        spool = Spool(keep=archive_content)
        upload = _Upload(file, spool)
        try:
            params: dict[str, Any] = {"file": upload.sdk_file, "purpose": purpose}
            if expires_after is not None:
                params["expires_after"] = expires_after
            created: FileObject = yield Api(lambda c: c.files.create, (), params)
            upload.finish()

            def write() -> None:
                self._store.record([created.to_dict()])
                if archive_content:
                    self._store.contents.store(spool, file_id=created.id)
                else:
                    self._store.contents.record_hash(created.id, spool.sha256, spool.size)

            yield StoreWork(write)
        finally:
            upload.close()
            spool.close()
        return created

    def retrieve(self, file_id: str) -> Op[FileObject]:
        check_id("file", file_id)
        found: FileObject = yield from self._call(lambda c: c.files.retrieve, file_id)
        return found

    def delete(self, file_id: str) -> Op[FileDeleted]:
        """Delete remotely (the file also leaves every vector store); the archive keeps its
        history, a tombstone (one for each store it was in, too) and any archived content."""
        check_id("file", file_id)
        deleted: FileDeleted = yield Api(lambda c: c.files.delete, (file_id,))
        yield StoreWork(
            lambda: self._store.record_deleted([file_id, *self._store.reader.links_of_file(file_id)])
        )
        return deleted

    def list(
        self,
        *,
        purpose: str | None = None,
        order: Literal["asc", "desc"] = "asc",
        limit: int | None = None,
        after: str | None = None,
    ) -> Paged:
        """All files (or those with this purpose) from the cursor on, each page archived."""
        return self._pages(lambda c: c.files.list, purpose=purpose, order=order, limit=limit, after=after)

    def download(self, file_id: str, to: Callable[[bytes], Any]) -> Op[FileHash]:
        """Stream a file's content from the API into ``to`` (e.g. an open file's ``write``); the
        content's hash is recorded, the content itself is not archived."""
        check_id("file", file_id)
        spool = Spool(keep=False)

        def sink(piece: bytes) -> None:
            spool.write(piece)
            to(piece)

        try:
            yield Download(lambda c: c.files.with_streaming_response.content, (file_id,), sink)
            yield StoreWork(lambda: self._store.contents.record_hash(file_id, spool.sha256, spool.size))
        finally:
            spool.close()
        return FileHash(file_id, spool.sha256, spool.size, archived=False)

    def archive_content(self, file_id: str) -> Op[FileHash]:
        """Archive a file (its object, and its content, content-addressed): downloaded only if
        the archive does not hold that file's content yet."""
        check_id("file", file_id)
        yield from self._call(lambda c: c.files.retrieve, file_id)
        known: FileHash | None = yield StoreWork(lambda: self._store.contents.hash_of(file_id))
        if known is not None and known.archived:
            return known
        spool = Spool()
        try:
            yield Download(lambda c: c.files.with_streaming_response.content, (file_id,), spool.write)
            yield StoreWork(lambda: self._store.contents.store(spool, file_id=file_id))
        finally:
            spool.close()
        return FileHash(file_id, spool.sha256, spool.size, archived=True)

    def content_hash(self, file_id: str) -> Op[FileHash | None]:
        """The archive's record of a file's content (no API call); None if never seen."""
        check_id("file", file_id)
        known: FileHash | None = yield StoreWork(lambda: self._store.contents.hash_of(file_id))
        return known

    def archived_content(self, file_id: str, to: Callable[[bytes], Any]) -> Op[FileHash]:
        """Write a file's archived content into ``to`` (no API call)."""
        check_id("file", file_id)

        def read() -> FileHash:
            known = self._store.contents.hash_of(file_id)
            if known is None or not known.archived:
                raise NotFoundError(
                    f"the archive has no content of file {file_id}",
                    hint="archive it with files.archive_content(), or sync its thread with its files",
                )
            self._store.contents.read(known.sha256, to)
            return known

        found: FileHash = yield StoreWork(read)
        return found

    def with_content(self, sha256: str) -> Op[builtins.list[FileObject]]:
        """Archived, undeleted files known to have this content (hex SHA-256), oldest first."""
        return self._read(
            lambda: [
                stored
                for file_id in self._store.contents.files_with(sha256.lower())
                if (stored := self._store.reader.current(file_id)) is not None
            ]
        )

    def find(
        self,
        *,
        purpose: str | None = None,
        include_deleted: bool = False,
        order: Order = "asc",
        limit: int | None = None,
    ) -> Op[builtins.list[FileObject]]:
        """Archived files, optionally of one purpose, without an API call."""
        filters = Filters(include_deleted=include_deleted)

        def read() -> builtins.list[Any]:
            found = self._store.reader.iter_find("file", filters, order=order)
            kept = (stored for stored in found if purpose is None or stored.body.get("purpose") == purpose)
            return builtins.list(itertools.islice(kept, limit))

        return self._read(read)


class FilesRepository(Face):
    """Files, blocking (``db.files``)."""

    create = blocking(FilesOps.create)
    retrieve = blocking(FilesOps.retrieve)
    delete = blocking(FilesOps.delete)
    list = paged(FilesOps.list, FileObject)
    download = blocking(FilesOps.download)
    archive_content = blocking(FilesOps.archive_content)
    content_hash = blocking(FilesOps.content_hash)
    archived_content = blocking(FilesOps.archived_content)
    with_content = blocking(FilesOps.with_content)
    find = blocking(FilesOps.find)
    archived = blocking(FilesOps.archived)
    history = blocking(FilesOps.history)


class AsyncFilesRepository(Face):
    """Files under asyncio (``adb.files``)."""

    create = awaitable_op(FilesOps.create)
    retrieve = awaitable_op(FilesOps.retrieve)
    delete = awaitable_op(FilesOps.delete)
    list = async_paged(FilesOps.list, FileObject)
    download = awaitable_op(FilesOps.download)
    archive_content = awaitable_op(FilesOps.archive_content)
    content_hash = awaitable_op(FilesOps.content_hash)
    archived_content = awaitable_op(FilesOps.archived_content)
    with_content = awaitable_op(FilesOps.with_content)
    find = awaitable_op(FilesOps.find)
    archived = awaitable_op(FilesOps.archived)
    history = awaitable_op(FilesOps.history)
