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
import time
from array import array
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar


@dataclass(frozen=True)
class EmbeddingFailure:
    """Why a text has no vector (one line, without credentials). ``status``: the upstream's
    HTTP status, if it answered one. ``refused``: the upstream refused this very text (it
    answered others of the same batch, or earlier texts), so asking again soon is pointless."""

    message: str
    status: int | None = None
    refused: bool = False


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


class Refusals:
    """Chunks whose text the upstream refused (``EmbeddingFailure.refused``), by model and chunk
    ``seq``, which the search backfill leaves alone for ``RETRY_REFUSED_SECONDS``: oldest first,
    a refused chunk would otherwise cost every search a request bound to fail. In memory, per
    process (a restart tries them again), at most ``MAX_REFUSALS``, the oldest dropped first."""

    RETRY_REFUSED_SECONDS = 3600.0
    MAX_REFUSALS = 4096

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[tuple[str, int], float] = {}

    def add(self, model: str, seqs: Sequence[int]) -> None:
        until = self._clock() + self.RETRY_REFUSED_SECONDS
        for seq in seqs:
            self._until.pop((model, seq), None)
            self._until[(model, seq)] = until
        while len(self._until) > self.MAX_REFUSALS:
            del self._until[next(iter(self._until))]

    def current(self, model: str) -> list[int]:
        """The seqs of ``model``'s refused chunks not due for another try yet."""
        now = self._clock()
        for key in [key for key, until in self._until.items() if until <= now]:
            del self._until[key]
        return [seq for (refused_by, seq) in self._until if refused_by == model]


@dataclass
class Lookup:
    """The vectors one transaction may use, and the texts it asked for that are not known yet."""

    model: str
    known: Known = field(default_factory=dict)
    missing: dict[str, None] = field(default_factory=dict)
    refusals: Refusals = field(default_factory=Refusals)

    @classmethod
    def current(cls, model: str, refusals: Refusals) -> Lookup:
        known = _known.get()
        return cls(model, {} if known is None else known, refusals=refusals)

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
