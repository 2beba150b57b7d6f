"""What a tool call answers: the tool's return value as text, or a short JSON error the model
can read. Errors never carry a registered secret and never run long."""

from __future__ import annotations

import json
from typing import Any, Literal

import pydantic_core

from assistdb.secrets import redact

ErrorKind = Literal["tool_error", "timeout", "invalid_arguments", "unknown_function", "outcome_unknown"]
MAX_ERROR_CHARS = 500


def error_output(message: str, kind: ErrorKind) -> str:
    text = " ".join(redact(message).split())
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return json.dumps({"error": text, "type": kind}, ensure_ascii=False)


def encode_output(value: Any) -> str:
    """A string as it is; anything else as JSON (pydantic models, dataclasses and dates included)."""
    if isinstance(value, str):
        return value
    return pydantic_core.to_json(value, serialize_unknown=True).decode()
