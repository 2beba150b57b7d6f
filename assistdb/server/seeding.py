"""Building large, realistic threads directly in the store, for benchmarks and sync tests.

A seeded thread is made of the same objects the API makes: user messages, and assistant replies
each produced by a completed run with a completed ``message_creation`` step and token usage.
Timestamps are spread one second apart, ending now.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from assistdb.server import objects
from assistdb.server.errors import invalid
from assistdb.server.objects import Obj
from assistdb.server.operations import configure_run
from assistdb.server.request_models import RunSettings
from assistdb.server.run_plan import finished_plan
from assistdb.server.scripted_model import reply_text, tokens
from assistdb.server.state import Store, ThreadState

SEED_MODEL = "gpt-4o"


def seed_thread(
    store: Store,
    clock: Callable[[], float],
    *,
    messages: int,
    runs: int = 0,
    metadata: dict[str, str] | None = None,
    assistant_id: str | None = None,
) -> str:
    """Create a thread of ``messages`` messages, ``runs`` of them assistant replies; return its ID.

    The cyclic garbage collector is paused meanwhile (repeated collections over a growing heap
    would make seeding quadratic), and the heap is frozen afterwards: the seeded objects live as
    long as the server, and without freezing the collector would walk all of them, stalling
    requests for seconds, each time they move up a generation.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _seed(store, clock, messages, runs, metadata, assistant_id)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def _seed(
    store: Store,
    clock: Callable[[], float],
    messages: int,
    runs: int,
    metadata: dict[str, str] | None,
    assistant_id: str | None,
) -> str:
    if messages < 0 or runs < 0:
        raise invalid("Invalid seed: 'messages' and 'runs' must not be negative.", param="messages")
    if runs > messages:
        raise invalid(
            f"Invalid 'runs': each run adds one of the messages, "
            f"so runs ({runs}) cannot exceed messages ({messages}).",
            param="runs",
        )
    if assistant_id is not None:
        assistant = store.assistant(assistant_id)
    else:
        assistant = objects.assistant(store.new_id("asst_"), int(clock()))
        assistant.update(name="assistdb seeding assistant", model=SEED_MODEL)
        store.add_assistant(assistant)
    start = int(clock()) - messages
    thread = store.add_thread(objects.thread(store.new_id("thread_"), start, {}, metadata))
    replies = {(k + 1) * messages // runs - 1 for k in range(runs)} if runs else set()
    settings = RunSettings(assistant_id=assistant["id"])
    last_user_text: str | None = None
    for position in range(messages):
        at = start + position
        if position in replies:
            _seed_reply(store, thread, assistant, settings, at, last_user_text)
        else:
            last_user_text = f"Seeded message {position + 1}"
            content = [{"type": "text", "text": {"value": last_user_text, "annotations": []}}]
            store.add_message(
                objects.message(store.new_id("msg_"), thread.obj["id"], at, role="user", content=content)
            )
    return str(thread.obj["id"])


def _seed_reply(
    store: Store, thread: ThreadState, assistant: Obj, settings: RunSettings, at: int, user_text: str | None
) -> None:
    run_obj = objects.run(store.new_id("run_"), thread.obj["id"], assistant["id"], at, 0)
    configure_run(run_obj, assistant, settings, None)
    prompt = tokens(run_obj["instructions"]) + thread.message_tokens
    text = reply_text(user_text, [])
    usage = objects.usage(prompt, tokens(text))
    run_obj.update(status="completed", started_at=at, completed_at=at, expires_at=None, usage=usage)
    store.add_run(run_obj, finished_plan())
    message_id = store.new_id("msg_")
    step = objects.run_step(
        store.new_id("step_"),
        run_obj,
        at,
        {"type": "message_creation", "message_creation": {"message_id": message_id}},
    )
    step.update(status="completed", completed_at=at, usage=dict(usage))
    store.add_step(step)
    content = [{"type": "text", "text": {"value": text, "annotations": []}}]
    message = objects.message(
        message_id,
        thread.obj["id"],
        at,
        role="assistant",
        content=content,
        assistant_id=assistant["id"],
        run_id=run_obj["id"],
    )
    message["completed_at"] = at
    store.add_message(message)
