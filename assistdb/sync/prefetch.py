"""Overlapping the network with the database: the next batch downloads while this one is written.

The producer runs in a background thread and stays at most one batch ahead (a queue of one), so
memory stays flat however long the listing is.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Generic, Literal, TypeVar

T = TypeVar("T")

_POLL_SECONDS = 0.1
_Entry = tuple[Literal["item", "error", "end"], object]


class Prefetched(Generic[T]):
    """Iterate ``source`` (a generator, run in a background thread); its errors re-raise here."""

    def __init__(self, source: Iterator[T], *, name: str) -> None:
        self._queue: queue.Queue[_Entry] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(source,), name=name, daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[T]:
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]

    def close(self, timeout: float = 1.0) -> None:
        """Stop the producer: it exits at its next hand-over (a request in flight may finish)."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout)

    def __enter__(self) -> Prefetched[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _produce(self, source: Iterator[T]) -> None:
        try:
            for item in source:
                if not self._put(("item", item)):
                    return
        except BaseException as exc:
            self._put(("error", exc))
        else:
            self._put(("end", None))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def _put(self, entry: _Entry) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False
