"""Building large, realistic threads directly in the store, for benchmarks and sync tests.

A seeded thread is made of the same objects the API makes: user messages, and assistant replies
each produced by a completed run with a completed ``message_creation`` step and token usage.
Timestamps are spread one second apart, ending now. Rows go to the database in bulk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assistdb.server import objects, tables
from assistdb.server.errors import invalid
from assistdb.server.lifecycle import new_driver_state
from assistdb.server.objects import Obj
from assistdb.server.operations import configure_run
from assistdb.server.request_models import RunSettings
from assistdb.server.scripted_model import reply_text, tokens
from assistdb.server.state import ServerState, Tx, encode

SEED_MODEL = "gpt-4o"


def seed_thread(
    store: ServerState,
    clock: Callable[[], float],
    *,
    messages: int,
    runs: int = 0,
    metadata: dict[str, str] | None = None,
    assistant_id: str | None = None,
) -> str:
    """Create a thread of ``messages`` messages, ``runs`` of them assistant replies; return its ID.

    Everything is inserted in bulk in one transaction, in creation order.
    """
    if messages < 0 or runs < 0:
        raise invalid("Invalid seed: 'messages' and 'runs' must not be negative.", param="messages")
    if runs > messages:
        raise invalid(
            f"Invalid 'runs': each run adds one of the messages, "
            f"so runs ({runs}) cannot exceed messages ({messages}).",
            param="runs",
        )
    with store.writing() as tx:
        if assistant_id is not None:
            assistant = tx.assistant(assistant_id)
        else:
            assistant = objects.assistant(tx.new_id("asst_"), int(clock()))
            assistant.update(name="assistdb seeding assistant", model=SEED_MODEL)
            tx.add_assistant(assistant)
        start = int(clock()) - messages
        thread = objects.thread(tx.new_id("thread_"), start, {}, metadata)
        tx.add_thread(thread)
        seeded = _Seeded(thread["id"])
        replies = {(k + 1) * messages // runs - 1 for k in range(runs)} if runs else set()
        settings = RunSettings(assistant_id=assistant["id"])
        last_user_text: str | None = None
        for position in range(messages):
            at = start + position
            if position in replies:
                _seed_reply(tx, seeded, assistant, settings, at, last_user_text)
            else:
                last_user_text = f"Seeded message {position + 1}"
                seeded.add_user_message(tx.new_id("msg_"), at, last_user_text)
        tx.insert_many(tables.messages, seeded.messages)
        tx.insert_many(tables.runs, seeded.runs)
        tx.insert_many(tables.steps, seeded.steps)
    return str(thread["id"])


class _Seeded:
    """Rows of one seeded thread, inserted together at the end."""

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        self.messages: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.message_tokens = 0
        content = [{"type": "text", "text": {"value": "\x00text\x00", "annotations": []}}]
        sample = objects.message("\x00id\x00", thread_id, 0, role="user", content=content)
        sample["created_at"] = "\x00at\x00"
        self._user_template = (
            encode(sample)
            .replace("{", "{{")
            .replace("}", "}}")
            .replace('"\\u0000id\\u0000"', '"{id}"')
            .replace('"\\u0000at\\u0000"', "{at}")
            .replace('"\\u0000text\\u0000"', "{text}")
        )

    def add_user_message(self, message_id: str, at: int, text: str) -> None:
        """A user message, its JSON written from a template (the bulk of a large seed)."""
        self.message_tokens += tokens(text)
        body = self._user_template.format(id=message_id, at=at, text=encode(text))
        self.messages.append({"id": message_id, "thread_id": self.thread_id, "run_id": None, "body": body})

    def add_message(self, message: Obj, text: str) -> None:
        self.message_tokens += tokens(text)
        self.messages.append(
            {"id": message["id"], "thread_id": self.thread_id, "run_id": message["run_id"], "body": message}
        )


def _seed_reply(
    tx: Tx, seeded: _Seeded, assistant: Obj, settings: RunSettings, at: int, user_text: str | None
) -> None:
    run_obj = objects.run(tx.new_id("run_"), seeded.thread_id, assistant["id"], at, 0)
    configure_run(run_obj, assistant, settings, None)
    prompt = tokens(run_obj["instructions"]) + seeded.message_tokens
    text = reply_text(user_text, [])
    usage = objects.usage(prompt, tokens(text))
    run_obj.update(status="completed", started_at=at, completed_at=at, expires_at=None, usage=usage)
    seeded.runs.append(
        {
            "id": run_obj["id"],
            "thread_id": seeded.thread_id,
            "status": "completed",
            "body": run_obj,
            "driver": encode(new_driver_state()),
            "expire_at": float(at),
        }
    )
    message_id = tx.new_id("msg_")
    step = objects.run_step(
        tx.new_id("step_"),
        run_obj,
        at,
        {"type": "message_creation", "message_creation": {"message_id": message_id}},
    )
    step.update(status="completed", completed_at=at, usage=dict(usage))
    seeded.steps.append(
        {"id": step["id"], "run_id": run_obj["id"], "thread_id": seeded.thread_id, "body": step}
    )
    content = [{"type": "text", "text": {"value": text, "annotations": []}}]
    message = objects.message(
        message_id,
        seeded.thread_id,
        at,
        role="assistant",
        content=content,
        assistant_id=assistant["id"],
        run_id=run_obj["id"],
    )
    message["completed_at"] = at
    seeded.add_message(message, text)
