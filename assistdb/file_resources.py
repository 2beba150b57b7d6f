"""Local files as an assistant's tool resources: uploaded and put in a vector store in one step
for file search (``assistants create --file-search PATH``, ``files:`` in ``assistants apply``),
or uploaded and listed for the code interpreter (``code_interpreter_files:``).

Idempotent by content: a file whose SHA-256 the archive knows from an earlier upload (and that
still exists on the API) is not uploaded again, and a vector store or file list the assistant
already uses that holds exactly the wanted contents is kept rather than replaced. A store made
here carries the metadata :data:`MADE_FOR` (the assistant's name), which is how ``apply`` knows
it may delete the store once it replaced it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from openai.types import FileObject

from assistdb.errors import ApiNotFoundError, InvalidInputError

if TYPE_CHECKING:
    from assistdb.facades import AssistDB

PURPOSE: Final = "assistants"
#: The metadata key of a vector store made here for an assistant's files (value: its name).
MADE_FOR: Final = "assistdb_files_for"


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a local file, read in bounded pieces; refuses a missing or empty one."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as source:
            size = 0
            while piece := source.read(1 << 20):
                digest.update(piece)
                size += len(piece)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}", hint="check the path") from None
    if size == 0:
        raise InvalidInputError(f"{path} is empty", hint="the API refuses empty files")
    return digest.hexdigest()


def uploaded_once(db: AssistDB, path: Path) -> FileObject:
    """The API file holding this file's content: one uploaded before (found by hash in the
    archive and still on the API), else a new upload."""
    sha256 = file_sha256(path)
    for known in db.files.with_content(sha256):
        if known.purpose != PURPOSE:
            continue
        try:
            return db.files.retrieve(known.id)
        except ApiNotFoundError:
            continue
    return db.files.create(path, purpose=PURPOSE)


def store_holds(db: AssistDB, store_id: str, hashes: Sequence[str]) -> bool:
    """Whether a vector store holds exactly files of these contents (by the archive's hashes)."""
    try:
        held = []
        for item in db.vector_stores.files(store_id):
            known = db.files.content_hash(item.id)
            if known is None:
                return False
            held.append(known.sha256)
    except ApiNotFoundError:
        return False
    return sorted(held) == sorted(set(hashes))


def files_hold(db: AssistDB, file_ids: Sequence[str], paths: Sequence[Path]) -> bool:
    """Whether these API files (all still there) have exactly these local files' contents."""
    held = set()
    for file_id in file_ids:
        known = db.files.content_hash(file_id)
        if known is None:
            return False
        try:
            db.files.retrieve(file_id)
        except ApiNotFoundError:
            return False
        held.add(known.sha256)
    return len(held) == len(file_ids) and held == {file_sha256(path) for path in paths}


def current_code_file_ids(assistant: Any) -> list[str]:
    """The files an assistant's code interpreter has now (an SDK object or its dict)."""
    body = assistant.to_dict() if hasattr(assistant, "to_dict") else dict(assistant or {})
    resources = body.get("tool_resources") or {}
    return list((resources.get("code_interpreter") or {}).get("file_ids") or [])


def code_interpreter_resources(db: AssistDB, paths: Sequence[Path]) -> dict[str, Any]:
    """``tool_resources`` giving the code interpreter these local files (each uploaded only if its
    content is not on the API already)."""
    file_ids = list(dict.fromkeys(uploaded_once(db, path).id for path in paths))
    return {"code_interpreter": {"file_ids": file_ids}}


def current_store_ids(assistant: Any) -> list[str]:
    """The vector stores an assistant's (or a thread's) file search uses now (an SDK object or its dict)."""
    body = assistant.to_dict() if hasattr(assistant, "to_dict") else dict(assistant or {})
    resources = body.get("tool_resources") or {}
    return list((resources.get("file_search") or {}).get("vector_store_ids") or [])


def matching_store(db: AssistDB, paths: Sequence[Path], store_ids: Sequence[str]) -> str | None:
    """The first of ``store_ids`` that already holds exactly these files' contents (no upload)."""
    hashes = [file_sha256(path) for path in paths]
    return next((store_id for store_id in store_ids if store_holds(db, store_id, hashes)), None)


def file_search_resources(
    db: AssistDB, paths: Sequence[Path], *, name: str, store_ids: Sequence[str] = ()
) -> dict[str, Any]:
    """``tool_resources`` for file search over these local files for the assistant ``name``: an
    existing store among ``store_ids`` if one holds exactly them, else a new store of the files
    (each uploaded only if its content is not on the API already, the store marked as made for
    ``name``), processed before this returns."""
    found = matching_store(db, paths, store_ids)
    if found is None:
        file_ids = list(dict.fromkeys(uploaded_once(db, path).id for path in paths))
        store = db.vector_stores.create(name=f"{name} files", metadata={MADE_FOR: name})
        db.vector_stores.add_files(store.id, file_ids)
        found = store.id
    return {"file_search": {"vector_store_ids": [found]}}


def with_tool(tools: list[dict[str, Any]] | None, kind: str) -> list[dict[str, Any]]:
    """``tools`` with the built-in tool ``kind`` added if it is not there (the others kept)."""
    tools = list(tools or [])
    if not any(tool.get("type") == kind for tool in tools):
        tools.append({"type": kind})
    return tools


def with_file_search(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """``tools`` with the file_search tool added if it is not there."""
    return with_tool(tools, "file_search")


def replaced_stores(
    db: AssistDB, assistant_id: str, name: str, old_ids: Sequence[str], new_ids: Sequence[str]
) -> list[str]:
    """Of the stores an assistant (named ``name``) used before, those it no longer uses that were
    made here for it (by their :data:`MADE_FOR` metadata) and that no other assistant and no
    thread uses (see :func:`threads_using`): the stores ``apply`` may delete."""
    candidates = []
    for store_id in old_ids:
        if store_id in new_ids:
            continue
        try:
            store = db.vector_stores.retrieve(store_id)
        except ApiNotFoundError:
            continue
        if (store.metadata or {}).get(MADE_FOR) == name:
            candidates.append(store_id)
    if not candidates:
        return []
    used = {
        store_id
        for assistant in db.assistants.list(order="asc")
        if assistant.id != assistant_id
        for store_id in current_store_ids(assistant)
    }
    unused = [store_id for store_id in candidates if store_id not in used]
    in_threads = threads_using(db, unused) if unused else set()
    return [store_id for store_id in unused if store_id not in in_threads]


def threads_using(db: AssistDB, store_ids: Sequence[str]) -> set[str]:
    """Of these stores, those a thread's ``tool_resources`` names. The API cannot list threads,
    so the candidates are the archive's live threads whose last archived version names one;
    each is then retrieved, and what it names now counts (a thread deleted since names none). A
    thread the archive never saw is not known."""
    wanted = set(store_ids)
    named = [
        stored.object_id
        for stored in db.store.reader.iter_find("thread")
        if any(store_id in stored.body_json for store_id in wanted)
    ]
    used: set[str] = set()
    for thread_id in named:
        try:
            thread = db.threads.retrieve(thread_id)
        except ApiNotFoundError:
            continue
        used.update(wanted.intersection(current_store_ids(thread)))
    return used
