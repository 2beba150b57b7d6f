"""The 23 operations of Assistants v2, each a method taking a decoded call and returning a reply.

Handlers are synchronous and run on the event loop thread; each reads and writes the database in
one transaction, so it sees and leaves the state consistent whichever process served the request
before. Runs are moved by the runtime (``run_driver``); handlers only start, cancel or resume
them, and expire a run whose time is up when they look at it.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistdb.server import lifecycle, objects, run_file_search, tables, tool_resources
from assistdb.server.config import ServerConfig
from assistdb.server.errors import invalid
from assistdb.server.objects import Obj
from assistdb.server.pagination import list_object
from assistdb.server.request_models import (
    CreateAssistant,
    CreateMessage,
    CreateRun,
    CreateThread,
    CreateThreadAndRun,
    ModifyAssistant,
    ModifyMetadata,
    ModifyThread,
    RunSettings,
    SubmitToolOutputs,
)
from assistdb.server.run_driver import Runtime
from assistdb.server.state import ActiveRunConflict, RunRow, ServerState, Tx
from assistdb.server.streaming import run_events
from assistdb.server.validation import check_include, page_request, parse_body

if TYPE_CHECKING:
    from starlette.requests import Request


@dataclass
class Call:
    """A request as handlers see it: path parameters, query values and the decoded JSON body."""

    params: dict[str, str]
    query: dict[str, list[str]] = field(default_factory=dict)
    body: object = field(default_factory=dict)
    #: The request itself, for operations that read a multipart body as it streams in (files).
    request: Request | None = None


@dataclass
class Reply:
    body: Obj
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamReply:
    events: AsyncIterator[bytes]
    media_type: str = "text/event-stream; charset=utf-8"
    headers: dict[str, str] = field(default_factory=lambda: {"cache-control": "no-cache"})


Result = Reply | StreamReply


class Api:
    """Assistants v2 over the database, with the runtime that drives runs."""

    def __init__(
        self, store: ServerState, runtime: Runtime, config: ServerConfig, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.config = config
        self.clock = clock

    # helpers ----------------------------------------------------------------------------------

    def _run_reply(self, run_obj: Obj) -> Reply:
        return Reply(run_obj, headers={"openai-poll-after-ms": str(self.config.poll_after_ms)})

    def _add_message(self, tx: Tx, thread_id: str, request: CreateMessage, created_at: int) -> Obj:
        tool_resources.attach(tx, thread_id, request, created_at)
        message = objects.message(
            tx.new_id("msg_"),
            thread_id,
            created_at,
            role=request.role,
            content=objects.message_content(request),
            attachments=[objects.dump(attachment) for attachment in request.attachments or []],
            metadata=request.metadata,
        )
        tx.add_message(message)
        return message

    def _create_thread(self, tx: Tx, request: CreateThread | None, created_at: int) -> Obj:
        request = request or CreateThread()
        resources = tool_resources.resolve(tx, request.tool_resources, created_at)
        thread_obj = objects.thread(tx.new_id("thread_"), created_at, resources, request.metadata)
        tx.add_thread(thread_obj)
        for message in request.messages or []:
            self._add_message(tx, thread_obj["id"], message, created_at)
        return thread_obj

    def _settled_run(self, tx: Tx, thread_id: str, run_id: str) -> RunRow:
        """The run, expired first if its time is up and nobody else is driving it."""
        row = tx.run(thread_id, run_id, lock=True)
        now = self.clock()
        if lifecycle.is_overdue(row, now) and (
            row.owner in (None, self.runtime.owner) or (row.lease_until or 0) < now
        ):
            lifecycle.expire(tx, row, now)
        return row

    def _read_run(self, call: Call) -> RunRow:
        thread_id, run_id = call.params["thread_id"], call.params["run_id"]
        with self.store.reading() as tx:
            tx.thread(thread_id)
            row = tx.run(thread_id, run_id)
        if lifecycle.is_overdue(row, self.clock()):
            with self.store.writing() as tx:
                row = self._settled_run(tx, thread_id, run_id)
            self.runtime.notify(run_id)
        return row

    def _start_run(self, tx: Tx, thread_id: str, run_obj: Obj, now: float, thread_obj: Obj | None) -> None:
        """Insert a new run (the database refuses a second active one) with its first events."""
        run_obj["expires_at"] = int(now + self.config.run_expiry)
        owner, lease_until = self.runtime.claim()
        try:
            row = tx.add_run(
                run_obj, lifecycle.new_driver_state(), now + self.config.run_expiry, owner, lease_until
            )
        except ActiveRunConflict:
            active = tx.active_run_id(thread_id)
            raise invalid(f"Thread {thread_id} already has an active run {active}.") from None
        if thread_obj is not None:
            lifecycle.emit(tx, run_obj["id"], "thread.created", thread_obj, now)
        lifecycle.emit(tx, run_obj["id"], "thread.run.created", run_obj, now)
        lifecycle.emit(tx, run_obj["id"], "thread.run.queued", run_obj, now)
        if owner is not None:
            self.runtime.prepare(tx, row)

    def _launch(self, run_obj: Obj, stream: bool | None, tx: Tx, after: int = 0) -> Result:
        """Drive the run if this process claimed it, and answer with it or with its stream.

        A stream starts with the events ``tx`` (committed just now) wrote and follows the run
        from here on, so it need not read back what this request wrote."""
        run_id = run_obj["id"]
        follower = self.runtime.follow(run_id) if stream else None
        self.runtime.drive_if_claimed(run_id)
        if follower is None:
            return self._run_reply(run_obj)
        return StreamReply(run_events(self.runtime, run_id, after, follower, tx.written.get(run_id, [])))

    # assistants -------------------------------------------------------------------------------

    def list_assistants(self, call: Call) -> Reply:
        page = page_request(call.query)
        with self.store.reading() as tx:
            data, more = tx.page(tables.assistants, [], [], page)
        return Reply(list_object(data, more))

    def create_assistant(self, call: Call) -> Reply:
        request = parse_body(CreateAssistant, call.body)
        with self.store.writing() as tx:
            assistant = objects.assistant(tx.new_id("asst_"), int(self.clock()))
            _apply_assistant(assistant, request, tx, self.clock())
            tx.add_assistant(assistant)
        return Reply(assistant)

    def get_assistant(self, call: Call) -> Reply:
        with self.store.reading() as tx:
            return Reply(tx.assistant(call.params["assistant_id"]))

    def modify_assistant(self, call: Call) -> Reply:
        request = parse_body(ModifyAssistant, call.body)
        with self.store.writing() as tx:
            assistant = tx.assistant(call.params["assistant_id"])
            _apply_assistant(assistant, request, tx, self.clock())
            tx.save_assistant(assistant)
        return Reply(assistant)

    def delete_assistant(self, call: Call) -> Reply:
        with self.store.writing() as tx:
            assistant_id = tx.assistant(call.params["assistant_id"])["id"]
            tx.delete_assistant(assistant_id)
        return Reply(objects.deleted(assistant_id, "assistant"))

    # threads ----------------------------------------------------------------------------------

    def create_thread(self, call: Call) -> Reply:
        request = parse_body(CreateThread, call.body)
        with self.store.writing() as tx:
            return Reply(self._create_thread(tx, request, int(self.clock())))

    def get_thread(self, call: Call) -> Reply:
        with self.store.reading() as tx:
            return Reply(tx.thread(call.params["thread_id"]))

    def modify_thread(self, call: Call) -> Reply:
        request = parse_body(ModifyThread, call.body)
        with self.store.writing() as tx:
            thread = tx.thread(call.params["thread_id"], lock=True)
            if "tool_resources" in request.model_fields_set:
                thread["tool_resources"] = tool_resources.resolve(tx, request.tool_resources, self.clock())
            if "metadata" in request.model_fields_set:
                thread["metadata"] = dict(request.metadata or {})
            tx.save_thread(thread)
        return Reply(thread)

    def delete_thread(self, call: Call) -> Reply:
        with self.store.writing() as tx:
            thread_id = tx.thread(call.params["thread_id"], lock=True)["id"]
            run_ids = tx.delete_thread(thread_id)
        self.runtime.forget(run_ids)
        return Reply(objects.deleted(thread_id, "thread"))

    def create_thread_and_run(self, call: Call) -> Result:
        request = parse_body(CreateThreadAndRun, call.body)
        now = self.clock()
        with self.store.writing() as tx:
            assistant = tx.assistant(request.assistant_id)
            thread = self._create_thread(tx, request.thread, int(now))
            if request.tool_resources is not None:
                thread["tool_resources"] = tool_resources.resolve(tx, request.tool_resources, now)
                tx.save_thread(thread)
            run_obj = self._new_run(tx, thread["id"], assistant, request, now, instructions_suffix=None)
            self._start_run(tx, thread["id"], run_obj, now, thread if request.stream else None)
        return self._launch(run_obj, request.stream, tx)

    # messages ---------------------------------------------------------------------------------

    def list_messages(self, call: Call) -> Reply:
        page = page_request(call.query)
        thread_id = call.params["thread_id"]
        table = tables.messages
        scope = [table.c.thread_id == thread_id]
        run_filter = call.query.get("run_id", [""])[-1]
        with self.store.reading() as tx:
            tx.thread(thread_id)
            listed = [*scope, table.c.run_id == run_filter] if run_filter else scope
            data, more = tx.page(table, listed, scope, page)
        return Reply(list_object(data, more))

    def create_message(self, call: Call) -> Reply:
        request = parse_body(CreateMessage, call.body)
        thread_id = call.params["thread_id"]
        with self.store.writing() as tx:
            tx.thread(thread_id, lock=True)
            active = tx.active_run_id(thread_id)
            if active is not None:
                raise invalid(f"Can't add messages to {thread_id} while a run {active} is active.")
            return Reply(self._add_message(tx, thread_id, request, int(self.clock())))

    def get_message(self, call: Call) -> Reply:
        with self.store.reading() as tx:
            tx.thread(call.params["thread_id"])
            return Reply(tx.message(call.params["thread_id"], call.params["message_id"]))

    def modify_message(self, call: Call) -> Reply:
        request = parse_body(ModifyMetadata, call.body)
        with self.store.writing() as tx:
            tx.thread(call.params["thread_id"])
            message = tx.message(call.params["thread_id"], call.params["message_id"])
            if "metadata" in request.model_fields_set:
                message["metadata"] = dict(request.metadata or {})
                tx.save_message(message)
        return Reply(message)

    def delete_message(self, call: Call) -> Reply:
        with self.store.writing() as tx:
            tx.thread(call.params["thread_id"])
            message_id = tx.message(call.params["thread_id"], call.params["message_id"])["id"]
            tx.delete_message(message_id)
        return Reply(objects.deleted(message_id, "thread.message"))

    # runs -------------------------------------------------------------------------------------

    def list_runs(self, call: Call) -> Reply:
        page = page_request(call.query)
        thread_id = call.params["thread_id"]
        scope = [tables.runs.c.thread_id == thread_id]
        with self.store.reading() as tx:
            tx.thread(thread_id)
            data, more = tx.page(tables.runs, scope, scope, page)
        return self._run_reply(list_object(data, more))

    def create_run(self, call: Call) -> Result:
        check_include(call.query)
        request = parse_body(CreateRun, call.body)
        thread_id = call.params["thread_id"]
        now = self.clock()
        with self.store.writing() as tx:
            tx.thread(thread_id, lock=True)
            assistant = tx.assistant(request.assistant_id)
            # A second active run is refused by the database when the run is inserted (one
            # statement fewer on the way to a run's first token); the transaction then rolls
            # back, additional messages included.
            for message in request.additional_messages or []:
                self._add_message(tx, thread_id, message, int(now))
            run_obj = self._new_run(
                tx, thread_id, assistant, request, now, instructions_suffix=request.additional_instructions
            )
            self._start_run(tx, thread_id, run_obj, now, None)
        return self._launch(run_obj, request.stream, tx)

    def _new_run(
        self,
        tx: Tx,
        thread_id: str,
        assistant: Obj,
        request: RunSettings,
        now: float,
        *,
        instructions_suffix: str | None,
    ) -> Obj:
        run_obj = objects.run(tx.new_id("run_"), thread_id, assistant["id"], int(now), 0)
        configure_run(run_obj, assistant, request, instructions_suffix)
        return run_obj

    def get_run(self, call: Call) -> Reply:
        return self._run_reply(self._read_run(call).obj)

    def modify_run(self, call: Call) -> Reply:
        request = parse_body(ModifyMetadata, call.body)
        with self.store.writing() as tx:
            tx.thread(call.params["thread_id"])
            row = self._settled_run(tx, call.params["thread_id"], call.params["run_id"])
            if "metadata" in request.model_fields_set:
                row.obj["metadata"] = dict(request.metadata or {})
                tx.save_run(row)
        return self._run_reply(row.obj)

    def cancel_run(self, call: Call) -> Reply:
        now = self.clock()
        with self.store.writing() as tx:
            tx.thread(call.params["thread_id"])
            row = self._settled_run(tx, call.params["thread_id"], call.params["run_id"])
            lifecycle.request_cancel(tx, row, now)
            if row.owner is None or (row.lease_until or 0) < now:
                row.owner, lease_until = self.runtime.claim()
                tx.set_run_owner(row.id, row.owner, lease_until)
        self.runtime.notify(row.id)
        if row.owner == self.runtime.owner:
            self.runtime.cancel(row.id)
        return self._run_reply(row.obj)

    def submit_tool_outputs(self, call: Call) -> Result:
        request = parse_body(SubmitToolOutputs, call.body)
        now = self.clock()
        with self.store.writing() as tx:
            tx.thread(call.params["thread_id"])
            row = self._settled_run(tx, call.params["thread_id"], call.params["run_id"])
            after = tx.event_count(row.id)
            lifecycle.accept_tool_outputs(tx, row, request.tool_outputs, now)
            tx.set_run_owner(row.id, *self.runtime.claim())
        self.runtime.notify(row.id)
        return self._launch(row.obj, request.stream, tx, after)

    def list_run_steps(self, call: Call) -> Reply:
        check_include(call.query)
        page = page_request(call.query)
        row = self._read_run(call)
        scope = [tables.steps.c.run_id == row.id]
        with self.store.reading() as tx:
            data, more = tx.page(tables.steps, scope, scope, page)
        shown = run_file_search.included(call.query)
        return Reply(list_object([run_file_search.present_step(step, included=shown) for step in data], more))

    def get_run_step(self, call: Call) -> Reply:
        check_include(call.query)
        row = self._read_run(call)
        with self.store.reading() as tx:
            step = tx.step(row.id, call.params["step_id"])
        return Reply(run_file_search.present_step(step, included=run_file_search.included(call.query)))


def _apply_assistant(assistant: Obj, request: CreateAssistant | ModifyAssistant, tx: Tx, now: float) -> None:
    """Copy the fields a create or modify request carries onto the assistant object."""
    given = request.model_fields_set
    for name in ("name", "description", "instructions", "reasoning_effort"):
        if name in given:
            assistant[name] = getattr(request, name)
    if request.model is not None:
        assistant["model"] = request.model
    if "tools" in given:
        assistant["tools"] = objects.dump_tools(request.tools or [])
    if "tool_resources" in given:
        assistant["tool_resources"] = tool_resources.resolve(tx, request.tool_resources, now)
    if "metadata" in given:
        assistant["metadata"] = dict(request.metadata or {})
    if "temperature" in given:
        assistant["temperature"] = 1.0 if request.temperature is None else request.temperature
    if "top_p" in given:
        assistant["top_p"] = 1.0 if request.top_p is None else request.top_p
    if "response_format" in given:
        assistant["response_format"] = objects.dump_response_format(request.response_format) or "auto"


def configure_run(
    run_obj: Obj, assistant: Obj, request: RunSettings, instructions_suffix: str | None
) -> None:
    """Fill a new run from its assistant, overridden by whatever the request sets."""
    instructions = (
        request.instructions if request.instructions is not None else assistant["instructions"] or ""
    )
    if instructions_suffix:
        instructions = f"{instructions}\n{instructions_suffix}" if instructions else instructions_suffix
    truncation: Any = objects.dump(request.truncation_strategy)
    run_obj.update(
        model=request.model or assistant["model"],
        instructions=instructions,
        tools=objects.dump_tools(request.tools)
        if request.tools is not None
        else copy.deepcopy(assistant["tools"]),
        metadata=dict(request.metadata or {}),
        temperature=request.temperature if request.temperature is not None else assistant["temperature"],
        top_p=request.top_p if request.top_p is not None else assistant["top_p"],
        max_prompt_tokens=request.max_prompt_tokens,
        max_completion_tokens=request.max_completion_tokens,
        truncation_strategy={**objects.DEFAULT_TRUNCATION, **truncation}
        if truncation
        else dict(objects.DEFAULT_TRUNCATION),
        response_format=objects.dump_response_format(request.response_format)
        or assistant["response_format"]
        or "auto",
        tool_choice=objects.dump_tool_choice(request.tool_choice) or "auto",
        parallel_tool_calls=True if request.parallel_tool_calls is None else request.parallel_tool_calls,
        reasoning_effort=request.reasoning_effort or assistant.get("reasoning_effort"),
    )
