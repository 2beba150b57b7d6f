"""Canonical JSON and the hashes that chain archive rows together.

A row's hash covers the previous row's hash and every field that gives the row its meaning, so
changing, removing or inserting a row breaks the chain at that row.

Two schemes exist, and each row records which one sealed it: ``sha256`` (anyone can recompute
it, so it catches edits made without assistdb's help) and ``hmac-sha256:<key id>`` (HMAC-SHA256
under the secret in ``ASSISTDB_ARCHIVE_KEY``, so someone who can write the file but lacks the key
cannot forge a row that verifies). The key id is a short HMAC of a constant: it tells two keys
apart and reveals nothing a row hash does not. The key itself is never stored or printed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Sequence
from typing import Any

from assistdb import secrets
from assistdb.errors import InvalidInputError

GENESIS = "0" * 64
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
PLAIN = "sha256"
KEYED = "hmac-sha256"
ARCHIVE_KEY_ENV = "ASSISTDB_ARCHIVE_KEY"
MIN_KEY_LENGTH = 16


def canonical_json(value: Any) -> str:
    """One spelling per JSON value: sorted keys, no spaces, UTF-8 kept as is.

    JSON may carry a lone surrogate (``"\\ud800"``), which is not UTF-8 and so fits neither a
    database nor a hash: it stays escaped, so the text is valid UTF-8 and parses back to the
    same value. Control characters (NUL included) are always escaped by ``json.dumps``.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(canonical_body: str) -> str:
    return sha256_hex(canonical_body)


class Sealer:
    """Computes and checks row hashes, keyed when an archive key is given.

    ``scheme`` is what new rows are sealed with. Its ``repr`` never shows the key.
    """

    def __init__(self, key: str | None = None) -> None:
        if key is not None and len(key) < MIN_KEY_LENGTH:
            raise InvalidInputError(
                f"{ARCHIVE_KEY_ENV} is too short",
                hint=f"use a random secret of {MIN_KEY_LENGTH} characters or more (`openssl rand -hex 32`)",
            )
        secrets.register(key)
        self._key = key.encode("utf-8") if key else None
        self.scheme = PLAIN
        if self._key is not None:
            key_id = hmac.new(self._key, b"assistdb archive key id", hashlib.sha256).hexdigest()[:12]
            self.scheme = f"{KEYED}:{key_id}"

    @classmethod
    def from_env(cls) -> Sealer:
        return cls(os.environ.get(ARCHIVE_KEY_ENV) or None)

    @property
    def keyed(self) -> bool:
        return self._key is not None

    def __repr__(self) -> str:
        return f"Sealer(scheme={self.scheme!r})"

    def seal(self, fields: Sequence[Any]) -> str:
        """The hash of a new row with these fields, under this sealer's scheme."""
        return self._hash(self.scheme, fields)

    def check(self, scheme: str, fields: Sequence[Any], row_hash: str) -> bool | None:
        """Whether ``row_hash`` is right for ``fields`` under ``scheme``; None when the row is
        keyed and this sealer has no key (present, but its seal cannot be checked). With a key,
        a row sealed with another key is wrong: assistdb never mixes keys in one archive."""
        if scheme == PLAIN or scheme == self.scheme:
            return hmac.compare_digest(self._hash(scheme, fields), row_hash)
        if scheme.startswith(KEYED + ":") and not self.keyed:
            return None
        return False  # another key, or no such scheme: the row was changed

    def _hash(self, scheme: str, fields: Sequence[Any]) -> str:
        if scheme == PLAIN:
            return sha256_hex(canonical_json(list(fields)))
        assert self._key is not None
        text = canonical_json([*fields, scheme]).encode("utf-8")
        return hmac.new(self._key, text, hashlib.sha256).hexdigest()


PLAIN_SEALER = Sealer()


def version_fields(
    *,
    prev_hash: str,
    chain_id: str,
    chain_seq: int,
    object_type: str,
    object_id: str,
    version: int,
    tombstone: bool,
    observed_at_us: int,
    content_hash: str,
) -> list[Any]:
    """What a ``versions`` row's hash covers (its body through ``content_hash``)."""
    return [
        prev_hash,
        chain_id,
        chain_seq,
        object_type,
        object_id,
        version,
        tombstone,
        observed_at_us,
        content_hash,
    ]


def row_hash(**fields: Any) -> str:
    """The plain (``sha256``) hash of a ``versions`` row."""
    return PLAIN_SEALER.seal(version_fields(**fields))


def ledger_fields(
    *,
    prev_hash: str,
    run_id: str,
    seq: int,
    call_id: str,
    attempt: int,
    event: str,
    thread_id: str,
    function_name: str,
    arguments: str,
    output: str | None,
    is_error: bool,
    recorded_at_us: int,
) -> list[Any]:
    """What a ``tool_calls`` row's hash covers: every field of the event."""
    return [
        "tool_call",
        prev_hash,
        run_id,
        seq,
        call_id,
        attempt,
        event,
        thread_id,
        function_name,
        arguments,
        output,
        bool(is_error),
        recorded_at_us,
    ]


def tips_digest(tips: Sequence[tuple[str, int, str]]) -> str:
    """One hash over every chain's (ID, length, end hash): a state of the archive, small enough
    to keep elsewhere and compare with later (``assistdb audit verify --expect``)."""
    return sha256_hex(canonical_json(sorted([list(tip) for tip in tips])))
