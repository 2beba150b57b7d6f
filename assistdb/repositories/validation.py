"""Checks made before a request is sent, so that bad input fails fast with a clear message."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from assistdb.errors import InvalidInputError
from assistdb.store.objects import ID_PREFIXES, ObjectType

_ID_CHARS = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_LABELS: dict[ObjectType, str] = {
    "assistant": "assistant",
    "thread": "thread",
    "message": "message",
    "run": "run",
    "run_step": "run step",
    "file": "file",
    "vector_store": "vector store",
    "vs_file": "vector store file",
}
#: The API's built-in tools, named by type (``--tool`` and ``tools:`` entries in ``apply``).
BUILTIN_TOOLS = ("code_interpreter", "file_search")
METADATA_MAX_PAIRS = 16
METADATA_MAX_KEY = 64
METADATA_MAX_VALUE = 512


def check_id(object_type: ObjectType, value: Any) -> str:
    """``value`` if it can be an ID of that type; IDs of another type are refused by prefix."""
    label = _LABELS[object_type]
    if not isinstance(value, str) or not _ID_CHARS.match(value):
        raise InvalidInputError(
            f"{value!r} is not a valid {label} ID",
            hint=f"{label} IDs look like {ID_PREFIXES[object_type]}abc123",
        )
    for other, prefix in ID_PREFIXES.items():
        if other != object_type and value.startswith(prefix):
            raise InvalidInputError(
                f"{value!r} is {_a(_LABELS[other])} ID, not {_a(label)} ID",
                hint=f"{label} IDs start with {ID_PREFIXES[object_type]!r}",
            )
    return value


def _a(label: str) -> str:
    return f"an {label}" if label[0] in "aeiou" else f"a {label}"


def check_metadata(metadata: Any) -> dict[str, str] | None:
    """The API's metadata limits: at most 16 string pairs, keys ≤ 64 and values ≤ 512 characters."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(
            "metadata must be a mapping of strings to strings", hint="pass KEY=VALUE pairs"
        )
    if len(metadata) > METADATA_MAX_PAIRS:
        raise InvalidInputError(
            f"metadata has {len(metadata)} pairs; at most {METADATA_MAX_PAIRS} are allowed",
            hint="drop some pairs",
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInputError(f"metadata {key!r} must map a string to a string", hint="quote the value")
        if len(key) > METADATA_MAX_KEY:
            raise InvalidInputError(
                f"metadata key {key[:20]!r}... has {len(key)} characters; the limit is {METADATA_MAX_KEY}",
                hint="use a shorter key",
            )
        if len(value) > METADATA_MAX_VALUE:
            raise InvalidInputError(
                f"metadata value of {key!r} has {len(value)} characters; the limit is {METADATA_MAX_VALUE}",
                hint="store long values elsewhere and keep a reference",
            )
    return dict(metadata)
