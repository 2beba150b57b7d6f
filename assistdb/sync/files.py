"""Archiving the files that archived threads refer to (``threads sync --with-files``).

A thread's file references are scattered over the objects the archive already holds: message
``attachments``, ``image_file`` content parts, ``file_citation`` and ``file_path`` annotations, and
the ``tool_resources`` of the thread and of the assistants that ran on it (code interpreter file
IDs directly, file search through vector stores, whose files are listed on the API: the listing
archives each store's files (its ``vector_store.file`` objects, so that a restore brings the store
back whole), and a file the archive had in a store that the listing lacks gets a tombstone). Each
file found is archived with its content (:meth:`FilesOps.archive_content`): downloaded only when
the archive lacks that file's content, stored once per distinct content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistdb.errors import ApiNotFoundError, AssistDBError
from assistdb.store import Filters, Store

if TYPE_CHECKING:
    from assistdb.facades import AssistDB


@dataclass
class FilesSyncResult:
    """Files referenced by the threads, distinct contents newly stored (and their size), files
    whose content the archive already had, files gone from the API, and each file's error."""

    files: int = 0
    stored: int = 0
    already: int = 0
    gone: int = 0
    bytes: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def _tool_resource_ids(body: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(file IDs, vector store IDs) named in an assistant's or thread's ``tool_resources``."""
    resources = body.get("tool_resources") or {}
    code = resources.get("code_interpreter") or {}
    search = resources.get("file_search") or {}
    return list(code.get("file_ids") or []), list(search.get("vector_store_ids") or [])


def _message_file_ids(body: Mapping[str, Any]) -> Iterator[Any]:
    for attachment in body.get("attachments") or []:
        yield attachment.get("file_id")
    for part in body.get("content") or []:
        if part.get("type") == "image_file":
            yield (part.get("image_file") or {}).get("file_id")
        for annotation in (part.get("text") or {}).get("annotations") or []:
            cited = annotation.get("file_citation") or annotation.get("file_path") or {}
            yield cited.get("file_id")


def cited(body: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(file IDs, vector store IDs) that an archived thread, message or assistant names."""
    file_ids, store_ids = _tool_resource_ids(body)
    file_ids += [file_id for file_id in _message_file_ids(body) if isinstance(file_id, str)]
    return file_ids, store_ids


@dataclass
class References:
    """IDs named by archived objects, each once, in the order first seen."""

    files: dict[str, None] = field(default_factory=dict)
    stores: dict[str, None] = field(default_factory=dict)
    assistants: dict[str, None] = field(default_factory=dict)

    def add(self, body: Mapping[str, Any]) -> None:
        """Add what an assistant's or thread's ``tool_resources`` name."""
        file_ids, store_ids = _tool_resource_ids(body)
        self.files.update(dict.fromkeys(file_ids))
        self.stores.update(dict.fromkeys(store_ids))


def referenced(store: Store, thread_ids: Iterable[str]) -> References:
    """What these threads' archived objects name: files, vector stores, and the assistants that
    ran on them (whose own tool resources are read from the API, where they are current)."""
    found = References()

    for thread_id in thread_ids:
        thread = store.reader.current(thread_id)
        if thread is not None:
            found.add(thread.body)
        for message in store.reader.iter_find("message", Filters(thread_id=thread_id)):
            ids = (i for i in _message_file_ids(message.body) if isinstance(i, str))
            found.files.update(dict.fromkeys(ids))
        for run in store.reader.iter_find("run", Filters(thread_id=thread_id)):
            if isinstance(run.body.get("assistant_id"), str):
                found.assistants[run.body["assistant_id"]] = None
    return found


def _forget_removed(store: Store, vector_store_id: str, held: set[str]) -> None:
    """Record a tombstone for each archived file of the store that its full listing lacks."""
    links = store.reader.iter_find("vs_file", Filters(vector_store_id=vector_store_id))
    gone = [link.object_id for link in links if link.body["id"] not in held]
    if gone:
        store.record_deleted(gone)


def archive_thread_files(
    db: AssistDB, thread_ids: Iterable[str], *, on_file: Callable[[str], None] | None = None
) -> FilesSyncResult:
    """Archive every file these threads refer to, with its content; vector stores they use are
    archived too, with the files they hold. A file gone from the API is counted, not an error."""
    result = FilesSyncResult()
    found = referenced(db.store, thread_ids)
    for assistant_id in found.assistants:
        try:
            found.add(db.assistants.retrieve(assistant_id).to_dict())
        except ApiNotFoundError:
            continue
        except AssistDBError as exc:
            result.errors[assistant_id] = exc.message
    wanted = dict(found.files)
    for store_id in found.stores:
        try:
            db.vector_stores.retrieve(store_id)
            held = [item.id for item in db.vector_stores.files(store_id)]
        except ApiNotFoundError:
            continue
        except AssistDBError as exc:
            result.errors[store_id] = exc.message
            continue
        wanted.update(dict.fromkeys(held))
        _forget_removed(db.store, store_id, set(held))
    contents_before, bytes_before = db.store.contents.count()
    for file_id in wanted:
        result.files += 1
        try:
            before = db.files.content_hash(file_id)
            db.files.archive_content(file_id)
        except ApiNotFoundError:
            result.gone += 1
            continue
        except AssistDBError as exc:
            result.errors[file_id] = exc.message
            continue
        finally:
            if on_file is not None:
                on_file(file_id)
        if before is not None and before.archived:
            result.already += 1
    contents_after, bytes_after = db.store.contents.count()
    result.stored, result.bytes = contents_after - contents_before, bytes_after - bytes_before
    return result
