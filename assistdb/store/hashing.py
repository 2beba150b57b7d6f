"""Canonical JSON and the hashes that chain archive rows together.

A row's hash covers the previous row's hash and every field that gives the row its meaning, so
changing, removing or inserting a row breaks the chain at that row.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

GENESIS = "0" * 64
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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


def row_hash(
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
) -> str:
    fields = [
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
    return sha256_hex(canonical_json(fields))
