"""A run's round (``ModelRequest``) as a Chat Completions request body; no I/O.

The translation is the contract between the Assistants objects and the upstream model, so it
lives apart from the HTTP client and is tested rule by rule:

- the system message is the run's instructions (left out when empty);
- each thread message becomes a ``user`` or ``assistant`` message, oldest first; a text-only
  message is sent as one string (its text parts joined by newlines), a message with images as
  content parts (``image_url`` parts as they are; an ``image_file`` becomes a text part naming
  the file: the server keeps the file but does not send image bytes upstream yet);
- each earlier tool round of the run becomes an assistant message with ``tool_calls``, then one
  ``tool`` message per call with the output the client submitted;
- ``truncation_strategy: last_messages N`` keeps the newest N thread messages;
  ``max_prompt_tokens`` drops the oldest thread messages until the estimate fits (the newest
  user message, what follows it and the run's tool rounds are never dropped; if even they do not
  fit, ``PromptTooLong``);
- only ``function`` tools are offered: ``file_search`` and ``code_interpreter`` need files, which
  do not exist yet, so the model is not told about them (a ``tool_choice`` naming one of them
  leaves the choice to the model); ``tool_choice`` and ``parallel_tool_calls`` are sent only
  with tools.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from assistdb.server import run_file_search
from assistdb.server.backends.base import ModelError, ModelRequest, Obj, PromptTooLong, ToolRound

#: Which request field carries the completion-token limit: OpenAI's current name, or the older
#: ``max_tokens`` that some OpenAI-compatible servers still expect.
TokenLimitField = Literal["max_completion_tokens", "max_tokens"]

#: Model-map key that matches every model the map does not name.
ANY_MODEL = "*"

#: Tokens the estimate adds per chat message (role and separators), per image part, and once for
#: the reply's priming. Chosen to match OpenAI's published counting for its chat models closely
#: enough to budget with; the upstream's own tokenizer decides in the end.
MESSAGE_OVERHEAD = 4
IMAGE_TOKENS = 85
REPLY_PRIMING = 3


def estimate_tokens(text: str) -> int:
    """Tokens in a text: one per started group of four characters (the scripted model's count)."""
    return (len(text) + 3) // 4


def upstream_model(model: str, model_map: Mapping[str, str]) -> str:
    """The upstream's name for an assistant's model: its entry, else the ``*`` entry, else itself."""
    return model_map.get(model, model_map.get(ANY_MODEL, model))


def image_file_placeholder(file_id: str) -> str:
    return f"[image file {file_id} is attached here; files are not available to the model yet]"


def _present(source: Obj, keys: tuple[str, ...]) -> Obj:
    """The given keys of an object that are set (not missing, not null)."""
    return {key: source[key] for key in keys if source.get(key) is not None}


def _content(message: Obj) -> str | list[Obj]:
    """A thread message's content as chat content: a string, or parts when it has images."""
    parts: list[Obj] = []
    for part in message.get("content") or []:
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": part["text"]["value"]})
        elif kind == "image_url":
            parts.append({"type": "image_url", "image_url": _present(part["image_url"], ("url", "detail"))})
        elif kind == "image_file":
            parts.append({"type": "text", "text": image_file_placeholder(part["image_file"]["file_id"])})
    if message.get("role") == "assistant" or all(part["type"] == "text" for part in parts):
        # Assistant messages take no images in Chat Completions; an image there stays a note.
        return "\n".join(part["text"] if part["type"] == "text" else _image_note(part) for part in parts)
    return parts


def _image_note(part: Obj) -> str:
    return f"[image {part['image_url']['url']}]"


def chat_message(message: Obj) -> Obj:
    """One thread message (Assistants shape) as a chat message."""
    role = "assistant" if message.get("role") == "assistant" else "user"
    return {"role": role, "content": _content(message)}


def tool_round_messages(round_: ToolRound) -> list[Obj]:
    """An earlier tool round: the assistant's calls, then each call's output as a ``tool`` message."""
    calls = [
        {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
        for call in round_.calls
    ]
    outputs = [
        {"role": "tool", "tool_call_id": call.id, "content": round_.outputs.get(call.id, "")}
        for call in round_.calls
    ]
    return [{"role": "assistant", "content": None, "tool_calls": calls}, *outputs]


def function_tools(tools: Sequence[Obj]) -> list[Obj]:
    """The run's function tools in Chat Completions shape, with ``file_search`` as a function the
    server runs itself (``run_file_search``); ``code_interpreter`` is not offered."""
    offered: list[Obj] = []
    for tool in tools:
        if tool.get("type") == "file_search":
            offered.append(run_file_search.function_tool())
            continue
        if tool.get("type") != "function":
            continue
        function = _present(tool["function"], ("name", "description", "parameters", "strict"))
        offered.append({"type": "function", "function": function})
    return offered


def tool_choice(choice: Any) -> Any:
    """The run's ``tool_choice`` for the upstream; ``None`` (leave it out) for a non-function tool."""
    if isinstance(choice, str):
        return choice if choice in ("none", "auto", "required") else None
    if isinstance(choice, dict) and choice.get("type") == "function" and choice.get("function"):
        return {"type": "function", "function": {"name": choice["function"]["name"]}}
    if isinstance(choice, dict) and choice.get("type") == "file_search":
        return {"type": "function", "function": {"name": run_file_search.FUNCTION_NAME}}
    return None


def response_format(value: Any) -> Obj | None:
    """``json_object`` and ``json_schema`` as they are; ``auto`` and ``text`` are the default."""
    if not isinstance(value, dict) or value.get("type") not in ("json_object", "json_schema"):
        return None
    if value["type"] == "json_object":
        return {"type": "json_object"}
    schema = _present(value.get("json_schema") or {}, ("name", "description", "schema", "strict"))
    return {"type": "json_schema", "json_schema": schema}


def remaining_completion_tokens(request: ModelRequest) -> int | None:
    """What is left of ``max_completion_tokens`` after the run's earlier rounds (``None``: no limit)."""
    if request.max_completion_tokens is None:
        return None
    return max(0, request.max_completion_tokens - request.completion_tokens_used)


def message_tokens(message: Obj) -> int:
    """The estimate for one chat message: its text, tool calls and images, plus the overhead."""
    content = message.get("content")
    tokens = MESSAGE_OVERHEAD
    if isinstance(content, str):
        tokens += estimate_tokens(content)
    elif isinstance(content, list):
        for part in content:
            tokens += estimate_tokens(part["text"]) if part["type"] == "text" else IMAGE_TOKENS
    for call in message.get("tool_calls") or []:
        tokens += estimate_tokens(call["function"]["name"]) + estimate_tokens(call["function"]["arguments"])
    return tokens


def prompt_tokens(messages: Sequence[Obj], tools: Sequence[Obj] = ()) -> int:
    """The estimate for a whole prompt: every message, the tool definitions as JSON, the priming."""
    tools_tokens = estimate_tokens(json.dumps(list(tools), separators=(",", ":"))) if tools else 0
    return sum(message_tokens(message) for message in messages) + tools_tokens + REPLY_PRIMING


def _visible_messages(request: ModelRequest) -> list[Obj]:
    messages = list(request.messages)
    strategy = request.truncation_strategy or {}
    last = strategy.get("last_messages")
    if strategy.get("type") == "last_messages" and isinstance(last, int) and last > 0:
        messages = messages[-last:]
    return messages


def _fit(
    head: list[Obj], thread: list[Obj], tail: list[Obj], tools: list[Obj], limit: int | None
) -> list[Obj]:
    """Drop the oldest thread messages until the prompt fits ``limit``; keep the newest user turn."""
    if limit is None:
        return [*head, *thread, *tail]
    users = [at for at, message in enumerate(thread) if message["role"] == "user"]
    keep_from = users[-1] if users else max(0, len(thread) - 1)
    kept = thread[keep_from:]
    used = prompt_tokens([*head, *kept, *tail], tools)
    if used > limit:
        raise PromptTooLong(
            f"the newest turn needs about {used} prompt tokens, more than max_prompt_tokens ({limit})"
        )
    start = keep_from
    while start > 0 and used + message_tokens(thread[start - 1]) <= limit:
        start -= 1
        used += message_tokens(thread[start])
    return [*head, *thread[start:], *tail]


def chat_request(
    request: ModelRequest,
    *,
    model_map: Mapping[str, str] | None = None,
    token_limit_field: TokenLimitField = "max_completion_tokens",
) -> Obj:
    """The streaming Chat Completions request body for one round of a run.

    Raises ``PromptTooLong`` when ``max_prompt_tokens`` leaves no room for the newest user turn,
    and ``ModelError`` when there is nothing at all to send. A ``max_completion_tokens`` already
    used up is the caller's to handle (the upstream rejects a limit of 0).
    """
    head = [{"role": "system", "content": request.instructions}] if request.instructions else []
    thread = [chat_message(message) for message in _visible_messages(request)]
    tail = [message for round_ in request.tool_rounds for message in tool_round_messages(round_)]
    tools = function_tools(request.tools)
    if not (head or thread or tail):
        raise ModelError("invalid_prompt", "nothing to send to the model: no instructions and no messages")
    body: Obj = {
        "model": upstream_model(request.model, model_map or {}),
        "messages": _fit(head, thread, tail, tools, request.max_prompt_tokens),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if tools:
        body["tools"] = tools
        choice = tool_choice(request.tool_choice)
        if choice is not None:
            body["tool_choice"] = choice
        body["parallel_tool_calls"] = bool(request.parallel_tool_calls)
    remaining = remaining_completion_tokens(request)
    if remaining is not None:
        body[token_limit_field] = remaining
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    fmt = response_format(request.response_format)
    if fmt is not None:
        body["response_format"] = fmt
    return body
