"""API-shaped object bodies for tests that exercise the store without a server."""

from __future__ import annotations

from typing import Any


def thread(
    thread_id: str = "thread_a", *, created_at: int = 1_700_000_000, **metadata: str
) -> dict[str, Any]:
    return {
        "id": thread_id,
        "object": "thread",
        "created_at": created_at,
        "metadata": dict(metadata),
        "tool_resources": None,
    }


def message(
    message_id: str,
    thread_id: str = "thread_a",
    *,
    text: str = "hello",
    created_at: int = 1_700_000_000,
    role: str = "user",
    run_id: str | None = None,
    assistant_id: str | None = None,
    status: str = "completed",
    **metadata: str,
) -> dict[str, Any]:
    return {
        "id": message_id,
        "object": "thread.message",
        "created_at": created_at,
        "thread_id": thread_id,
        "role": role,
        "status": status,
        "run_id": run_id,
        "assistant_id": assistant_id,
        "attachments": [],
        "completed_at": created_at,
        "incomplete_at": None,
        "incomplete_details": None,
        "metadata": dict(metadata),
        "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
    }


def run(
    run_id: str,
    thread_id: str = "thread_a",
    *,
    assistant_id: str = "asst_a",
    status: str = "completed",
    created_at: int = 1_700_000_000,
    **metadata: str,
) -> dict[str, Any]:
    return {
        "id": run_id,
        "object": "thread.run",
        "created_at": created_at,
        "thread_id": thread_id,
        "assistant_id": assistant_id,
        "status": status,
        "model": "gpt-4o",
        "instructions": "",
        "tools": [],
        "metadata": dict(metadata),
        "usage": None,
    }


def assistant(
    assistant_id: str = "asst_a",
    *,
    instructions: str = "be brief",
    created_at: int = 1_700_000_000,
    **metadata: str,
) -> dict[str, Any]:
    return {
        "id": assistant_id,
        "object": "assistant",
        "created_at": created_at,
        "name": "a",
        "description": None,
        "model": "gpt-4o",
        "instructions": instructions,
        "tools": [],
        "metadata": dict(metadata),
        "top_p": 1.0,
        "temperature": 1.0,
        "response_format": "auto",
        "tool_resources": {},
    }
