"""The upstream's ``/embeddings``, through the SDK, for hybrid file search (see ``server.embeddings``)."""

from __future__ import annotations

import array
import asyncio
import base64
import binascii
import json
import logging
import sys
from collections.abc import Iterable

import openai

from assistdb.server.backends.chat_completions import (
    UpstreamSettings,
    retry_delay,
    scrub,
    summary,
    upstream_detail,
)
from assistdb.server.embeddings import EmbeddingFailure, Known, pack

log = logging.getLogger(__name__)

#: Inputs per ``/embeddings`` request (OpenAI takes up to 2048; local servers prefer fewer).
BATCH_SIZE = 64
#: Statuses with which an upstream refuses the input itself (too long for the model, say).
INPUT_REFUSED = (400, 413, 422)


class Embedder:
    """``client.embeddings.create`` on the upstream, with the chat backend's URL, key, timeouts
    and retry policy; failures become ``EmbeddingFailure``s, never exceptions."""

    def __init__(self, settings: UpstreamSettings) -> None:
        if settings.embedding_model is None:
            raise ValueError("the upstream settings name no embedding model")
        self.settings = settings
        self.model = settings.embedding_model
        self._client = settings.client()
        self._answered = False  # whether the upstream has embedded anything for this process

    async def aclose(self) -> None:
        await self._client.close()

    async def embed(self, texts: Iterable[str]) -> Known:
        """Vectors of the distinct texts, in batches; after a batch fails the rest are not tried.

        A batch of several texts that the upstream refuses as input (400, 413, 422) is split in
        halves, and a refused half again, so that a text the model cannot take (a chunk longer
        than its context, say) fails alone, marked ``refused``, and its batch-mates get their
        vectors. The splitting stops when both halves of a split are refused: then the cause is
        not one text (a wrong model name, say), and the batch fails as a whole. One refused text
        in a batch of 64 costs 12 more requests; a refusal of everything, 2. A batch of one
        text is marked ``refused`` if the upstream has embedded other texts before."""
        distinct = list(dict.fromkeys(texts))
        found: Known = {}
        for start in range(0, len(distinct), BATCH_SIZE):
            batch = distinct[start : start + BATCH_SIZE]
            outcome = await self._batch(batch)
            if isinstance(outcome, list):
                found.update(zip(batch, outcome, strict=True))
                continue
            stop = await self._narrow(batch, outcome, found, proven=self._answered)
            if stop is not None:
                found.update({text: stop for text in distinct[start:] if text not in found})
                break
        return found

    async def _narrow(
        self, batch: list[str], failure: EmbeddingFailure, found: Known, *, proven: bool = True
    ) -> EmbeddingFailure | None:
        """Embed what can be of ``batch``, which failed with ``failure`` (see :meth:`embed`), into
        ``found``; return the failure that ends the embedding, if any. ``proven``: a lone text
        refused is the cause (a batch-mate, or an earlier request, was answered)."""
        if failure.status not in INPUT_REFUSED:
            return failure
        if len(batch) == 1:
            if not proven:
                return failure
            found[batch[0]] = EmbeddingFailure(failure.message, failure.status, refused=True)
            return None
        middle = len(batch) // 2
        halves = (batch[:middle], batch[middle:])
        outcomes = [await self._batch(half) for half in halves]
        failures = [outcome for outcome in outcomes if isinstance(outcome, EmbeddingFailure)]
        if len(failures) == len(halves):
            return failures[0]
        for half, outcome in zip(halves, outcomes, strict=True):
            if isinstance(outcome, list):
                found.update(zip(half, outcome, strict=True))
                continue
            stop = await self._narrow(half, outcome, found)
            if stop is not None:
                return stop
        return None

    async def _batch(self, batch: list[str]) -> list[bytes] | EmbeddingFailure:
        attempt = 0
        while True:
            try:
                # Raw: the SDK's typed answer builds a Python model field by field for every
                # float (most of an indexing's time, measured); base64 is 4 bytes a value.
                response = await self._client.embeddings.with_raw_response.create(
                    model=self.model, input=batch, encoding_format="base64"
                )
            except openai.APIError as exc:
                delay = retry_delay(self.settings, exc, attempt)
                if delay is None:
                    failure = self._failure(exc)
                    log.warning("embeddings: %s", failure.message)
                    return failure
                attempt += 1
                log.warning(
                    "embeddings at %s: %s; retry %d of %d in %.2f s",
                    self.settings.location,
                    summary(exc),
                    attempt,
                    self.settings.max_retries,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            vectors = self._vectors(response.content, len(batch))
            self._answered = self._answered or isinstance(vectors, list)
            return vectors

    def _vectors(self, content: bytes, count: int) -> list[bytes] | EmbeddingFailure:
        """The answer's vectors in input order, each base64 float32 (as asked) or a list of
        floats (an upstream that ignores ``encoding_format``)."""
        where = f"the upstream at {self.settings.location}"
        try:
            items = sorted(json.loads(content)["data"], key=lambda item: item["index"])
            vectors = [_floats(item["embedding"]) for item in items]
        except (ValueError, TypeError, KeyError, binascii.Error):
            return EmbeddingFailure(f"{where} answered embeddings this server cannot read")
        if [item["index"] for item in items] != list(range(count)):
            return EmbeddingFailure(f"{where} answered {len(items)} embeddings for {count} inputs")
        sizes = {len(vector) for vector in vectors}
        if len(sizes) != 1 or 0 in sizes:
            return EmbeddingFailure(f"{where} answered embeddings of differing or no dimensions")
        return [pack(vector) for vector in vectors]

    def _failure(self, exc: openai.APIError) -> EmbeddingFailure:
        where = f"the upstream at {self.settings.location}"
        if isinstance(exc, openai.APIStatusError):
            said = scrub(upstream_detail(exc), (self.settings.api_key,))
            return EmbeddingFailure(
                f"{where} answered HTTP {exc.status_code} for embedding model {self.model!r}: {said}",
                status=exc.status_code,
            )
        return EmbeddingFailure(f"could not reach {where} for embeddings: {summary(exc)}")


def _floats(embedding: object) -> list[float]:
    if isinstance(embedding, str):
        values = array.array("f")
        values.frombytes(base64.b64decode(embedding, validate=True))
        if sys.byteorder != "little":
            values.byteswap()
        return values.tolist()
    if isinstance(embedding, list) and all(isinstance(value, int | float) for value in embedding):
        return [float(value) for value in embedding]
    raise TypeError("an embedding is neither base64 nor a list of numbers")
