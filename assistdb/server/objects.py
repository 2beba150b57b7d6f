"""Builders of the API objects, with every field the real API returned and its proper null.

Objects are kept as the plain dicts sent on the wire, so a stored object, a response body and
a journal record are one and the same thing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from assistdb.server.request_models import (
    CreateMessage,
    ImageFilePart,
    ImageUrlPart,
    ResponseFormat,
    Tool,
    ToolChoice,
)

Obj = dict[str, Any]

DEFAULT_TRUNCATION: Obj = {"type": "auto", "last_messages": None}


def dump(value: BaseModel | None) -> Any:
    """A request value as JSON data, keeping only what the client sent."""
    return None if value is None else value.model_dump(mode="json", by_alias=True, exclude_unset=True)


def dump_tools(tools: list[Tool]) -> list[Obj]:
    return [tool.model_dump(mode="json", by_alias=True, exclude_unset=True) for tool in tools]


def dump_response_format(value: ResponseFormat | None) -> Any:
    return value if isinstance(value, str) or value is None else dump(value)


def dump_tool_choice(value: ToolChoice | None) -> Any:
    return value if isinstance(value, str) or value is None else dump(value)


def message_content(request: CreateMessage) -> list[Obj]:
    content = request.content
    if isinstance(content, str):
        return [{"type": "text", "text": {"value": content, "annotations": []}}]
    parts: list[Obj] = []
    for part in content:
        if isinstance(part, ImageFilePart | ImageUrlPart):
            parts.append(part.model_dump(mode="json", exclude_unset=True))
        else:
            parts.append({"type": "text", "text": {"value": part.text, "annotations": []}})
    return parts


def text_of(message: Obj) -> str:
    """The text parts of a message joined by newlines (images carry no text)."""
    return "\n".join(part["text"]["value"] for part in message["content"] if part.get("type") == "text")


def assistant(assistant_id: str, created_at: int) -> Obj:
    return {
        "id": assistant_id,
        "object": "assistant",
        "created_at": created_at,
        "name": None,
        "description": None,
        "model": "",
        "instructions": None,
        "tools": [],
        "tool_resources": {},
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "response_format": "auto",
        "reasoning_effort": None,
    }


def thread(thread_id: str, created_at: int, resources: Obj, metadata: dict[str, str] | None) -> Obj:
    return {
        "id": thread_id,
        "object": "thread",
        "created_at": created_at,
        "tool_resources": resources,
        "metadata": dict(metadata or {}),
    }


def message(
    message_id: str,
    thread_id: str,
    created_at: int,
    *,
    role: str,
    content: list[Obj],
    attachments: list[Obj] | None = None,
    metadata: dict[str, str] | None = None,
    assistant_id: str | None = None,
    run_id: str | None = None,
    status: str = "completed",
) -> Obj:
    return {
        "id": message_id,
        "object": "thread.message",
        "created_at": created_at,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "run_id": run_id,
        "role": role,
        "content": content,
        "attachments": attachments or [],
        "metadata": dict(metadata or {}),
        "status": status,
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
    }


def run(run_id: str, thread_id: str, assistant_id: str, created_at: int, expires_at: int) -> Obj:
    return {
        "id": run_id,
        "object": "thread.run",
        "created_at": created_at,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "status": "queued",
        "started_at": None,
        "expires_at": expires_at,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "required_action": None,
        "last_error": None,
        "model": "",
        "instructions": "",
        "tools": [],
        "metadata": {},
        "incomplete_details": None,
        "usage": None,
        "temperature": 1.0,
        "top_p": 1.0,
        "max_prompt_tokens": None,
        "max_completion_tokens": None,
        "truncation_strategy": dict(DEFAULT_TRUNCATION),
        "response_format": "auto",
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning_effort": None,
    }


def run_step(step_id: str, run_obj: Obj, created_at: int, details: Obj) -> Obj:
    return {
        "id": step_id,
        "object": "thread.run.step",
        "created_at": created_at,
        "run_id": run_obj["id"],
        "assistant_id": run_obj["assistant_id"],
        "thread_id": run_obj["thread_id"],
        "type": details["type"],
        "status": "in_progress",
        "cancelled_at": None,
        "completed_at": None,
        "expired_at": None,
        "failed_at": None,
        "last_error": None,
        "step_details": details,
        "usage": None,
        "metadata": {},
    }


def usage(prompt_tokens: int, completion_tokens: int) -> Obj:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def deleted(object_id: str, kind: str) -> Obj:
    return {"id": object_id, "object": f"{kind}.deleted", "deleted": True}
