"""What the archive needs to know about each kind of API object."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from assistdb.errors import InvalidApiObjectError

ObjectType = Literal["assistant", "thread", "message", "run", "run_step", "file", "vector_store", "vs_file"]

# The API's ``object`` field -> our object type.
TYPE_OF_API_OBJECT: dict[str, ObjectType] = {
    "assistant": "assistant",
    "thread": "thread",
    "thread.message": "message",
    "thread.run": "run",
    "thread.run.step": "run_step",
    "file": "file",
    "vector_store": "vector_store",
    "vector_store.file": "vs_file",
}
API_OBJECT_OF_TYPE: dict[ObjectType, str] = {v: k for k, v in TYPE_OF_API_OBJECT.items()}

#: Statuses a message, run or step can still leave (only runs wait, queue or cancel); any other
#: status is final: the API never moves an object out of it.
UNFINISHED = frozenset({"queued", "in_progress", "requires_action", "cancelling"})

#: The prefix of each type's API IDs (a vector store file's ID is its file's: see :func:`link_id`).
ID_PREFIXES: dict[ObjectType, str] = {
    "assistant": "asst_",
    "thread": "thread_",
    "message": "msg_",
    "run": "run_",
    "run_step": "step_",
    "file": "file-",
    "vector_store": "vs_",
}

#: Objects that are a chain of their own (not inside a thread): each assistant, file and vector
#: store is its own hash chain.
STANDALONE: frozenset[ObjectType] = frozenset({"assistant", "file", "vector_store"})

#: Between a vector store's ID and a file's in the archive ID of a vector store file (``vs_file``):
#: the API names one by its file's ID, which the file itself and its links in other stores share.
LINK_SEPARATOR = "/"


def link_id(vector_store_id: str, file_id: str) -> str:
    """The archive ID of a file's link to a vector store (the API's ``vector_store.file``)."""
    return f"{vector_store_id}{LINK_SEPARATOR}{file_id}"


def archive_id(body: Mapping[str, Any]) -> str | None:
    """The ID an API object is archived under: its ``id``, or for a vector store file
    :func:`link_id`; None when the body lacks them."""
    object_id = body.get("id")
    if not isinstance(object_id, str):
        return None
    if body.get("object") == "vector_store.file":
        store_id = body.get("vector_store_id")
        return link_id(store_id, object_id) if isinstance(store_id, str) else None
    return object_id


# The longest text each index column holds (PostgreSQL enforces them; the API's own limits).
ID_LENGTH = 128
STATUS_LENGTH = 32
METADATA_KEY_LENGTH = 64
METADATA_VALUE_LENGTH = 512
_INT64 = range(-(2**63), 2**63)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL (not in PostgreSQL text), lone surrogates


def indexable(text: str, length: int) -> bool:
    """Whether ``text`` fits an index column of ``length`` on both backends.

    The body of every version keeps any JSON text losslessly; index columns are plain database
    text, which in PostgreSQL cannot hold NUL, in no database a lone surrogate (not UTF-8), and
    is bounded. What does not fit is left out of the index (or refused, for an ID), the same way
    on SQLite and PostgreSQL, so both backends answer a query alike.
    """
    return len(text) <= length and _UNSTORABLE.search(text) is None


@dataclass(frozen=True)
class Indexed:
    """The columns of an object that local queries filter and order on."""

    object_type: ObjectType
    object_id: str
    chain_id: str
    thread_id: str | None
    run_id: str | None
    assistant_id: str | None
    status: str | None
    created_at: int | None
    metadata: dict[str, str]


def object_type_of(body: Mapping[str, Any]) -> ObjectType:
    api_object = body.get("object")
    try:
        return TYPE_OF_API_OBJECT[str(api_object)]
    except KeyError:
        raise InvalidApiObjectError(
            f"the API returned something that is not an Assistants API object: object={api_object!r}",
            hint="check that the base URL points at an Assistants API",
        ) from None


def index_of(body: Mapping[str, Any]) -> Indexed:
    """Pick the indexed columns out of an API object as returned by the API.

    IDs are required and must be storable; a status or metadata pair that no index column can
    hold is left out of the index (the body keeps it), see :func:`indexable`.
    """
    object_type = object_type_of(body)
    object_id = _id(body, "id", object_type)
    thread_id: str | None
    chain_id: str | None = None
    if object_type == "thread":
        thread_id = object_id
    elif object_type in STANDALONE:
        thread_id = None
    elif object_type == "vs_file":
        # A store's files are in the store's chain, as a thread's messages are in the thread's.
        thread_id = None
        chain_id = _id(body, "vector_store_id", object_type)
        object_id = link_id(chain_id, object_id)
        if not indexable(object_id, ID_LENGTH):
            raise InvalidApiObjectError(
                f"the API returned a vector store file whose IDs {object_id[:ID_LENGTH]!r} are too long",
                hint="an ID has at most 128 characters and no NUL; the server is not a faithful API",
            )
    else:
        thread_id = _id(body, "thread_id", object_type)
    if chain_id is None:
        chain_id = thread_id if thread_id is not None else object_id
    run_id = object_id if object_type == "run" else _opt_id(body, "run_id", object_type)
    assistant_id = object_id if object_type == "assistant" else _opt_id(body, "assistant_id", object_type)
    raw_metadata = body.get("metadata")
    pairs = ((str(k), str(v)) for k, v in raw_metadata.items()) if isinstance(raw_metadata, Mapping) else ()
    metadata = {
        key: value
        for key, value in pairs
        if indexable(key, METADATA_KEY_LENGTH) and indexable(value, METADATA_VALUE_LENGTH)
    }
    status = _opt_str(body.get("status"))
    created_at = body.get("created_at")
    return Indexed(
        object_type=object_type,
        object_id=object_id,
        chain_id=chain_id,
        thread_id=thread_id,
        run_id=run_id,
        assistant_id=assistant_id,
        status=status if status is not None and indexable(status, STATUS_LENGTH) else None,
        created_at=created_at if type(created_at) is int and created_at in _INT64 else None,
        metadata=metadata,
    )


def _id(body: Mapping[str, Any], field: str, object_type: ObjectType) -> str:
    value = _opt_id(body, field, object_type)
    if value is None:
        raise InvalidApiObjectError(
            f"the API returned a {object_type} without {field!r}", hint="the server is not a faithful API"
        )
    return value


def _opt_id(body: Mapping[str, Any], field: str, object_type: ObjectType) -> str | None:
    value = _opt_str(body.get(field))
    if value is not None and not indexable(value, ID_LENGTH):
        raise InvalidApiObjectError(
            f"the API returned a {object_type} whose {field} {value[:ID_LENGTH]!r} cannot be archived",
            hint="an ID has at most 128 characters and no NUL; the server is not a faithful API",
        )
    return value


def tombstone_body(object_type: ObjectType, object_id: str) -> dict[str, Any]:
    """The body of a tombstone: the shape of the API's own deletion answers."""
    return {"id": object_id, "object": f"{API_OBJECT_OF_TYPE[object_type]}.deleted", "deleted": True}


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
