"""Object IDs shaped like the real API's: a type prefix and 24 random letters and digits."""

from __future__ import annotations

import os
import random
import string

_ALPHABET = (string.ascii_letters + string.digits).encode()
#: Maps each random byte to a letter or digit (the slight bias of 256 % 62 does not matter for IDs).
_BYTE_TO_CHAR = bytes(_ALPHABET[byte % len(_ALPHABET)] for byte in range(256))
_SUFFIX_LENGTH = 24


class IdFactory:
    """Makes IDs; with a seed the sequence is reproducible, without one it differs on every start.

    IDs only need to be unique and unguessable in practice, not secret, so a Mersenne Twister
    seeded from the OS is enough (and far faster than drawing from the OS for each ID).
    """

    def __init__(self, seed: int | str | None = None) -> None:
        self._rng = random.Random(f"ids:{seed}" if seed is not None else os.urandom(32))

    def new(self, prefix: str) -> str:
        return prefix + self._rng.randbytes(_SUFFIX_LENGTH).translate(_BYTE_TO_CHAR).decode("ascii")
