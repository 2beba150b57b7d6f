"""The scripted model as a ``ModelBackend``: deterministic answers steered by the user's text.

The commands of the thread's last user message (``scripted_model.read_script``) decide each
round: tool calls, a failure, an incomplete or expiring run, or a reply quoting the user. Each
round takes ``run_latency`` seconds (plus any ``/sleep`` in the first): a tenth of it before the
model starts answering (the run is ``queued``), the rest before the answer is delivered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from assistdb.server import objects
from assistdb.server.backends.base import (
    Finished,
    ModelError,
    ModelEvent,
    ModelRequest,
    PromptTooLong,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from assistdb.server.config import ServerConfig
from assistdb.server.scripted_model import SEARCH_FUNCTION, read_script, reply_text, text_chunks, tokens

#: Share of ``run_latency`` a round spends before the model starts answering.
QUEUED_SHARE = 0.1


class ExpireRun(Exception):
    """``/expire``: the run ends ``expired`` at the end of its last round."""


class ScriptedBackend:
    """Answers runs by the script in the thread's last user message; no network, no key."""

    def __init__(self, config: ServerConfig, new_id: Callable[[str], str]) -> None:
        self.config = config
        self.new_id = new_id

    async def aclose(self) -> None:
        return None

    async def answer(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        latency = self.config.run_latency
        user_text = _last_user_text(request.messages)
        script = read_script(user_text)
        rounds = [list(calls) for calls in script.rounds]
        if request.tool_choice == "none":
            rounds = []
        elif not request.parallel_tool_calls:
            rounds = [[call] for calls in rounds for call in calls]
        phase = len(request.tool_rounds)
        phase_length = latency + (script.sleep if phase == 0 else 0.0)
        queued = latency * QUEUED_SHARE
        outputs = [
            (call.name, tool_round.outputs.get(call.id, ""))
            for tool_round in request.tool_rounds
            for call in tool_round.calls
        ]
        prompt = (
            tokens(request.instructions) + _context_tokens(request) + sum(tokens(out) for _, out in outputs)
        )
        limit = request.max_prompt_tokens
        if limit is not None and prompt > limit:
            await asyncio.sleep(phase_length)
            raise PromptTooLong(f"the prompt takes {prompt} tokens, more than max_prompt_tokens {limit}")
        if phase < len(rounds):
            calls = rounds[phase]
            offered = {tool["function"]["name"] for tool in request.tools if tool.get("type") == "function"}
            if any(tool.get("type") == "file_search" for tool in request.tools):
                offered.add(SEARCH_FUNCTION)
            unknown = [call.name for call in calls if call.name not in offered]
            if unknown:
                await asyncio.sleep(phase_length)
                message = unknown_function_message(unknown[0], offered)
                raise ModelError("invalid_prompt", message)
            await asyncio.sleep(queued)
            # Clients expect each call's deltas together: the first call's header opens the step.
            yield ToolCallDelta(index=0, id=self.new_id("call_"), name=calls[0].name)
            await asyncio.sleep(max(0.0, phase_length - queued))
            for index, call in enumerate(calls):
                if index:
                    yield ToolCallDelta(index=index, id=self.new_id("call_"), name=call.name)
                for chunk in text_chunks(call.arguments):
                    yield ToolCallDelta(index=index, arguments=chunk)
            completion = sum(tokens(call.arguments) for call in calls)
            yield Finished("tool_calls", Usage(prompt, completion))
            return
        if script.ending == "fail":
            await asyncio.sleep(phase_length)
            raise ModelError("server_error", script.fail_message)
        if script.ending == "expire":
            await asyncio.sleep(phase_length)
            raise ExpireRun
        await asyncio.sleep(queued)
        yield TextDelta("")
        await asyncio.sleep(max(0.0, phase_length - queued))
        text = reply_text(user_text, outputs)
        cut_short = script.ending == "incomplete"
        if cut_short:
            text = text[: len(text) // 2]
        budget = request.max_completion_tokens
        if budget is not None and request.completion_tokens_used + tokens(text) > budget:
            text = text[: max(0, budget - request.completion_tokens_used) * 4]
            cut_short = True
        for chunk in text_chunks(text):
            if chunk:
                yield TextDelta(chunk)
        yield Finished("length" if cut_short else "stop", Usage(prompt, tokens(text)))


def _last_user_text(messages: tuple[objects.Obj, ...]) -> str | None:
    for message in reversed(messages):
        if message["role"] == "user":
            return objects.text_of(message)
    return None


def _context_tokens(request: ModelRequest) -> int:
    messages = request.messages
    truncation = request.truncation_strategy
    if truncation.get("type") == "last_messages" and truncation.get("last_messages"):
        messages = messages[-int(truncation["last_messages"]) :]
    return sum(tokens(objects.text_of(message)) for message in messages)


def unknown_function_message(name: str, offered: set[str]) -> str:
    """How a run fails when the model calls a function the run does not offer."""
    message = f"The model called the function '{name}', which is not among the tools of this run"
    return message + (
        f" (offered: {', '.join(sorted(offered))})." if offered else " (it offers no functions)."
    )
