"""Keeping API keys out of everything assistdb writes: messages, logs, exports, the database.

Whoever builds a client registers its key here; :func:`redact` then masks it in any text, and
:class:`RedactingFilter` does the same for log records.
"""

from __future__ import annotations

import logging
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "[redacted]"


def register(secret: str | None) -> None:
    """Remember a secret so that it is masked wherever assistdb prints or logs text."""
    if secret and len(secret) >= 4:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks registered secrets in a record's final message (attach it to handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
