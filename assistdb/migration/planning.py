"""What an archived thread becomes as a conversation: its items in order, and what is lost.

The plan is made from the archive alone, deterministically, so a rerun after a crash plans the
same items at the same positions (and a thread that grew since plans the same items, then more).

Mapping, in the order things happened in the thread:

* a user message's text becomes ``input_text``, an assistant message's ``output_text``;
  ``image_url`` and ``image_file`` parts become ``input_image`` (by URL or by file ID);
* the function calls of a run's ``tool_calls`` steps become ``function_call`` items followed by
  their ``function_call_output`` items, placed before the message the run then wrote (a run that
  wrote none places them after the messages that came before it);
* file search calls become ``file_search_call`` items (the API did not archive the queries);
* the thread's metadata becomes the conversation's, with ``assistdb_thread_id`` added when it
  fits within the 16 pairs.

Lossy parts (named in the plan, refused unless allowed): code interpreter calls, text
annotations, message attachments, images in assistant messages, image files the target does not
have (``missing_files``), and function calls that never got an output are kept as they are.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

MAX_BATCH = 20
MAX_METADATA_PAIRS = 16
SOURCE_KEY = "assistdb_thread_id"


@dataclass
class Plan:
    """A thread's conversation-to-be: metadata, items in order, and every lossy part."""

    thread_id: str
    metadata: dict[str, str]
    items: list[Obj] = field(default_factory=list)
    lossy: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def batches(self) -> list[list[Obj]]:
        """The requests: the create call's items, then each ``items.create`` call's."""
        return [self.items[start : start + MAX_BATCH] for start in range(0, len(self.items), MAX_BATCH)] or [
            []
        ]


def plan_thread(
    thread: Obj,
    messages: Sequence[Obj],
    runs: Sequence[Obj],
    steps: Sequence[Obj],
    *,
    missing_files: Collection[str] = (),
) -> Plan:
    """Plan one thread from its archived bodies (messages, runs and steps in creation order)."""
    plan = Plan(thread["id"], {})
    plan.metadata = _metadata(thread, plan.notes)
    steps_by_run: dict[str, list[Obj]] = {}
    for step in steps:
        steps_by_run.setdefault(step["run_id"], []).append(step)
    last_message_of_run = {m["run_id"]: m["id"] for m in messages if m.get("run_id")}
    pending_runs = [r for r in runs if r["id"] not in last_message_of_run and steps_by_run.get(r["id"])]
    emitted: dict[str, int] = {}  # run ID -> steps already placed

    def place_steps(run_id: str, until_message: str | None) -> None:
        run_steps = steps_by_run.get(run_id, [])
        start = emitted.get(run_id, 0)
        for index in range(start, len(run_steps)):
            step = run_steps[index]
            details = step.get("step_details") or {}
            if details.get("type") == "message_creation":
                if until_message is not None and details["message_creation"]["message_id"] == until_message:
                    emitted[run_id] = index + 1
                    return
                continue
            _tool_items(plan, step)
            emitted[run_id] = index + 1
        emitted[run_id] = len(run_steps)

    for message in messages:
        while pending_runs and pending_runs[0]["created_at"] < message["created_at"]:
            place_steps(pending_runs.pop(0)["id"], None)
        run_id = message.get("run_id")
        if run_id:
            place_steps(run_id, message["id"])
        plan.items.append(_message_item(plan, message, missing_files))
        if run_id and last_message_of_run.get(run_id) == message["id"]:
            place_steps(run_id, None)
    for run in pending_runs:
        place_steps(run["id"], None)
    return plan


def _metadata(thread: Obj, notes: list[str]) -> dict[str, str]:
    metadata = dict(thread.get("metadata") or {})
    if len(metadata) < MAX_METADATA_PAIRS:
        metadata[SOURCE_KEY] = thread["id"]
    else:
        notes.append(
            f"metadata holds {MAX_METADATA_PAIRS} pairs: {SOURCE_KEY} not added (the journal has it)"
        )
    return metadata


def _message_item(plan: Plan, message: Obj, missing_files: Collection[str]) -> Obj:
    role = message["role"]
    where = f"message {message['id']}"
    parts: list[Obj] = []
    for part in message.get("content") or []:
        kind = part.get("type")
        if kind == "text":
            text = part["text"]
            if text.get("annotations"):
                plan.lossy.append(f"{where}: {len(text['annotations'])} text annotation(s) dropped")
            if role == "assistant":
                parts.append({"type": "output_text", "text": text["value"], "annotations": []})
            else:
                parts.append({"type": "input_text", "text": text["value"]})
        elif kind in ("image_url", "image_file"):
            source = part[kind]
            detail = source.get("detail") or "auto"
            if role == "assistant":
                plan.lossy.append(f"{where}: an image in an assistant message cannot be an item part")
                continue
            if kind == "image_url":
                parts.append({"type": "input_image", "image_url": source["url"], "detail": detail})
            elif source["file_id"] in missing_files:
                plan.lossy.append(f"{where}: image file {source['file_id']} is not on the target; left out")
                parts.append({"type": "input_text", "text": f"[image file {source['file_id']} not migrated]"})
            else:
                parts.append({"type": "input_image", "file_id": source["file_id"], "detail": detail})
        elif kind == "refusal" and role == "assistant":
            parts.append({"type": "refusal", "refusal": part.get("refusal", "")})
        else:
            plan.lossy.append(f"{where}: a {kind} part has no item form; left out")
    if message.get("attachments"):
        plan.lossy.append(f"{where}: {len(message['attachments'])} attachment(s) not carried over")
    return {"type": "message", "role": role, "content": parts}


def _tool_items(plan: Plan, step: Obj) -> None:
    """A tool_calls step: its calls, then their outputs (parallel calls stay together)."""
    calls: list[Obj] = []
    outputs: list[Obj] = []
    for call in (step.get("step_details") or {}).get("tool_calls") or []:
        kind = call.get("type")
        if kind == "function":
            function = call["function"]
            calls.append(
                {
                    "type": "function_call",
                    "call_id": call["id"],
                    "name": function["name"],
                    "arguments": function.get("arguments") or "",
                }
            )
            if function.get("output") is not None:
                outputs.append(
                    {"type": "function_call_output", "call_id": call["id"], "output": function["output"]}
                )
            else:
                plan.notes.append(f"step {step['id']}: call {call['id']} never got an output")
        elif kind == "file_search":
            results = (call.get("file_search") or {}).get("results")
            calls.append(
                {
                    "type": "file_search_call",
                    "id": call["id"],
                    "status": "completed",
                    "queries": [],
                    "results": None if results is None else [_search_result(result) for result in results],
                }
            )
        else:
            plan.lossy.append(f"step {step['id']}: a {kind} call has no item form here; left out")
    plan.items.extend(calls)
    plan.items.extend(outputs)


def _search_result(result: Obj) -> Obj:
    content = result.get("content") or []
    text = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return {
        "file_id": result.get("file_id"),
        "filename": result.get("file_name"),
        "score": result.get("score"),
        "text": text,
    }


def comparable(item: Obj) -> tuple[Any, ...]:
    """What must be equal between a planned item and the item the target returns for it."""
    kind = item.get("type", "message")
    if kind == "message":
        return (kind, item.get("role"), tuple(_part_key(part) for part in item.get("content") or []))
    if kind == "function_call":
        return (kind, item.get("call_id"), item.get("name"), item.get("arguments"))
    if kind == "function_call_output":
        return (kind, item.get("call_id"), str(item.get("output")))
    if kind == "file_search_call":
        return (kind, item.get("id"), tuple(item.get("queries") or ()))
    return (kind, item.get("id"))


def _part_key(part: Obj) -> tuple[Any, ...]:
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return (kind, part.get("text"))
    if kind == "input_image":
        return (kind, part.get("file_id"), part.get("image_url"))
    if kind == "refusal":
        return (kind, part.get("refusal"))
    return (kind,)
