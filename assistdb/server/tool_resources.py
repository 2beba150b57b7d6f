"""Tool resources of assistants and threads, and message attachments, checked against real objects.

Files and vector stores that tool resources, attachments or ``image_file`` parts name must exist
(the API's 404 otherwise, and nothing is written); a vector store requested inline is created
with its files. An attachment for ``file_search`` is added to the thread's vector store, which
is created (expiring 7 days after it was last used, as the real API did) if the thread has none;
one for ``code_interpreter`` joins the thread's ``code_interpreter.file_ids``.
"""

from __future__ import annotations

from typing import Any

from assistdb.server.errors import invalid
from assistdb.server.objects import Obj
from assistdb.server.request_models import CreateMessage, StaticChunking
from assistdb.server.state import Tx

THREAD_STORE_DAYS = 7

# files and vector_stores import operations, which imports this module: import them when called.


def resolve(tx: Tx, value: Any, now: float) -> Obj:
    """Stored tool resources for a request's ``tool_resources`` (``None`` or a request model)."""
    from assistdb.server import files, vector_stores

    if value is None:
        return {}
    resources: Obj = {}
    if value.code_interpreter is not None:
        file_ids = list(value.code_interpreter.file_ids or [])
        for file_id in file_ids:
            files.find_file(tx, file_id, now)
        resources["code_interpreter"] = {"file_ids": file_ids}
    file_search = value.file_search
    if file_search is not None:
        store_ids = list(file_search.vector_store_ids or [])
        vector_stores.check_stores(tx, store_ids)
        for index, new in enumerate(getattr(file_search, "vector_stores", None) or []):
            chunking = new.chunking_strategy
            if isinstance(chunking, StaticChunking):
                settings = chunking.static
                if not 0 <= settings.chunk_overlap_tokens <= settings.max_chunk_size_tokens // 2:
                    raise invalid(
                        "chunk_overlap_tokens must be between 0 and half of max_chunk_size_tokens.",
                        param=f"tool_resources.file_search.vector_stores[{index}].chunking_strategy",
                        code="invalid_value",
                    )
            store = vector_stores.create_store(
                tx, now, file_ids=new.file_ids, chunking=chunking, metadata=new.metadata
            )
            store_ids.append(store["id"])
        resources["file_search"] = {"vector_store_ids": store_ids}
    return resources


def attach(tx: Tx, thread_id: str, request: CreateMessage, now: float) -> None:
    """Check the files a new message names and add its attachments to the thread's resources."""
    from assistdb.server import files, vector_stores

    if not isinstance(request.content, str):
        for part in request.content:
            image = getattr(part, "image_file", None)
            if image is not None:
                files.find_file(tx, image.file_id, now)
    attachments = request.attachments or []
    if not attachments:
        return
    thread = tx.thread(thread_id)
    resources: Obj = dict(thread.get("tool_resources") or {})
    for attachment in attachments:
        files.find_file(tx, attachment.file_id, now)
        kinds = {tool.type for tool in attachment.tools}
        if "code_interpreter" in kinds:
            interpreter = resources.setdefault("code_interpreter", {"file_ids": []})
            if attachment.file_id not in interpreter["file_ids"]:
                interpreter["file_ids"].append(attachment.file_id)
        if "file_search" in kinds:
            store_ids = resources.setdefault("file_search", {"vector_store_ids": []})["vector_store_ids"]
            if not store_ids:
                expiry = {"anchor": "last_active_at", "days": THREAD_STORE_DAYS}
                store = vector_stores.create_store(tx, now, name=f"{thread_id} files", expires_after=expiry)
                store_ids.append(store["id"])
            vector_stores.attach_file(tx, store_ids[0], attachment.file_id, now)
    thread["tool_resources"] = resources
    tx.save_thread(thread)
