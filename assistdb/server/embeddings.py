"""Embeddings for hybrid file search, from the Chat Completions upstream's ``/embeddings``.

Handlers run synchronously in one database transaction, and a network call must not happen
inside one (it would hold SQLite's write lock, and the event loop, for the upstream's time). So
a transaction asks ``Tx.embeddings`` (a ``Lookup``) for the vector of each text it needs; what
the request has not computed yet is noted as missing, and the transaction is rolled back with
``NeedEmbeddings`` before it commits. The app then computes those vectors outside any
transaction, in batches (``backends.embeddings.Embedder``), and runs the handler again with them
known (``until_known``); the second pass writes chunks and their vectors together, or nothing.
The run driver computes a ``file_search`` round's query vectors before its transaction, and
runs the transaction again the same way when it needs more (chunks a search gives vectors).

A vector is stored as little-endian float32 bytes, scaled to unit length, so a cosine similarity
is a dot product. A text the upstream could not embed is known as an ``EmbeddingFailure``: a file
with such a chunk fails (``last_error``), a query with one is ranked lexically.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import sys
from array import array
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar


@dataclass(frozen=True)
class EmbeddingFailure:
    """Why a text has no vector (one line, without credentials)."""

    message: str


Known = dict[str, bytes | EmbeddingFailure]
T = TypeVar("T")

_known: contextvars.ContextVar[Known | None] = contextvars.ContextVar("assistdb_known_vectors", default=None)


@contextlib.contextmanager
def known_vectors(vectors: Known) -> Iterator[None]:
    """Make these vectors what transactions opened in this context see."""
    token = _known.set(vectors)
    try:
        yield
    finally:
        _known.reset(token)


class NeedEmbeddings(Exception):
    """A transaction needs vectors not computed yet; it was rolled back (nothing was written)."""

    def __init__(self, texts: Sequence[str]) -> None:
        super().__init__(f"{len(texts)} texts need embeddings")
        self.texts = list(texts)


async def until_known(
    attempt: Callable[[], Awaitable[T]], embed: Callable[[list[str]], Awaitable[Known]] | None, known: Known
) -> T:
    """``attempt`` (which opens its own transactions) run again, with the vectors ``embed``
    computed outside any transaction, as long as it needs some not known yet."""
    with known_vectors(known):
        while True:
            try:
                return await attempt()
            except NeedEmbeddings as need:
                fresh = [text for text in need.texts if text not in known]
                if embed is None or not fresh:
                    raise
                known.update(await embed(fresh))


@dataclass
class Lookup:
    """The vectors one transaction may use, and the texts it asked for that are not known yet."""

    model: str
    known: Known = field(default_factory=dict)
    missing: dict[str, None] = field(default_factory=dict)

    @classmethod
    def current(cls, model: str) -> Lookup:
        known = _known.get()
        return cls(model, {} if known is None else known)

    def get(self, text: str) -> bytes | EmbeddingFailure | None:
        """The text's vector or failure; ``None`` (noted as missing) if not computed yet."""
        found = self.known.get(text)
        if found is None:
            self.missing.setdefault(text, None)
        return found

    def check(self) -> None:
        """Refuse to commit a transaction that worked without vectors it needed."""
        if self.missing:
            raise NeedEmbeddings(list(self.missing))


def pack(values: Sequence[float]) -> bytes:
    """A vector as unit-length little-endian float32 bytes (all zeros stays zeros)."""
    norm = math.sqrt(math.fsum(value * value for value in values))
    scaled = array("f", (value / norm for value in values) if norm > 0 else values)
    if sys.byteorder != "little":
        scaled.byteswap()
    return scaled.tobytes()
