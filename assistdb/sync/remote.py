"""The API as sync reads it: the exact JSON of objects and list pages, every request counted.

Raw responses keep the archive byte-faithful to what the API said and spare sync the SDK's model
parsing. The client gets enough retries to ride out a flaky server; a request that still fails
raises the usual assistdb error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from openai import OpenAI

from assistdb.errors import NotFoundError
from assistdb.repositories import api
from assistdb.repositories.base import PAGE_SIZE

#: Retries per request at the least: at a 20% fault rate, 9 failures in a row are a 1-in-2-million event.
MIN_RETRIES = 8
#: Requests in flight at once besides the sync's own: listings started ahead, and the steps of
#: several runs (most runs have one page of steps, so a thread with many runs costs one request
#: per run; overlapping them hides the network's round trips).
FETCHERS = 4

Body = dict[str, Any]
Page = list[Body]


class Remote:
    """Reads for one sync; ``requests`` and ``pages`` count what it cost. Close it when done."""

    def __init__(self, client: OpenAI) -> None:
        self._client = client.with_options(max_retries=max(client.max_retries, MIN_RETRIES))
        self._lock = threading.Lock()
        self._fetchers: ThreadPoolExecutor | None = None
        self.requests = 0
        self.pages = 0

    def close(self) -> None:
        if self._fetchers is not None:
            self._fetchers.shutdown(wait=False, cancel_futures=True)

    def thread(self, thread_id: str) -> Body | None:
        """The thread, or None if it is gone (404)."""
        return self._get(self._client.beta.threads.retrieve, thread_id)

    def message(self, thread_id: str, message_id: str) -> Body | None:
        return self._get(self._client.beta.threads.messages.retrieve, message_id, thread_id=thread_id)

    def run(self, thread_id: str, run_id: str) -> Body | None:
        return self._get(self._client.beta.threads.runs.retrieve, run_id, thread_id=thread_id)

    def messages(self, thread_id: str, *, after: str | None = None) -> Iterator[Page]:
        return self._pages(self._client.beta.threads.messages.list, thread_id, after=after)

    def runs(self, thread_id: str, *, after: str | None = None) -> Iterator[Page]:
        return self._pages(self._client.beta.threads.runs.list, thread_id, after=after)

    def steps(self, thread_id: str, run_id: str) -> list[Body]:
        """All steps of a run (one page for nearly every run)."""
        steps: list[Body] = []
        for page in self._pages(self._client.beta.threads.runs.steps.list, run_id, thread_id=thread_id):
            steps.extend(page)
        return steps

    def steps_of_runs(self, thread_id: str, run_ids: Sequence[str]) -> list[list[Body]]:
        """The steps of each run, in the order of ``run_ids``, fetched a few runs at a time."""
        if len(run_ids) < 2:
            return [self.steps(thread_id, run_id) for run_id in run_ids]
        return list(self._pool().map(lambda run_id: self.steps(thread_id, run_id), run_ids))

    def ahead(self, pages: Iterator[Page]) -> Iterator[Page]:
        """``pages``, with its first page requested at once, in the background; the rest is
        requested as it is iterated. Several listings started this way wait for the network
        together instead of one after the other."""
        first = self._pool().submit(next, pages, None)

        def pages_from_the_first() -> Iterator[Page]:
            page = first.result()
            if page is not None:
                yield page
                yield from pages

        return pages_from_the_first()

    def _pool(self) -> ThreadPoolExecutor:
        # Its tasks only make requests and never wait for one another, so they cannot deadlock.
        if self._fetchers is None:
            self._fetchers = ThreadPoolExecutor(FETCHERS, thread_name_prefix="assistdb-sync-fetch")
        return self._fetchers

    def assistants(self) -> Iterator[Page]:
        return self._pages(self._client.beta.assistants.list)

    def _get(self, method: Callable[..., Any], /, *args: Any, **params: Any) -> Body | None:
        try:
            body: Body = self._json(method, *args, **params)
        except NotFoundError:
            return None
        return body

    def _pages(
        self, method: Callable[..., Any], /, *args: Any, after: str | None = None, **params: Any
    ) -> Iterator[Page]:
        """Every non-empty page of a list in ascending order, from just after ``after``."""
        while True:
            cursor = {"after": after} if after is not None else {}
            page = self._json(method, *args, order="asc", limit=PAGE_SIZE, **cursor, **params)
            with self._lock:
                self.pages += 1
            data: Page = page["data"]
            if data:
                yield data
            if not data or not page.get("has_more"):
                return
            after = str(data[-1]["id"])

    def _json(self, method: Callable[..., Any], /, *args: Any, **params: Any) -> Any:
        with self._lock:
            self.requests += 1
        return api.call_raw(method, *args, **params).http_response.json()
