"""The deterministic stand-in for a model.

A run follows commands written in the last user message of its thread (see docs/server.md):
``/tool NAME {json}`` asks for a function call, ``/then`` starts another round of calls,
``/fail MESSAGE``, ``/incomplete`` and ``/expire`` choose how the run ends, ``/sleep SECONDS``
slows its first phase, ``/search QUERY`` calls the ``file_search`` tool (the reply then quotes
the best result and cites it as ``【n†filename】``). Anything else is answered with a reply
quoting the user's text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

Ending = Literal["reply", "fail", "incomplete", "expire"]

GREETING = "Hello! How can I assist you today?"
DEFAULT_FAILURE = "The scripted model was told to fail."
#: The function name under which runs offer ``file_search`` (``run_file_search.FUNCTION_NAME``).
SEARCH_FUNCTION = "file_search"
NO_RESULTS = "I found nothing about that in the files."


@dataclass(frozen=True)
class ToolCallRequest:
    name: str
    arguments: str


@dataclass(frozen=True)
class Script:
    """What a run will do, read once when the run starts."""

    rounds: tuple[tuple[ToolCallRequest, ...], ...] = ()
    ending: Ending = "reply"
    fail_message: str = DEFAULT_FAILURE
    sleep: float = 0.0


def tokens(text: str) -> int:
    """Token count of a text: one token per started group of four characters."""
    return (len(text) + 3) // 4


def read_script(text: str | None) -> Script:
    """Parse the commands of a user message; lines that are not commands are ignored here."""
    if not text:
        return Script()
    rounds: list[list[ToolCallRequest]] = [[]]
    ending: Ending = "reply"
    fail_message = DEFAULT_FAILURE
    sleep = 0.0
    for raw in text.splitlines():
        line = raw.strip()
        command, _, rest = line.partition(" ")
        rest = rest.strip()
        if command == "/tool" and rest:
            name, _, arguments = rest.partition(" ")
            rounds[-1].append(ToolCallRequest(name=name, arguments=arguments.strip() or "{}"))
        elif command == "/search" and rest:
            rounds[-1].append(ToolCallRequest(name=SEARCH_FUNCTION, arguments=json.dumps({"query": rest})))
        elif line == "/then":
            rounds.append([])
        elif command == "/fail":
            ending, fail_message = "fail", rest or DEFAULT_FAILURE
        elif line == "/incomplete":
            ending = "incomplete"
        elif line == "/expire":
            ending = "expire"
        elif command == "/sleep":
            try:
                sleep += max(0.0, float(rest))
            except ValueError:
                continue
    kept = tuple(tuple(calls) for calls in rounds if calls)
    return Script(rounds=kept, ending=ending, fail_message=fail_message, sleep=sleep)


def reply_text(user_text: str | None, outputs: list[tuple[str, str]]) -> str:
    """The assistant's answer: one ``NAME -> OUTPUT`` line per tool call, else an echo."""
    if outputs:
        return "\n".join(
            _cite(output) if name == SEARCH_FUNCTION else f"{name} -> {output}" for name, output in outputs
        )
    if user_text:
        return f"You said: {user_text}"
    return GREETING


def text_chunks(text: str, most: int = 32) -> list[str]:
    """Split a text into word-sized pieces (at most ``most``) for streamed deltas."""
    pieces: list[str] = []
    word = ""
    for char in text:
        if char.isspace() and word and not word.isspace():
            pieces.append(word)
            word = ""
        word += char
    if word:
        pieces.append(word)
    if len(pieces) <= most:
        return pieces or [""]
    size = -(-len(pieces) // most)
    return ["".join(pieces[at : at + size]) for at in range(0, len(pieces), size)]


def _cite(output: str) -> str:
    """A reply to file_search results: the best passage's first sentence, cited."""
    try:
        results = json.loads(output).get("results") or []
    except (ValueError, AttributeError):
        results = []
    if not results:
        return NO_RESULTS
    best = results[0]
    quote = " ".join(str(best["text"]).split())[:200]
    return f"{best['filename']} says: {quote} 【{best['n']}†{best['filename']}】"
