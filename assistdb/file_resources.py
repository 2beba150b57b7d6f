"""Local files as an assistant's file search resource: uploaded and put in a vector store in one
step (``assistants create --file-search PATH``, ``files:`` in ``assistants apply``).

Idempotent by content: a file whose SHA-256 the archive knows from an earlier upload (and that
still exists on the API) is not uploaded again, and a vector store the assistant already uses
that holds exactly the wanted contents is kept rather than replaced.
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
    return sorted(held) == sorted(hashes)


def current_store_ids(assistant: Any) -> list[str]:
    """The vector stores an assistant's file search uses now (an SDK object or its dict)."""
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
    """``tool_resources`` for file search over these local files: an existing store among
    ``store_ids`` if one holds exactly them, else a new store of the files (each uploaded only
    if its content is not on the API already), processed before this returns."""
    found = matching_store(db, paths, store_ids)
    if found is None:
        file_ids = list(dict.fromkeys(uploaded_once(db, path).id for path in paths))
        store = db.vector_stores.create(name=name)
        db.vector_stores.add_files(store.id, file_ids)
        found = store.id
    return {"file_search": {"vector_store_ids": [found]}}


def with_file_search(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """``tools`` with the file_search tool added if it is not there."""
    tools = list(tools or [])
    if not any(tool.get("type") == "file_search" for tool in tools):
        tools.append({"type": "file_search"})
    return tools
