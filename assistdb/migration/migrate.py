"""Migrating archived threads to a Conversations endpoint, resumably and without duplicates.

Per thread: plan it (``planning``), create its conversation with the first 20 items, then add
the rest 20 at a time, journaling each confirmed batch in the archive (``journal``). After any
request whose fate is unknown (a timeout, a dropped connection, a 5xx) the conversation's items
are listed from the last confirmed one and matched against the plan, so a resent batch never
duplicates an item and a lost answer never skips one; a crash or Ctrl-C anywhere is the same
case on the next run. Finally every conversation is listed back and compared item by item.

One hole the API leaves: it cannot list conversations, so when the answer to a *create* is lost
the conversation made (if any) cannot be found again; the next run makes another and the journal
counts the attempts, which the outcome reports (the stray one carries ``assistdb_thread_id``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import openai

from assistdb.errors import NotFoundError
from assistdb.migration.journal import Journal
from assistdb.migration.planning import MAX_BATCH, Plan, comparable, plan_thread
from assistdb.store import Filters, Store
from assistdb.store.queries import ThreadContents

T = TypeVar("T")
Status = Literal["migrated", "planned", "refused", "failed"]
LIST_PAGE = 100


@dataclass
class ThreadOutcome:
    """What became of one thread."""

    thread_id: str
    status: Status
    conversation_id: str | None = None
    items: int = 0
    batches: int = 0
    sent: int = 0  # items confirmed by this run (added by it, or by an interrupted run before it)
    lossy: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


class ThreadFailed(Exception):
    """This thread cannot go on; the others can."""


class _Missing(ThreadFailed):
    """The endpoint answered 404."""


class _Uncertain(Exception):
    """A request may or may not have been applied (no answer, or a 5xx); or a 429."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def target_of(client: openai.OpenAI) -> str:
    """The endpoint as the journal names it: the base URL without credentials, query or slash."""
    parts = urlsplit(str(client.base_url))
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


class Migrator:
    """Migrates threads of one archive to one endpoint."""

    def __init__(
        self,
        store: Store,
        client: openai.OpenAI,
        *,
        allow_lossy: bool = False,
        retries: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.client = client.with_options(max_retries=0)
        self.allow_lossy = allow_lossy
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.journal = Journal(store.database, target_of(client))
        self._file_present: dict[str, bool] = {}

    # selection --------------------------------------------------------------------------------

    def all_threads(self, metadata: dict[str, str] | None = None) -> Iterator[str]:
        yield from self.store.reader.iter_object_ids("thread", Filters(metadata=metadata))

    # planning ---------------------------------------------------------------------------------

    def plan(self, thread_id: str, *, check_files: bool = True) -> Plan:
        return self._plan_of(thread_id, self.store.reader.thread_contents(thread_id), check_files)

    def _plan_of(self, thread_id: str, contents: ThreadContents | None, check_files: bool = True) -> Plan:
        if contents is None:
            raise NotFoundError(f"the archive has no thread {thread_id}", hint="sync it first")
        missing: set[str] = set()
        if check_files:
            missing = {file_id for file_id in _image_files(contents.messages) if not self._has_file(file_id)}
        return plan_thread(
            contents.thread, contents.messages, contents.runs, contents.steps, missing_files=missing
        )

    def _has_file(self, file_id: str) -> bool:
        """Whether the target has the file (a 404 says not; any other failure fails the thread)."""
        if file_id not in self._file_present:
            try:
                self._call(partial(self.client.files.retrieve, file_id))
                self._file_present[file_id] = True
            except _Missing:
                self._file_present[file_id] = False
        return self._file_present[file_id]

    # migrating --------------------------------------------------------------------------------

    def migrate(self, thread_id: str, *, dry_run: bool = False, verify: bool = True) -> ThreadOutcome:
        """Plan, and unless ``dry_run``, migrate one thread; failures end up in the outcome.

        ``verify=False`` leaves out the final listing (benchmarks measure it apart); the create
        call's items then stay unjournaled until a later run verifies."""
        contents = self.store.reader.thread_contents(thread_id)
        try:
            return self._carry_out(*self._planned(thread_id, contents), dry_run=dry_run, verify=verify)
        finally:
            self.journal.flush()

    def migrate_all(
        self, thread_ids: Iterable[str], *, dry_run: bool = False, verify: bool = True
    ) -> Iterator[ThreadOutcome]:
        """:meth:`migrate` each thread in turn, reading the next one from the archive (most of
        this side's own time per thread: its bodies' JSON) while the one before it is sent.

        Only that read runs beside: it makes no request, so Ctrl-C never waits on it for long."""
        read = self.store.reader.thread_contents
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="assistdb-read") as reader:
            try:
                ids = iter(thread_ids)
                current = next(ids, None)
                upcoming = None if current is None else reader.submit(read, current)
                while current is not None and upcoming is not None:
                    contents = upcoming.result()
                    following = next(ids, None)
                    upcoming = None if following is None else reader.submit(read, following)
                    yield self._carry_out(*self._planned(current, contents), dry_run=dry_run, verify=verify)
                    current = following
            finally:  # also when the caller stops early, or is interrupted
                self.journal.flush()

    def _planned(self, thread_id: str, contents: ThreadContents | None) -> tuple[ThreadOutcome, Plan | None]:
        """The thread's plan and its outcome so far (failed, with the reason, if it has none)."""
        outcome = ThreadOutcome(thread_id, "failed")
        try:
            plan = self._plan_of(thread_id, contents)
        except (NotFoundError, ThreadFailed) as exc:
            outcome.error = str(exc)
            return outcome, None
        outcome.items, outcome.batches = len(plan.items), len(plan.batches())
        outcome.lossy, outcome.notes = plan.lossy, plan.notes
        return outcome, plan

    def _carry_out(
        self, outcome: ThreadOutcome, plan: Plan | None, *, dry_run: bool, verify: bool
    ) -> ThreadOutcome:
        if plan is None:
            return outcome
        if dry_run:
            outcome.status = "planned"
            return outcome
        if plan.lossy and not self.allow_lossy:
            outcome.status = "refused"
            outcome.error = f"{len(plan.lossy)} lossy part(s); allow_lossy=True migrates it anyway"
            return outcome
        try:
            self._migrate(plan, outcome)
            if verify:
                self._verify(plan, outcome)
        except ThreadFailed as exc:
            outcome.error = str(exc)
            return outcome
        outcome.status = "migrated"
        return outcome

    def _migrate(self, plan: Plan, outcome: ThreadOutcome) -> None:
        try:
            self._send_rest(plan, outcome)
            self.journal.settle()  # a failure to record the conversation is this thread's
        except BaseException:  # even on Ctrl-C: what was confirmed is journaled, or lost only to a crash
            self.journal.flush()
            raise

    def _send_rest(self, plan: Plan, outcome: ThreadOutcome) -> None:
        progress = self.journal.start(plan.thread_id)  # notes the create when one is to come
        if progress.attempts > 0 and progress.conversation_id is None:
            outcome.notes.append(
                f"{progress.attempts} earlier create(s) got no answer; a conversation with "
                f"metadata assistdb_thread_id={plan.thread_id} may have been left on the target"
            )
        conversation_id = progress.conversation_id
        confirmed, last = progress.confirmed, progress.last_item_id
        if conversation_id is None:
            conversation_id = self._create(plan, noted=True)
            # The create answered, so its items are in; their IDs are journaled by the verify
            # (or by a reconcile, which lists from the start while no ID is known).
            confirmed, last = len(plan.items[:MAX_BATCH]), None
        else:
            confirmed, last = self._reconcile(plan, conversation_id, confirmed, last)
        outcome.conversation_id = conversation_id
        failures = 0
        while confirmed < len(plan.items):
            batch = plan.items[confirmed : confirmed + MAX_BATCH]
            try:
                added = self._send(partial(self._add_items, conversation_id, batch))
            except _Uncertain as exc:
                failures += 1
                if failures > self.retries:
                    raise ThreadFailed(f"gave up after {failures} failed requests: {exc}") from None
                self.sleep(self._delay(failures, exc))
                confirmed, last = self._reconcile(plan, conversation_id, confirmed, last)
                continue
            ids = [str(item["id"]) for item in added]
            self._check_answer(plan, confirmed, added)
            self.journal.confirm(conversation_id, confirmed, ids)
            confirmed += len(ids)
            last = ids[-1] if ids else last
            failures = 0
        outcome.sent = confirmed - progress.confirmed

    def _add_items(self, conversation_id: str, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answer = self._request("post", f"{_path(conversation_id)}/items", body={"items": batch})
        # Applied or not, a rerun finds out by listing the conversation.
        return _items_of(answer, "items.create")

    def _request(
        self, method: Literal["get", "post"], path: str, *, body: Any = None, query: Any = None
    ) -> Any:
        """One request through the SDK's generic ``get``/``post`` (its auth, headers, timeouts
        and errors), answered with the JSON as it came.

        Not the typed ``conversations`` methods: the items are wire JSON already (the plan makes
        them), and those methods' walk over every item's typed shape, then the typed answer
        turned back into plain items, took most of this side's time per batch (profiled: three
        quarters of a migration's CPU time, on both sides of ``bench_migrate``)."""
        if method == "post":
            raw = self.client.post(path, body=body, cast_to=bytes)
        else:
            raw = self.client.get(path, options={"params": query}, cast_to=bytes)
        try:
            return json.loads(raw)
        except ValueError:
            raise ThreadFailed(f"the endpoint's answer to {method.upper()} {path} is not JSON") from None

    def _create(self, plan: Plan, *, noted: bool) -> str:
        """Create the conversation with the first items; each create is noted in the journal
        before it is sent (the first already is when ``noted``)."""
        body = {"metadata": plan.metadata, "items": plan.items[:MAX_BATCH]}
        for attempt in range(self.retries + 1):
            if attempt or not noted:
                self.journal.attempt(plan.thread_id)
            try:
                answer = self._send(partial(self._request, "post", "/conversations", body=body))
            except _Uncertain as exc:
                if attempt == self.retries:
                    raise ThreadFailed(f"could not create the conversation: {exc}") from None
                self.sleep(self._delay(attempt + 1, exc))
                continue
            conversation_id = answer.get("id") if isinstance(answer, dict) else None
            if not isinstance(conversation_id, str) or not conversation_id:
                raise ThreadFailed("the endpoint's answer to conversations.create names no conversation")
            self.journal.created(plan.thread_id, conversation_id)
            return conversation_id
        raise AssertionError("unreachable")

    def _reconcile(
        self, plan: Plan, conversation_id: str, confirmed: int, last: str | None
    ) -> tuple[int, str | None]:
        """Journal the items the target holds beyond the last journaled one (all of them when
        none is), checking each against the plan; return the new count and last item ID."""
        start = 0 if last is None else confirmed
        found = list(self._list(conversation_id, after=last))
        if not found:
            return start, last
        self._check_answer(plan, start, found)
        self.journal.confirm(conversation_id, start, [item["id"] for item in found])
        return start + len(found), found[-1]["id"]

    def _check_answer(self, plan: Plan, start: int, items: list[dict[str, Any]]) -> None:
        for offset, item in enumerate(items):
            position = start + offset
            if position >= len(plan.items) or comparable(item) != comparable(plan.items[position]):
                raise ThreadFailed(
                    f"the conversation holds item {item.get('id')} at position {position}, "
                    "which is not the planned item there; it was changed outside this migration"
                )

    def _verify(self, plan: Plan, outcome: ThreadOutcome) -> None:
        assert outcome.conversation_id is not None
        items = list(self._list(outcome.conversation_id, after=None))
        if len(items) != len(plan.items):
            raise ThreadFailed(
                f"verify: conversation {outcome.conversation_id} holds {len(items)} items, "
                f"the plan {len(plan.items)}"
            )
        self._check_answer(plan, 0, items)
        self.journal.confirm_missing(outcome.conversation_id, [item["id"] for item in items])

    def _list(self, conversation_id: str, *, after: str | None) -> Iterator[dict[str, Any]]:
        while True:
            kwargs: dict[str, Any] = {"order": "asc", "limit": LIST_PAGE}
            if after is not None:
                kwargs["after"] = after
            page = self._call(partial(self._request, "get", f"{_path(conversation_id)}/items", query=kwargs))
            items = _items_of(page, "items.list")
            yield from items
            if not page.get("has_more") or not items:
                return
            after = str(items[-1].get("id"))

    # requests ---------------------------------------------------------------------------------

    def _send(self, request: Callable[[], T]) -> T:
        """One attempt: an answer, :class:`_Uncertain`, or :class:`ThreadFailed` for a refusal."""
        try:
            return request()
        except openai.APIStatusError as exc:
            if exc.status_code in (408, 409, 429) or exc.status_code >= 500:
                raise _Uncertain(_describe(exc), _retry_after(exc)) from None
            refused = _Missing if exc.status_code == 404 else ThreadFailed
            raise refused(f"the endpoint refused a request: {_describe(exc)}") from None
        except openai.APIConnectionError as exc:
            raise _Uncertain(f"no answer ({type(exc).__name__})") from None

    def _call(self, request: Callable[[], T]) -> T:
        """A request that changes nothing, retried with backoff."""
        for attempt in range(self.retries + 1):
            try:
                return self._send(request)
            except _Uncertain as exc:
                if attempt == self.retries:
                    raise ThreadFailed(f"gave up after {attempt + 1} attempts: {exc}") from None
                self.sleep(self._delay(attempt + 1, exc))
        raise AssertionError("unreachable")

    def _delay(self, failures: int, failure: _Uncertain) -> float:
        """Exponential backoff, or longer if the endpoint's ``Retry-After`` asks (up to a minute)."""
        delay = min(self.backoff * 2 ** (failures - 1), 8.0)
        return float(max(delay, min(failure.retry_after or 0.0, 60.0)))


def _retry_after(exc: openai.APIStatusError) -> float | None:
    """The wait the endpoint asks for: ``retry-after-ms`` if given (as the SDK reads it), else
    ``Retry-After`` in seconds."""
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return float(headers.get(name, "")) * scale
        except ValueError:
            continue
    return None


def _describe(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") if isinstance(body.get("message"), str) else exc.message
    return f"{exc.status_code} {message}"


def _path(conversation_id: str) -> str:
    return f"/conversations/{quote(conversation_id, safe='')}"


def _items_of(answer: Any, call: str) -> list[dict[str, Any]]:
    data = answer.get("data") if isinstance(answer, dict) else None
    if not (isinstance(data, list) and all(isinstance(item, dict) for item in data)):
        raise ThreadFailed(f"the endpoint's answer to {call} holds no list of items")
    return data


def _image_files(messages: list[dict[str, Any]]) -> Iterator[str]:
    for message in messages:
        if message.get("role") != "user":
            continue
        for part in message.get("content") or []:
            if part.get("type") == "image_file":
                yield str(part["image_file"]["file_id"])
