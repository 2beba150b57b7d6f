"""What a run asks of a model and what a model answers, whichever model it is.

The run driver builds one ``ModelRequest`` per round (the first from the thread, later ones
after each submission of tool outputs) and consumes the backend's events as they arrive: text
deltas become ``thread.message.delta`` events, tool-call deltas ``thread.run.step.delta``
events, and ``Finished`` closes the round. Backends never touch server state, so a backend can
be swapped (scripted, Chat Completions) without the driver knowing which it talks to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Obj = dict[str, Any]

FinishReason = Literal["stop", "tool_calls", "length", "content_filter"]


@dataclass(frozen=True)
class FunctionCall:
    """One function call the model made in an earlier round of this run."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolRound:
    """An earlier round of the run: the calls the model made and the outputs the client gave."""

    calls: tuple[FunctionCall, ...]
    outputs: dict[str, str]


@dataclass(frozen=True)
class ModelRequest:
    """Everything a backend needs to answer one round of a run.

    ``messages`` are the thread's message objects (Assistants shape) visible to the run, oldest
    first; ``tools``, ``tool_choice``, ``response_format`` and ``truncation_strategy`` are in
    the Assistants shape as stored on the run object. ``run`` is the whole run object, for
    backends that need more (the scripted model reads nothing else).
    """

    run: Obj
    model: str
    instructions: str
    messages: tuple[Obj, ...]
    tool_rounds: tuple[ToolRound, ...] = ()
    tools: tuple[Obj, ...] = ()
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True
    temperature: float | None = None
    top_p: float | None = None
    response_format: Any = "auto"
    truncation_strategy: Obj = field(default_factory=lambda: {"type": "auto", "last_messages": None})
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    #: Completion tokens earlier rounds of this run already used (counted against the limit).
    completion_tokens_used: int = 0


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TextDelta:
    """A piece of the assistant's reply text."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call: ``id`` and ``name`` come with a call's first delta."""

    index: int
    arguments: str = ""
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Finished:
    """The end of a round: why it ended and what it cost (``None`` if the model did not say)."""

    reason: FinishReason
    usage: Usage | None = None


ModelEvent = TextDelta | ToolCallDelta | Finished


class ModelError(Exception):
    """The model could not answer; the run fails with ``code`` and ``message`` as its last error.

    ``code`` is one of the Assistants ``last_error`` codes: ``server_error``,
    ``rate_limit_exceeded`` or ``invalid_prompt``. The message never contains credentials.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PromptTooLong(Exception):
    """Not even the newest turn fits ``max_prompt_tokens``: the run ends ``incomplete``."""


class ModelBackend(Protocol):
    """A model the runtime can ask; ``answer`` is cancelled (the request aborted) on run cancel."""

    def answer(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Stream one round's answer; raise ``ModelError`` or ``PromptTooLong`` instead of events."""
        ...

    async def aclose(self) -> None:
        """Release connections (called once when the server stops)."""
        ...
