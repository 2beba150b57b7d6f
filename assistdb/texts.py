"""Text of messages, for apps and the CLI alike (no SDK import: archive-only code uses it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def message_text(message: Any) -> str:
    """The text parts of a message (an SDK ``Message`` or its JSON), joined by newlines; other
    parts (images, files) appear as a ``[type]`` placeholder."""
    body: Mapping[str, Any] = message if isinstance(message, Mapping) else message.to_dict()
    parts = []
    for part in body.get("content") or ():
        if part.get("type") == "text":
            parts.append(str(part["text"]["value"]))
        else:
            parts.append(f"[{part.get('type')}]")
    return "\n".join(parts)
