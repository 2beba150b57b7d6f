"""What a tool call answers: the tool's return value as text, or a short JSON error the model
can read. Errors never carry a registered secret and never run long."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pydantic_core

from assistdb.secrets import redact

ErrorKind = Literal[
    "tool_error", "timeout", "invalid_arguments", "unknown_function", "outcome_unknown", "invalid_output"
]
MAX_ERROR_CHARS = 500
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class InvalidOutputError(ValueError):
    """A tool's result that cannot be sent and archived as text; the message says why."""


def error_output(message: str, kind: ErrorKind) -> str:
    text = _LONE_SURROGATE.sub("\ufffd", " ".join(redact(message).split()))
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return json.dumps({"error": text, "type": kind}, ensure_ascii=False)


def encode_output(value: Any) -> str:
    """A string as it is; anything else as JSON (pydantic models, dataclasses and dates included).

    Raises :class:`InvalidOutputError` for what is not valid JSON text (``NaN``, ``Infinity``),
    not Unicode text (a lone surrogate, undecodable bytes), or not storable (a NUL character in
    a string result: PostgreSQL text cannot hold it; inside a JSON value it is escaped).
    """
    if isinstance(value, str):
        text = value
    else:
        try:
            text = pydantic_core.to_json(value, serialize_unknown=True).decode()
        except pydantic_core.PydanticSerializationError as exc:
            reason = "a lone surrogate" if "surrogates not allowed" in str(exc) else "something"
            raise InvalidOutputError(f"{reason} that cannot be written as JSON text") from None
        try:
            json.loads(text, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise InvalidOutputError(str(exc)) from None
    found = _UNSTORABLE.search(text)
    if found is not None:
        what = "a NUL character" if found.group() == "\x00" else "a lone surrogate (not Unicode text)"
        raise InvalidOutputError(f"text with {what} at position {found.start()}")
    return text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name}, which is not a JSON number")


def storable(text: str) -> str:
    """``text`` with NUL characters and lone surrogates written as ``\\uXXXX`` escapes, for
    columns that record what a model sent (no database takes them as they are)."""
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
