"""Canonical JSON and the hashes that chain archive rows together.

A row's hash covers the previous row's hash and every field that gives the row its meaning, so
changing, removing or inserting a row breaks the chain at that row.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """One spelling per JSON value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


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
