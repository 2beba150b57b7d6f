"""The in-memory store of every object, with the per-collection indexes that pagination needs.

All access happens on the server's event loop thread, so the store takes no locks. Every
change is also offered to an optional ``sink`` (the persistence journal) as a plain record.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from assistdb.server import objects
from assistdb.server.errors import not_found
from assistdb.server.ids import IdFactory
from assistdb.server.objects import Obj
from assistdb.server.pagination import OrderedIndex
from assistdb.server.run_plan import RunPlan
from assistdb.server.scripted_model import tokens

Record = dict[str, Any]
Sink = Callable[[Record], None]


def settle_bulk_load() -> None:
    """Leave every object alive now out of the cycle collector's scans from here on.

    After a bulk load (a seeded thread of 100,000 messages, a replayed state file) each
    collection would otherwise walk them all, and requests would slow down in proportion to what
    the server holds. Deleted objects are still freed by reference counting. Process-wide, so
    only for a process that runs nothing but the server.
    """
    gc.freeze()


@dataclass
class ThreadState:
    obj: Obj
    messages: OrderedIndex = field(default_factory=OrderedIndex)
    runs: OrderedIndex = field(default_factory=OrderedIndex)
    active_run_id: str | None = None
    message_tokens: int = 0


@dataclass
class RunState:
    obj: Obj
    plan: RunPlan
    steps: OrderedIndex = field(default_factory=OrderedIndex)
    messages: OrderedIndex = field(default_factory=OrderedIndex)


class Store:
    """Assistants, threads, messages, runs and steps, each in creation order."""

    def __init__(self, ids: IdFactory, sink: Sink | None = None) -> None:
        self.ids = ids
        self.sink = sink
        self.assistants: dict[str, Obj] = {}
        self.assistant_index = OrderedIndex()
        self.threads: dict[str, ThreadState] = {}
        self.messages: dict[str, Obj] = {}
        self.runs: dict[str, RunState] = {}
        self.steps: dict[str, Obj] = {}
        self._seq = 0
        self._seqs: dict[str, int] = {}
        self._message_tokens: dict[str, int] = {}
        self._retired: set[str] = set()

    # identity and order ---------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A fresh ID, never one in use or used before (a seeded generator may repeat itself)."""
        while True:
            candidate = self.ids.new(prefix)
            if candidate not in self._seqs and candidate not in self._retired:
                return candidate

    def _claim_seq(self, object_id: str, seq: int | None) -> int:
        if seq is None:
            self._seq += 1
            seq = self._seq
        else:
            self._seq = max(self._seq, seq)
        self._seqs[object_id] = seq
        return seq

    def seq_of(self, object_id: str) -> int:
        return self._seqs[object_id]

    def _emit(self, record: Record) -> None:
        if self.sink is not None:
            self.sink(record)

    def _put(self, kind: str, obj: Obj, plan: RunPlan | None = None) -> None:
        if self.sink is not None:
            record = {"op": "put", "kind": kind, "seq": self._seqs[obj["id"]], "obj": obj}
            if plan is not None:
                record["plan"] = plan.to_json()
            self.sink(record)

    def _retire(self, kind: str, object_id: str, parent: str | None) -> None:
        seq = self._seqs.pop(object_id, None)
        self._retired.add(object_id)
        self._emit({"op": "del", "kind": kind, "id": object_id, "seq": seq, "parent": parent})

    # lookups ----------------------------------------------------------------------------------

    def assistant(self, assistant_id: str) -> Obj:
        found = self.assistants.get(assistant_id)
        if found is None:
            raise not_found("assistant", assistant_id)
        return found

    def thread(self, thread_id: str) -> ThreadState:
        found = self.threads.get(thread_id)
        if found is None:
            raise not_found("thread", thread_id)
        return found

    def message(self, thread_id: str, message_id: str) -> Obj:
        found = self.messages.get(message_id)
        if found is None or found["thread_id"] != thread_id:
            raise not_found("message", message_id)
        return found

    def run(self, thread_id: str, run_id: str) -> RunState:
        found = self.runs.get(run_id)
        if found is None or found.obj["thread_id"] != thread_id:
            raise not_found("run", run_id)
        return found

    def step(self, run_id: str, step_id: str) -> Obj:
        found = self.steps.get(step_id)
        if found is None or found["run_id"] != run_id:
            raise not_found("run step", step_id)
        return found

    def last_user_text(self, thread: ThreadState) -> str | None:
        """Text of the newest user message of a thread, or None if it has none."""
        for message_id in thread.messages.newest_first():
            found = self.messages[message_id]
            if found["role"] == "user":
                return objects.text_of(found)
        return None

    def recent_message_tokens(self, thread: ThreadState, count: int) -> int:
        return sum(self._message_tokens.get(message_id, 0) for message_id in thread.messages.last(count))

    # assistants -------------------------------------------------------------------------------

    def add_assistant(self, obj: Obj, seq: int | None = None) -> None:
        self.assistant_index.add(obj["id"], self._claim_seq(obj["id"], seq))
        self.assistants[obj["id"]] = obj
        self._put("assistant", obj)

    def save_assistant(self, obj: Obj) -> None:
        self._put("assistant", obj)

    def delete_assistant(self, assistant_id: str) -> None:
        self.assistant_index.remove(assistant_id)
        del self.assistants[assistant_id]
        self._retire("assistant", assistant_id, None)

    # threads ----------------------------------------------------------------------------------

    def add_thread(self, obj: Obj, seq: int | None = None) -> ThreadState:
        self._claim_seq(obj["id"], seq)
        state = ThreadState(obj=obj)
        self.threads[obj["id"]] = state
        self._put("thread", obj)
        return state

    def save_thread(self, obj: Obj) -> None:
        self._put("thread", obj)

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread with its messages, runs and steps (assistants stay)."""
        state = self.threads.pop(thread_id)
        for run_id in state.runs:
            run_state = self.runs.pop(run_id)
            for step_id in run_state.steps:
                del self.steps[step_id]
                self._seqs.pop(step_id, None)
            self._seqs.pop(run_id, None)
        for message_id in state.messages:
            del self.messages[message_id]
            self._message_tokens.pop(message_id, None)
            self._seqs.pop(message_id, None)
        self._retire("thread", thread_id, None)

    # messages ---------------------------------------------------------------------------------

    def add_message(self, obj: Obj, seq: int | None = None) -> None:
        thread = self.threads[obj["thread_id"]]
        position = self._claim_seq(obj["id"], seq)
        thread.messages.add(obj["id"], position)
        if obj["run_id"] is not None and obj["run_id"] in self.runs:
            self.runs[obj["run_id"]].messages.add(obj["id"], position)
        self.messages[obj["id"]] = obj
        self._count_tokens(thread, obj)
        self._put("message", obj)

    def save_message(self, obj: Obj) -> None:
        self._count_tokens(self.threads[obj["thread_id"]], obj)
        self._put("message", obj)

    def _count_tokens(self, thread: ThreadState, obj: Obj) -> None:
        count = tokens(objects.text_of(obj))
        thread.message_tokens += count - self._message_tokens.get(obj["id"], 0)
        self._message_tokens[obj["id"]] = count

    def delete_message(self, thread_id: str, message_id: str) -> None:
        obj = self.messages.pop(message_id)
        thread = self.threads[thread_id]
        thread.messages.remove(message_id)
        thread.message_tokens -= self._message_tokens.pop(message_id, 0)
        run_state = self.runs.get(obj["run_id"]) if obj["run_id"] else None
        if run_state is not None:
            run_state.messages.remove(message_id)
        self._retire("message", message_id, thread_id)

    def remember_deleted(self, kind: str, object_id: str, seq: int, parent: str | None) -> None:
        """Keep the position of an object deleted in an earlier life of the server (journal replay)."""
        self._retired.add(object_id)
        self._seq = max(self._seq, seq)
        if kind == "message" and parent in self.threads:
            self.threads[parent].messages.remember(object_id, seq)
        elif kind == "assistant":
            self.assistant_index.remember(object_id, seq)

    # runs and steps ---------------------------------------------------------------------------

    def add_run(self, obj: Obj, plan: RunPlan, seq: int | None = None) -> RunState:
        thread = self.threads[obj["thread_id"]]
        thread.runs.add(obj["id"], self._claim_seq(obj["id"], seq))
        state = RunState(obj=obj, plan=plan)
        self.runs[obj["id"]] = state
        if plan.stage != "done":
            thread.active_run_id = obj["id"]
        self.save_run(state)
        return state

    def save_run(self, state: RunState) -> None:
        self._put("run", state.obj, state.plan)

    def add_step(self, obj: Obj, seq: int | None = None) -> None:
        self.runs[obj["run_id"]].steps.add(obj["id"], self._claim_seq(obj["id"], seq))
        self.steps[obj["id"]] = obj
        self._put("step", obj)

    def save_step(self, obj: Obj) -> None:
        self._put("step", obj)

    # persistence support ----------------------------------------------------------------------

    def restore(self, record: Record) -> None:
        """Apply one journal record while replaying; records naming unknown parents are skipped."""
        op, kind = record.get("op"), record.get("kind")
        if op == "del":
            self._restore_deletion(str(kind), str(record["id"]), record.get("seq"), record.get("parent"))
            return
        obj: Obj = record["obj"]
        seq = record.get("seq")
        object_id = obj["id"]
        if kind == "assistant":
            if object_id in self.assistants:
                self.assistants[object_id] = obj
            else:
                self.add_assistant(obj, seq)
        elif kind == "thread":
            if object_id in self.threads:
                self.threads[object_id].obj = obj
            else:
                self.add_thread(obj, seq)
        elif kind == "message" and obj["thread_id"] in self.threads:
            if object_id in self.messages:
                self.messages[object_id] = obj
                self._count_tokens(self.threads[obj["thread_id"]], obj)
            else:
                self.add_message(obj, seq)
        elif kind == "run" and obj["thread_id"] in self.threads:
            plan = RunPlan.from_json(record["plan"])
            if object_id in self.runs:
                state = self.runs[object_id]
                state.obj, state.plan = obj, plan
            else:
                state = self.add_run(obj, plan, seq)
            thread = self.threads[obj["thread_id"]]
            if plan.stage != "done":
                thread.active_run_id = object_id
            elif thread.active_run_id == object_id:
                thread.active_run_id = None
        elif kind == "step" and obj["run_id"] in self.runs:
            if object_id in self.steps:
                self.steps[object_id] = obj
            else:
                self.add_step(obj, seq)

    def _restore_deletion(self, kind: str, object_id: str, seq: int | None, parent: str | None) -> None:
        if kind == "assistant" and object_id in self.assistants:
            self.delete_assistant(object_id)
        elif kind == "thread" and object_id in self.threads:
            self.delete_thread(object_id)
        elif kind == "message" and object_id in self.messages:
            self.delete_message(self.messages[object_id]["thread_id"], object_id)
        elif seq is not None:
            self.remember_deleted(kind, object_id, seq, parent)
        else:
            self._retired.add(object_id)

    def snapshot(self) -> Iterator[Record]:
        """Records that rebuild the current state: every live object in creation order, then the
        positions of deleted objects that cursors may still name."""
        live: list[tuple[int, Record]] = []
        for assistant_id, obj in self.assistants.items():
            live.append((self._seqs[assistant_id], {"op": "put", "kind": "assistant", "obj": obj}))
        for thread_id, thread in self.threads.items():
            live.append((self._seqs[thread_id], {"op": "put", "kind": "thread", "obj": thread.obj}))
        for message_id, obj in self.messages.items():
            live.append((self._seqs[message_id], {"op": "put", "kind": "message", "obj": obj}))
        for run_id, run_state in self.runs.items():
            record = {"op": "put", "kind": "run", "obj": run_state.obj, "plan": run_state.plan.to_json()}
            live.append((self._seqs[run_id], record))
        for step_id, obj in self.steps.items():
            live.append((self._seqs[step_id], {"op": "put", "kind": "step", "obj": obj}))
        live.sort(key=lambda item: item[0])
        for seq, record in live:
            yield {**record, "seq": seq}
        for thread_id, thread in self.threads.items():
            for message_id, seq in thread.messages.gone().items():
                yield {"op": "del", "kind": "message", "id": message_id, "seq": seq, "parent": thread_id}
        for assistant_id, seq in self.assistant_index.gone().items():
            yield {"op": "del", "kind": "assistant", "id": assistant_id, "seq": seq, "parent": None}
