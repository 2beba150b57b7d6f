"""The server's objects in its database: reads and writes inside one transaction (``Tx``).

Handlers and the run driver open a transaction, read and change what they need, and commit, so
every request sees and leaves the state consistent whichever process served the one before.
The server keeps no object in memory between requests: lists page through the database by
``seq`` (keyset pagination), so a page costs its own length whatever the collection's size.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    Integer,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from assistdb.server import tables
from assistdb.server.embeddings import Lookup, Refusals
from assistdb.server.errors import invalid, not_found
from assistdb.server.event_wakeups import CHANNEL
from assistdb.server.ids import IdFactory
from assistdb.server.objects import Obj
from assistdb.server.pagination import PageRequest
from assistdb.store.database import Database

#: A stored stream event of a run: its number in the run's stream, its name and its JSON data.
Event = tuple[int, str, str]

_KIND_NAMES = {
    "server_assistants": "assistant",
    "server_threads": "thread",
    "server_messages": "message",
    "server_runs": "run",
    "server_steps": "run step",
}


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode(obj: Any) -> str:
    return _ENCODER.encode(obj)


def decode(text: str) -> Any:
    return json.loads(text)


@dataclass
class RunRow:
    """A run object with the driver's private bookkeeping (see ``run_driver``)."""

    obj: Obj
    driver: Obj
    owner: str | None
    lease_until: float | None
    expire_at: float
    event_count: int

    @property
    def id(self) -> str:
        return str(self.obj["id"])

    @property
    def status(self) -> str:
        return str(self.obj["status"])


class ActiveRunConflict(Exception):
    """The thread already has an active run (the database's unique index said so)."""


class Tx:
    """One database transaction over the server's tables."""

    def __init__(self, connection: Connection, ids: IdFactory, embeddings: Lookup | None = None) -> None:
        self.connection = connection
        self.ids = ids
        #: The vectors for hybrid file search; ``None`` when embeddings are off.
        self.embeddings = embeddings
        self._events: dict[str, list[tuple[str, str, float]]] = {}
        #: Run rows to write with their events (``save_run_with_events``), by run.
        self._run_saves: dict[str, dict[str, Any]] = {}
        #: The events this transaction wrote, numbered, by run (handed to streams once committed).
        self.written: dict[str, list[Event]] = {}

    def new_id(self, prefix: str) -> str:
        return self.ids.new(prefix)

    # generic ----------------------------------------------------------------------------------

    def _body(self, table: Table, object_id: str, *where: Any) -> Obj | None:
        if not object_id:  # no ID is empty: nothing to look up (a round with no step yet)
            return None
        query = _body_by_id(table)
        if where:
            query = query.where(*where)
        found = self.connection.execute(query, {"match_id": object_id}).scalar()
        return None if found is None else decode(found)

    def _required(self, table: Table, object_id: str, *where: Any) -> Obj:
        found = self._body(table, object_id, *where)
        if found is None:
            raise not_found(_KIND_NAMES[table.name], object_id)
        return found

    def _save(self, table: Table, obj: Obj, **columns: Any) -> None:
        self.connection.execute(_update_by_id(table), {"match_id": obj["id"], "body": encode(obj), **columns})

    def _insert(self, table: Table, obj: Obj, **columns: Any) -> None:
        self.connection.execute(_insert_into(table), {"id": obj["id"], "body": encode(obj), **columns})

    def insert_many(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Bulk insert (seeding); rows are column dicts, ``body`` an object or its JSON text."""
        if rows:
            encoded = [
                row if isinstance(row["body"], str) else {**row, "body": encode(row["body"])} for row in rows
            ]
            self.connection.execute(_insert_into(table), encoded)

    # assistants -------------------------------------------------------------------------------

    def assistant(self, assistant_id: str) -> Obj:
        return self._required(tables.assistants, assistant_id)

    def add_assistant(self, obj: Obj) -> None:
        self._insert(tables.assistants, obj)

    def save_assistant(self, obj: Obj) -> None:
        self._save(tables.assistants, obj)

    def delete_assistant(self, assistant_id: str) -> None:
        self.connection.execute(_update_by_id(tables.assistants), {"match_id": assistant_id, "deleted": True})

    # threads ----------------------------------------------------------------------------------

    def thread(self, thread_id: str, *, lock: bool = False) -> Obj:
        """The thread; ``lock`` holds its row until commit (PostgreSQL), serialising the writers
        that must agree on its active run (SQLite serialises every writer anyway)."""
        found = self.connection.execute(_body_by_id(tables.threads, lock), {"match_id": thread_id}).scalar()
        if found is None:
            raise not_found("thread", thread_id)
        return dict(decode(found))

    def add_thread(self, obj: Obj) -> None:
        self._insert(tables.threads, obj)

    def save_thread(self, obj: Obj) -> None:
        self._save(tables.threads, obj)

    def delete_thread(self, thread_id: str) -> list[str]:
        """Delete a thread with its messages, runs, steps and events; return the run IDs."""
        run_ids = list(
            self.connection.execute(select(tables.runs.c.id).where(tables.runs.c.thread_id == thread_id))
            .scalars()
            .all()
        )
        self.connection.execute(delete(tables.run_events).where(tables.run_events.c.run_id.in_(run_ids)))
        for table in (tables.steps, tables.runs, tables.messages):
            self.connection.execute(delete(table).where(table.c.thread_id == thread_id))
        self.connection.execute(delete(tables.threads).where(tables.threads.c.id == thread_id))
        return run_ids

    def active_run_id(self, thread_id: str) -> str | None:
        table = tables.runs
        found = self.connection.execute(
            select(table.c.id).where(
                table.c.thread_id == thread_id, table.c.status.in_(tables.ACTIVE_STATUSES)
            )
        ).scalar()
        return None if found is None else str(found)

    # messages ---------------------------------------------------------------------------------

    def message(self, thread_id: str, message_id: str) -> Obj:
        return self._required(tables.messages, message_id, tables.messages.c.thread_id == thread_id)

    def message_by_id(self, message_id: str) -> Obj | None:
        return self._body(tables.messages, message_id)

    def add_message(self, obj: Obj) -> None:
        self._insert(tables.messages, obj, thread_id=obj["thread_id"], run_id=obj["run_id"])

    def save_message(self, obj: Obj) -> None:
        self._save(tables.messages, obj)

    def delete_message(self, message_id: str) -> None:
        self.connection.execute(_update_by_id(tables.messages), {"match_id": message_id, "deleted": True})

    def thread_messages(
        self, thread_id: str, *, last: int | None = None, exclude_run: str | None = None
    ) -> list[Obj]:
        """The thread's messages oldest first (only the newest ``last`` if given)."""
        table = tables.messages
        if last is None and exclude_run is not None:  # what a run's request reads: built once
            found = self.connection.execute(_MESSAGES_BUT_RUN, {"match_id": thread_id, "run_id": exclude_run})
            return [decode(body) for body in found.scalars()]
        conditions = [table.c.thread_id == thread_id, table.c.deleted == False]  # noqa: E712
        if exclude_run is not None:
            conditions.append(func.coalesce(table.c.run_id, "") != exclude_run)
        if last is not None:
            query = select(table.c.body).where(*conditions).order_by(table.c.seq.desc()).limit(last)
            bodies = list(self.connection.execute(query).scalars())[::-1]
        else:
            query = select(table.c.body).where(*conditions).order_by(table.c.seq)
            bodies = list(self.connection.execute(query).scalars())
        return [decode(body) for body in bodies]

    # runs -------------------------------------------------------------------------------------

    def run(self, thread_id: str, run_id: str, *, lock: bool = False) -> RunRow:
        found = self.run_by_id(run_id, lock=lock)
        if found is None or found.obj["thread_id"] != thread_id:
            raise not_found("run", run_id)
        return found

    def run_by_id(self, run_id: str, *, lock: bool = False) -> RunRow | None:
        row = self.connection.execute(_run_row(lock), {"match_id": run_id}).first()
        if row is None:
            return None
        return RunRow(
            decode(row.body), decode(row.driver), row.owner, row.lease_until, row.expire_at, row.event_count
        )

    def add_run(
        self, obj: Obj, driver: Obj, expire_at: float, owner: str | None, lease_until: float | None
    ) -> RunRow:
        """Insert a new active run and return its row (as stored: a copy of ``obj``); raise
        ``ActiveRunConflict`` if the thread already has one.

        On PostgreSQL the insert runs in a savepoint, so that the transaction stays usable after
        the conflict (to name the active run); SQLite undoes only the failed statement anyway."""
        body = encode(obj)
        row = {
            "id": obj["id"],
            "body": body,
            "thread_id": obj["thread_id"],
            "status": obj["status"],
            "driver": encode(driver),
            "expire_at": expire_at,
            "owner": owner,
            "lease_until": lease_until,
        }
        try:
            if self.connection.dialect.name == "postgresql":
                with self.connection.begin_nested():
                    self.connection.execute(_insert_into(tables.runs), row)
            else:
                self.connection.execute(_insert_into(tables.runs), row)
        except IntegrityError:
            raise ActiveRunConflict(obj["thread_id"]) from None
        return RunRow(decode(body), copy.deepcopy(driver), owner, lease_until, expire_at, 0)

    def save_run(self, row: RunRow, **columns: Any) -> None:
        self._save(tables.runs, row.obj, status=row.obj["status"], driver=encode(row.driver), **columns)

    def save_run_with_events(self, row: RunRow) -> None:
        """Save the run as it is now, written with its events when the transaction ends (one
        statement instead of two). Only for a transition's last change to the run: until then,
        reads in this transaction see the row as it was."""
        self._run_saves[row.id] = {
            "body": encode(row.obj),
            "status": row.obj["status"],
            "driver": encode(row.driver),
        }

    def set_run_owner(self, run_id: str, owner: str | None, lease_until: float | None) -> None:
        self.connection.execute(
            _update_by_id(tables.runs), {"match_id": run_id, "owner": owner, "lease_until": lease_until}
        )

    # steps ------------------------------------------------------------------------------------

    def step(self, run_id: str, step_id: str) -> Obj:
        return self._required(tables.steps, step_id, tables.steps.c.run_id == run_id)

    def step_by_id(self, step_id: str) -> Obj | None:
        return self._body(tables.steps, step_id)

    def add_step(self, obj: Obj) -> None:
        self._insert(tables.steps, obj, run_id=obj["run_id"], thread_id=obj["thread_id"])

    def save_step(self, obj: Obj) -> None:
        self._save(tables.steps, obj)

    def discard_step(self, step_id: str) -> None:
        """Remove a step that never finished (an interrupted attempt's, replaced by a new one)."""
        self.connection.execute(delete(tables.steps).where(tables.steps.c.id == step_id))

    def discard_message(self, message_id: str) -> None:
        """Remove an unfinished message outright (no cursor can have named it in a useful way)."""
        self.connection.execute(delete(tables.messages).where(tables.messages.c.id == message_id))

    def run_steps(self, run_id: str) -> list[Obj]:
        table = tables.steps
        query = select(table.c.body).where(table.c.run_id == run_id).order_by(table.c.seq)
        return [decode(body) for body in self.connection.execute(query).scalars()]

    # run events -------------------------------------------------------------------------------

    def add_event(self, run_id: str, event: str, payload: Obj, now: float) -> None:
        """Append an event to the run's stream (encoded now: the payload may change later).

        Events are written together when the transaction ends (``flush_events``): one statement
        numbers a run's batch from its row, whose lock orders concurrent writers, so readers never
        see a later event before an earlier one; one more inserts the batch.
        """
        self._events.setdefault(run_id, []).append((event, encode(payload), now))

    def flush_events(self) -> None:
        """Write the events added so far (``Store.writing`` calls it before committing)."""
        pending, self._events = self._events, {}
        saves, self._run_saves = self._run_saves, {}
        for run_id in saves.keys() - pending.keys():
            self.connection.execute(_update_by_id(tables.runs), {"match_id": run_id, **saves[run_id]})
        for run_id, events in pending.items():
            last = self.connection.execute(
                _NUMBER_EVENTS, {"match_id": run_id, "added": len(events), **saves.get(run_id, {})}
            ).scalar()
            if last is None:  # the run was deleted in this transaction
                continue
            first = int(last) - len(events) + 1
            numbered = [(first + k, event, data) for k, (event, data, _) in enumerate(events)]
            rows = [
                {"run_id": run_id, "n": n, "event": event, "data": data, "created_at": at}
                for (n, event, data), (_, _, at) in zip(numbered, events, strict=True)
            ]
            self.connection.execute(_insert_into(tables.run_events), rows)
            self.written.setdefault(run_id, []).extend(numbered)
            if self.connection.dialect.name == "postgresql":
                self.connection.execute(_NOTIFY, {"run_id": run_id})

    def events_after(self, run_id: str, after: int, limit: int = 500) -> list[Event]:
        table = tables.run_events
        rows = self.connection.execute(
            select(table.c.n, table.c.event, table.c.data)
            .where(table.c.run_id == run_id, table.c.n > after)
            .order_by(table.c.n)
            .limit(limit)
        )
        return [(int(row.n), str(row.event), str(row.data)) for row in rows]

    def event_count(self, run_id: str) -> int:
        self.flush_events()
        found = self.connection.execute(
            select(tables.runs.c.event_count).where(tables.runs.c.id == run_id)
        ).scalar()
        return int(found or 0)

    def forget_events_before(self, moment: float) -> None:
        """Drop stream events older than ``moment`` (streams only ever follow recent ones)."""
        table = tables.run_events
        self.connection.execute(delete(table).where(table.c.created_at < moment))

    # pagination -------------------------------------------------------------------------------

    def page(
        self, table: Table, scope: Sequence[Any], cursor_scope: Sequence[Any], request: PageRequest
    ) -> tuple[list[Obj], bool]:
        """One page of ``table`` rows matching ``scope``, and whether more lie beyond it.

        Cursors are resolved within ``cursor_scope`` (deleted rows included, so a cursor naming a
        deleted object pages from where it was). ``after`` pages away from the cursor in list
        order; ``before`` alone returns the ``limit`` items just ahead of it, still in list order.
        """
        after = self._cursor(table, cursor_scope, "after", request.after)
        before = self._cursor(table, cursor_scope, "before", request.before)
        conditions = list(scope)
        if "deleted" in table.c:
            conditions.append(table.c.deleted == False)  # noqa: E712
        ascending = request.order == "asc"
        low, high = (after, before) if ascending else (before, after)
        if low is not None:
            conditions.append(table.c.seq > low)
        if high is not None:
            conditions.append(table.c.seq < high)
        # "before" alone walks from the cursor towards the start of the list, then flips.
        backwards = before is not None and after is None
        walk_ascending = ascending != backwards
        order = table.c.seq.asc() if walk_ascending else table.c.seq.desc()
        query = select(table.c.body).where(and_(*conditions)).order_by(order).limit(request.limit + 1)
        bodies = list(self.connection.execute(query).scalars())
        more = len(bodies) > request.limit
        bodies = bodies[: request.limit]
        if backwards:
            bodies.reverse()
        return [decode(body) for body in bodies], more

    def _cursor(self, table: Table, scope: Sequence[Any], name: str, object_id: str | None) -> int | None:
        if object_id is None:
            return None
        found = self.connection.execute(select(table.c.seq).where(table.c.id == object_id, *scope)).scalar()
        if found is None:
            raise invalid(
                f"Invalid '{name}': no object with id '{object_id}' belongs to this list.",
                param=name,
                code="invalid_value",
            )
        return int(found)

    # server bookkeeping -----------------------------------------------------------------------

    def next_boot(self) -> int:
        """Count this start of a server process (seeds its ID generator apart from earlier ones)."""
        table = tables.meta
        updated = self.connection.execute(
            update(table)
            .where(table.c.name == "boots")
            .values(value=table.c.value + 1)
            .returning(table.c.value)
        ).scalar()
        if updated is None:
            try:
                with self.connection.begin_nested():
                    self.connection.execute(insert(table).values(name="boots", value=1))
                return 1
            except IntegrityError:
                return self.next_boot()
        return int(updated)


class ServerState:
    """The server's database with its ID factory; ``reading()``/``writing()`` open transactions."""

    def __init__(self, database: Database, ids: IdFactory) -> None:
        self.database = database
        self.ids = ids
        #: Told of the events of every committed write (the runtime relays them to its streams).
        self.on_commit: Callable[[dict[str, list[Event]]], None] | None = None
        #: The upstream's embedding model when hybrid file search is on (see ``embeddings``).
        self.embedding_model: str | None = None
        #: Chunks the upstream refused to embed, left out of the search backfill for a while.
        self.refusals = Refusals()

    def new_id(self, prefix: str) -> str:
        return self.ids.new(prefix)

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        with self.database.read() as connection:
            yield Tx(connection, self.ids)

    @contextmanager
    def writing(self, *, durable: bool = True) -> Iterator[Tx]:
        """A write transaction; ``durable=False`` lets PostgreSQL commit it without waiting for
        its flush to disk (still atomic and at once visible; only for what can be lost in a
        crash of the database server, such as stream deltas)."""
        with self.database.write(durable=durable) as connection:
            model = self.embedding_model
            lookup = Lookup.current(model, self.refusals) if model is not None else None
            tx = Tx(connection, self.ids, lookup)
            yield tx
            if tx.embeddings is not None:
                tx.embeddings.check()  # rolls back a transaction that lacked vectors
            tx.flush_events()
        if tx.written and self.on_commit is not None:
            self.on_commit(tx.written)


# The statements of a run's hot path, built once (bound parameters named ``match_id`` and so on,
# apart from the columns'): building a statement and its cache key cost SQLAlchemy more than
# running it, and a streamed round runs about twenty.


@functools.cache
def _insert_into(table: Table) -> Insert:
    return insert(table)


@functools.cache
def _update_by_id(table: Table) -> Update:
    """Sets the columns named in the parameters, of the row whose ID is ``match_id``."""
    return update(table).where(table.c.id == bindparam("match_id", type_=String))


@functools.cache
def _body_by_id(table: Table, lock: bool = False) -> Select[Any]:
    """The body of the row whose ID is ``match_id``, unless deleted; ``lock``: FOR UPDATE."""
    conditions = [table.c.id == bindparam("match_id", type_=String)]
    if "deleted" in table.c:
        conditions.append(table.c.deleted == False)  # noqa: E712 (SQL, not Python)
    query = select(table.c.body).where(*conditions)
    return query.with_for_update() if lock else query


@functools.cache
def _run_row(lock: bool) -> Select[Any]:
    table = tables.runs
    query = select(
        table.c.body,
        table.c.driver,
        table.c.owner,
        table.c.lease_until,
        table.c.expire_at,
        table.c.event_count,
    ).where(table.c.id == bindparam("match_id", type_=String))
    return query.with_for_update() if lock else query


#: Numbers a batch of ``added`` events from the run's row (and saves the run's columns given).
_NUMBER_EVENTS = (
    update(tables.runs)
    .where(tables.runs.c.id == bindparam("match_id", type_=String))
    .values(event_count=tables.runs.c.event_count + bindparam("added", type_=Integer))
    .returning(tables.runs.c.event_count)
)
#: The thread's messages oldest first, but for those of the run ``run_id``.
_MESSAGES_BUT_RUN = (
    select(tables.messages.c.body)
    .where(
        tables.messages.c.thread_id == bindparam("match_id", type_=String),
        tables.messages.c.deleted == False,  # noqa: E712 (SQL, not Python)
        func.coalesce(tables.messages.c.run_id, "") != bindparam("run_id", type_=String),
    )
    .order_by(tables.messages.c.seq)
)
_NOTIFY = select(func.pg_notify(CHANNEL, bindparam("run_id", type_=String)))
