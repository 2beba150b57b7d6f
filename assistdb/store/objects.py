"""What the archive needs to know about each kind of API object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ObjectType = Literal["assistant", "thread", "message", "run", "run_step"]

# The API's ``object`` field -> our object type.
TYPE_OF_API_OBJECT: dict[str, ObjectType] = {
    "assistant": "assistant",
    "thread": "thread",
    "thread.message": "message",
    "thread.run": "run",
    "thread.run.step": "run_step",
}
API_OBJECT_OF_TYPE: dict[ObjectType, str] = {v: k for k, v in TYPE_OF_API_OBJECT.items()}

#: Statuses a message, run or step can still leave (only runs wait, queue or cancel); any other
#: status is final: the API never moves an object out of it.
UNFINISHED = frozenset({"queued", "in_progress", "requires_action", "cancelling"})

ID_PREFIXES: dict[ObjectType, str] = {
    "assistant": "asst_",
    "thread": "thread_",
    "message": "msg_",
    "run": "run_",
    "run_step": "step_",
}


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
        raise ValueError(f"not an Assistants API object: object={api_object!r}") from None


def index_of(body: Mapping[str, Any]) -> Indexed:
    """Pick the indexed columns out of an API object as returned by the API."""
    object_type = object_type_of(body)
    object_id = str(body["id"])
    thread_id: str | None
    if object_type == "thread":
        thread_id = object_id
    elif object_type == "assistant":
        thread_id = None
    else:
        thread_id = str(body["thread_id"])
    chain_id = thread_id if thread_id is not None else object_id
    run_id = object_id if object_type == "run" else _opt_str(body.get("run_id"))
    assistant_id = object_id if object_type == "assistant" else _opt_str(body.get("assistant_id"))
    raw_metadata = body.get("metadata")
    metadata = {str(k): str(v) for k, v in raw_metadata.items()} if isinstance(raw_metadata, Mapping) else {}
    created_at = body.get("created_at")
    return Indexed(
        object_type=object_type,
        object_id=object_id,
        chain_id=chain_id,
        thread_id=thread_id,
        run_id=run_id,
        assistant_id=assistant_id,
        status=_opt_str(body.get("status")),
        created_at=created_at if isinstance(created_at, int) else None,
        metadata=metadata,
    )


def tombstone_body(object_type: ObjectType, object_id: str) -> dict[str, Any]:
    """The body of a tombstone: the shape of the API's own deletion answers."""
    return {"id": object_id, "object": f"{API_OBJECT_OF_TYPE[object_type]}.deleted", "deleted": True}


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
