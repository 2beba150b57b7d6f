"""A thread's conversation from the archive alone: what was said, which tools were called with
what and what they answered, how each run ended, and what it cost.

Messages come in conversation order. Each run is placed where it happened: just before the
first message it wrote, or otherwise (a run that wrote nothing: failed, cancelled, waiting) among
the messages by creation time. A run's tool calls come from its steps; an output the steps lack
(submitted by a process that crashed before a sync) comes from the tool-call ledger.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from assistdb.errors import NotFoundError
from assistdb.repositories.validation import check_id
from assistdb.store import Filters, Store


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )

    @classmethod
    def of(cls, value: Any) -> Usage | None:
        if not isinstance(value, dict):
            return None
        return cls(
            int(value.get("prompt_tokens") or 0),
            int(value.get("completion_tokens") or 0),
            int(value.get("total_tokens") or 0),
        )


@dataclass(frozen=True)
class ToolCall:
    """One tool call of a run: a function's name, arguments and output, or a built-in tool."""

    id: str
    type: str
    name: str | None
    arguments: str | None
    output: str | None
    status: str | None  # the status of the step that made the call


@dataclass(frozen=True)
class MessageEntry:
    id: str
    created_at: int
    role: str
    status: str | None
    text: str
    run_id: str | None
    assistant_id: str | None
    incomplete_details: dict[str, Any] | None
    metadata: dict[str, str]
    kind: Literal["message"] = "message"


@dataclass(frozen=True)
class RunEntry:
    id: str
    created_at: int
    status: str
    assistant_id: str | None
    model: str | None
    tool_calls: list[ToolCall]
    last_error: dict[str, Any] | None
    incomplete_details: dict[str, Any] | None
    usage: Usage | None
    metadata: dict[str, str]
    kind: Literal["run"] = "run"


Entry = MessageEntry | RunEntry


@dataclass
class Transcript:
    thread_id: str
    created_at: int | None
    deleted: bool
    metadata: dict[str, str]
    entries: list[Entry] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    def to_markdown(self) -> str:
        lines = [f"# Thread {self.thread_id}", ""]
        facts = [f"created {_when(self.created_at)}"] if self.created_at is not None else []
        if self.deleted:
            facts.append("**deleted remotely**")
        facts.extend(f"{key}={value}" for key, value in self.metadata.items())
        if facts:
            lines += [" · ".join(facts), ""]
        for entry in self.entries:
            lines += _message_markdown(entry) if isinstance(entry, MessageEntry) else _run_markdown(entry)
            lines.append("")
        runs = sum(1 for entry in self.entries if isinstance(entry, RunEntry))
        lines.append(
            f"**Total**: {len(self.entries) - runs} messages, {runs} runs, {_usage_text(self.usage)}"
        )
        return "\n".join(lines) + "\n"


def build_transcript(store: Store, thread_id: str) -> Transcript:
    """The transcript of an archived thread, without any API call."""
    check_id("thread", thread_id)
    thread = store.reader.current(thread_id, include_deleted=True)
    if thread is None:
        raise NotFoundError(f"the archive has no thread {thread_id}", hint="sync it first")
    live = thread if not thread.tombstone else store.reader.last_live(thread_id)
    last_live = live.body if live is not None else {}
    transcript = Transcript(
        thread_id,
        created_at=last_live.get("created_at"),
        deleted=thread.tombstone,
        metadata=dict(last_live.get("metadata") or {}),
    )
    in_thread = Filters(thread_id=thread_id)
    steps: dict[str, list[dict[str, Any]]] = {}
    for step in store.reader.iter_find("run_step", in_thread):
        steps.setdefault(str(step.body["run_id"]), []).append(step.body)
    runs = deque(
        _run_entry(store, run.body, steps.get(run.object_id, []))
        for run in store.reader.iter_find("run", in_thread)
    )
    messages = [_message_entry(stored.body) for stored in store.reader.iter_find("message", in_thread)]
    for entry in _interleave(messages, runs):
        transcript.entries.append(entry)
        if isinstance(entry, RunEntry) and entry.usage is not None:
            transcript.usage += entry.usage
    return transcript


def _interleave(messages: list[MessageEntry], runs: deque[RunEntry]) -> Iterator[Entry]:
    """Runs placed among the messages. Times are whole seconds, so a run that wrote no message
    may share its second with the next user message; it then goes right after the user messages
    that came since the previous run (one prompt, one run)."""
    waiting = {run.id for run in runs}
    writers = {message.run_id for message in messages if message.run_id}
    prompted = False  # a user message came since the last run
    for message in messages:
        while runs and (
            runs[0].created_at < message.created_at
            or message.run_id in waiting
            or (
                prompted
                and message.run_id is None
                and runs[0].id not in writers
                and runs[0].created_at == message.created_at
            )
        ):
            run = runs.popleft()
            waiting.discard(run.id)
            prompted = False
            yield run
        prompted = prompted or message.run_id is None
        yield message
    yield from runs


def _message_entry(body: dict[str, Any]) -> MessageEntry:
    return MessageEntry(
        id=str(body["id"]),
        created_at=int(body.get("created_at") or 0),
        role=str(body.get("role")),
        status=body.get("status"),
        text=_text_of(body.get("content") or []),
        run_id=body.get("run_id"),
        assistant_id=body.get("assistant_id"),
        incomplete_details=body.get("incomplete_details"),
        metadata=dict(body.get("metadata") or {}),
    )


def _text_of(content: list[dict[str, Any]]) -> str:
    parts = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            parts.append(str(part["text"]["value"]))
        elif kind == "refusal":
            parts.append(f"[refusal] {part.get('refusal', '')}")
        elif kind == "image_file":
            parts.append(f"[image file {part.get('image_file', {}).get('file_id')}]")
        elif kind == "image_url":
            parts.append(f"[image {part.get('image_url', {}).get('url')}]")
        else:
            parts.append(f"[{kind}]")
    return "\n".join(parts)


def _run_entry(store: Store, body: dict[str, Any], steps: list[dict[str, Any]]) -> RunEntry:
    calls = [call for step in steps for call in _calls_of_step(step)]
    pending = ((body.get("required_action") or {}).get("submit_tool_outputs") or {}).get("tool_calls") or []
    known = {call.id for call in calls}
    calls += [_tool_call(call, None) for call in pending if call.get("id") not in known]
    if any(call.type == "function" and call.output is None for call in calls):
        ledger = store.tools.calls_of_run(str(body["id"]))
        calls = [
            _with_output(call, ledger[call.id].output) if call.output is None and call.id in ledger else call
            for call in calls
        ]
    return RunEntry(
        id=str(body["id"]),
        created_at=int(body.get("created_at") or 0),
        status=str(body.get("status")),
        assistant_id=body.get("assistant_id"),
        model=body.get("model"),
        tool_calls=calls,
        last_error=body.get("last_error"),
        incomplete_details=body.get("incomplete_details"),
        usage=Usage.of(body.get("usage")),
        metadata=dict(body.get("metadata") or {}),
    )


def _calls_of_step(step: dict[str, Any]) -> list[ToolCall]:
    details = step.get("step_details") or {}
    if details.get("type") != "tool_calls":
        return []
    return [_tool_call(call, step.get("status")) for call in details.get("tool_calls") or []]


def _tool_call(call: dict[str, Any], status: str | None) -> ToolCall:
    kind = str(call.get("type"))
    detail = call.get(kind) or {}
    if kind == "function":
        return ToolCall(
            str(call.get("id")),
            kind,
            detail.get("name"),
            detail.get("arguments"),
            detail.get("output"),
            status,
        )
    if kind == "code_interpreter":
        outputs = detail.get("outputs") or []
        logs = "\n".join(str(o.get("logs")) for o in outputs if o.get("type") == "logs")
        return ToolCall(str(call.get("id")), kind, None, detail.get("input"), logs or None, status)
    return ToolCall(str(call.get("id")), kind, None, None, None, status)


def _with_output(call: ToolCall, output: str | None) -> ToolCall:
    return ToolCall(call.id, call.type, call.name, call.arguments, output, call.status)


# markdown -------------------------------------------------------------------------------------


def _message_markdown(entry: MessageEntry) -> list[str]:
    facts = [f"**{entry.role}**", _when(entry.created_at), f"`{entry.id}`"]
    if entry.status not in (None, "completed"):
        facts.append(f"status: {entry.status}")
    lines = [" · ".join(facts), ""]
    lines += entry.text.splitlines() or ["*(no text)*"]
    if entry.incomplete_details:
        lines += ["", f"*incomplete: {_details(entry.incomplete_details)}*"]
    return lines


def _run_markdown(entry: RunEntry) -> list[str]:
    facts = [f"**run** `{entry.id}`", entry.status, _when(entry.created_at)]
    facts += [value for value in (entry.model, entry.assistant_id) if value]
    lines = ["> " + " · ".join(facts)]
    for call in entry.tool_calls:
        name = call.name or call.type
        output = "*(no output yet)*" if call.output is None else f"`{call.output}`"
        arguments = f"`{call.arguments}`" if call.arguments is not None else ""
        lines.append(f"> - tool `{name}` {arguments} → {output}".replace("  ", " "))
    if entry.last_error:
        lines.append(f"> - error: {_details(entry.last_error)}")
    if entry.incomplete_details:
        lines.append(f"> - incomplete: {_details(entry.incomplete_details)}")
    if entry.usage is not None:
        lines.append(f"> - usage: {_usage_text(entry.usage)}")
    return lines


def _usage_text(usage: Usage) -> str:
    return (
        f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion = {usage.total_tokens} tokens"
    )


def _details(value: dict[str, Any]) -> str:
    return ": ".join(str(v) for v in value.values() if v is not None)


def _when(unix: int | None) -> str:
    if unix is None:
        return "?"
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
