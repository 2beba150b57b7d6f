"""The 23 operations of Assistants v2, each a method taking a decoded call and returning a reply.

Handlers are synchronous and run on the event loop thread, so each one sees and leaves the
store consistent. Before touching a thread they settle its active run, so whatever they read
or refuse reflects the run's state at this moment.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from assistdb.server import objects
from assistdb.server.config import ServerConfig
from assistdb.server.errors import invalid
from assistdb.server.lifecycle import RunEngine
from assistdb.server.objects import Obj
from assistdb.server.pagination import OrderedIndex, list_object, resolve_cursor
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
from assistdb.server.state import RunState, Store, ThreadState
from assistdb.server.streaming import run_events
from assistdb.server.validation import check_include, page_request, parse_body


@dataclass
class Call:
    """A request as handlers see it: path parameters, query values and the decoded JSON body."""

    params: dict[str, str]
    query: dict[str, list[str]] = field(default_factory=dict)
    body: object = field(default_factory=dict)


@dataclass
class Reply:
    body: Obj
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamReply:
    events: AsyncIterator[bytes]


Result = Reply | StreamReply


class Api:
    """Assistants v2 over the store and the run engine."""

    def __init__(
        self, store: Store, engine: RunEngine, config: ServerConfig, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.engine = engine
        self.config = config
        self.clock = clock

    # helpers ----------------------------------------------------------------------------------

    def _thread(self, call: Call) -> ThreadState:
        thread = self.store.thread(call.params["thread_id"])
        self.engine.settle_thread(thread)
        return thread

    def _run(self, call: Call) -> RunState:
        thread = self._thread(call)
        state = self.store.run(thread.obj["id"], call.params["run_id"])
        self.engine.settle(state)
        return state

    def _run_reply(self, run_obj: Obj) -> Reply:
        return Reply(run_obj, headers={"openai-poll-after-ms": str(self.config.poll_after_ms)})

    def _add_message(self, thread: ThreadState, request: CreateMessage, created_at: int) -> Obj:
        message = objects.message(
            self.store.new_id("msg_"),
            thread.obj["id"],
            created_at,
            role=request.role,
            content=objects.message_content(request),
            attachments=[objects.dump(attachment) for attachment in request.attachments or []],
            metadata=request.metadata,
        )
        self.store.add_message(message)
        return message

    def _create_thread(self, request: CreateThread | None, created_at: int) -> ThreadState:
        request = request or CreateThread()
        resources = objects.tool_resources(request.tool_resources, self.store.ids)
        thread_obj = objects.thread(self.store.new_id("thread_"), created_at, resources, request.metadata)
        thread = self.store.add_thread(thread_obj)
        for message in request.messages or []:
            self._add_message(thread, message, created_at)
        return thread

    # assistants -------------------------------------------------------------------------------

    def list_assistants(self, call: Call) -> Reply:
        page = page_request(call.query)
        index = self.store.assistant_index
        after = resolve_cursor(index, "after", page.after)
        before = resolve_cursor(index, "before", page.before)
        ids, more = index.page(page, after, before)
        return Reply(list_object([self.store.assistants[i] for i in ids], more))

    def create_assistant(self, call: Call) -> Reply:
        request = parse_body(CreateAssistant, call.body)
        assistant = objects.assistant(self.store.new_id("asst_"), int(self.clock()))
        _apply_assistant(assistant, request, self.store)
        self.store.add_assistant(assistant)
        return Reply(assistant)

    def get_assistant(self, call: Call) -> Reply:
        return Reply(self.store.assistant(call.params["assistant_id"]))

    def modify_assistant(self, call: Call) -> Reply:
        request = parse_body(ModifyAssistant, call.body)
        assistant = self.store.assistant(call.params["assistant_id"])
        _apply_assistant(assistant, request, self.store)
        self.store.save_assistant(assistant)
        return Reply(assistant)

    def delete_assistant(self, call: Call) -> Reply:
        assistant_id = self.store.assistant(call.params["assistant_id"])["id"]
        self.store.delete_assistant(assistant_id)
        return Reply(objects.deleted(assistant_id, "assistant"))

    # threads ----------------------------------------------------------------------------------

    def create_thread(self, call: Call) -> Reply:
        request = parse_body(CreateThread, call.body)
        return Reply(self._create_thread(request, int(self.clock())).obj)

    def get_thread(self, call: Call) -> Reply:
        return Reply(self._thread(call).obj)

    def modify_thread(self, call: Call) -> Reply:
        request = parse_body(ModifyThread, call.body)
        thread = self._thread(call)
        if "tool_resources" in request.model_fields_set:
            thread.obj["tool_resources"] = objects.tool_resources(request.tool_resources, self.store.ids)
        if "metadata" in request.model_fields_set:
            thread.obj["metadata"] = dict(request.metadata or {})
        self.store.save_thread(thread.obj)
        return Reply(thread.obj)

    def delete_thread(self, call: Call) -> Reply:
        thread = self.store.thread(call.params["thread_id"])
        thread_id = thread.obj["id"]
        self.engine.forget(list(thread.runs))
        self.store.delete_thread(thread_id)
        return Reply(objects.deleted(thread_id, "thread"))

    def create_thread_and_run(self, call: Call) -> Result:
        request = parse_body(CreateThreadAndRun, call.body)
        assistant = self.store.assistant(request.assistant_id)
        now = self.clock()
        thread = self._create_thread(request.thread, int(now))
        if request.tool_resources is not None:
            thread.obj["tool_resources"] = objects.tool_resources(request.tool_resources, self.store.ids)
            self.store.save_thread(thread.obj)
        run_obj = self._new_run(thread, assistant, request, now, instructions_suffix=None)
        if not request.stream:
            return self._run_reply(self.engine.start(thread, run_obj, now).obj)
        subscription = self.engine.subscribe(run_obj["id"])
        self.engine.emit(run_obj["id"], "thread.created", thread.obj)
        self.engine.start(thread, run_obj, now)
        return StreamReply(run_events(self.engine, run_obj["id"], subscription))

    # messages ---------------------------------------------------------------------------------

    def list_messages(self, call: Call) -> Reply:
        page = page_request(call.query)
        thread = self._thread(call)
        index = thread.messages
        run_filter = call.query.get("run_id", [""])[-1]
        if run_filter:
            run_state = self.store.runs.get(run_filter)
            on_thread = run_state is not None and run_state.obj["thread_id"] == thread.obj["id"]
            index = run_state.messages if run_state is not None and on_thread else OrderedIndex()
        after = resolve_cursor(thread.messages, "after", page.after)
        before = resolve_cursor(thread.messages, "before", page.before)
        ids, more = index.page(page, after, before)
        return Reply(list_object([self.store.messages[i] for i in ids], more))

    def create_message(self, call: Call) -> Reply:
        request = parse_body(CreateMessage, call.body)
        thread = self._thread(call)
        if thread.active_run_id is not None:
            raise invalid(
                f"Can't add messages to {thread.obj['id']} while a run {thread.active_run_id} is active."
            )
        return Reply(self._add_message(thread, request, int(self.clock())))

    def get_message(self, call: Call) -> Reply:
        thread = self._thread(call)
        return Reply(self.store.message(thread.obj["id"], call.params["message_id"]))

    def modify_message(self, call: Call) -> Reply:
        request = parse_body(ModifyMetadata, call.body)
        thread = self._thread(call)
        message = self.store.message(thread.obj["id"], call.params["message_id"])
        if "metadata" in request.model_fields_set:
            message["metadata"] = dict(request.metadata or {})
            self.store.save_message(message)
        return Reply(message)

    def delete_message(self, call: Call) -> Reply:
        thread = self._thread(call)
        message_id = self.store.message(thread.obj["id"], call.params["message_id"])["id"]
        self.store.delete_message(thread.obj["id"], message_id)
        return Reply(objects.deleted(message_id, "thread.message"))

    # runs -------------------------------------------------------------------------------------

    def list_runs(self, call: Call) -> Reply:
        page = page_request(call.query)
        thread = self._thread(call)
        after = resolve_cursor(thread.runs, "after", page.after)
        before = resolve_cursor(thread.runs, "before", page.before)
        ids, more = thread.runs.page(page, after, before)
        return self._run_reply(list_object([self.store.runs[i].obj for i in ids], more))

    def create_run(self, call: Call) -> Result:
        check_include(call.query)
        request = parse_body(CreateRun, call.body)
        thread = self._thread(call)
        assistant = self.store.assistant(request.assistant_id)
        if thread.active_run_id is not None:
            raise invalid(f"Thread {thread.obj['id']} already has an active run {thread.active_run_id}.")
        now = self.clock()
        for message in request.additional_messages or []:
            self._add_message(thread, message, int(now))
        run_obj = self._new_run(
            thread, assistant, request, now, instructions_suffix=request.additional_instructions
        )
        if not request.stream:
            return self._run_reply(self.engine.start(thread, run_obj, now).obj)
        subscription = self.engine.subscribe(run_obj["id"])
        self.engine.start(thread, run_obj, now)
        return StreamReply(run_events(self.engine, run_obj["id"], subscription))

    def _new_run(
        self,
        thread: ThreadState,
        assistant: Obj,
        request: RunSettings,
        now: float,
        *,
        instructions_suffix: str | None,
    ) -> Obj:
        run_obj = objects.run(self.store.new_id("run_"), thread.obj["id"], assistant["id"], int(now), 0)
        configure_run(run_obj, assistant, request, instructions_suffix)
        return run_obj

    def get_run(self, call: Call) -> Reply:
        return self._run_reply(self._run(call).obj)

    def modify_run(self, call: Call) -> Reply:
        request = parse_body(ModifyMetadata, call.body)
        state = self._run(call)
        if "metadata" in request.model_fields_set:
            state.obj["metadata"] = dict(request.metadata or {})
            self.store.save_run(state)
        return self._run_reply(state.obj)

    def cancel_run(self, call: Call) -> Reply:
        state = self._run(call)
        self.engine.cancel(state, self.clock())
        return self._run_reply(state.obj)

    def submit_tool_outputs(self, call: Call) -> Result:
        request = parse_body(SubmitToolOutputs, call.body)
        state = self._run(call)
        run_id = state.obj["id"]
        if not request.stream:
            self.engine.submit_tool_outputs(state, request.tool_outputs, self.clock())
            return self._run_reply(state.obj)
        subscription = self.engine.subscribe(run_id)
        try:
            self.engine.submit_tool_outputs(state, request.tool_outputs, self.clock())
        except BaseException:
            self.engine.unsubscribe(run_id, subscription)
            raise
        return StreamReply(run_events(self.engine, run_id, subscription))

    def list_run_steps(self, call: Call) -> Reply:
        check_include(call.query)
        page = page_request(call.query)
        state = self._run(call)
        after = resolve_cursor(state.steps, "after", page.after)
        before = resolve_cursor(state.steps, "before", page.before)
        ids, more = state.steps.page(page, after, before)
        return Reply(list_object([self.store.steps[i] for i in ids], more))

    def get_run_step(self, call: Call) -> Reply:
        check_include(call.query)
        state = self._run(call)
        return Reply(self.store.step(state.obj["id"], call.params["step_id"]))


def _apply_assistant(assistant: Obj, request: CreateAssistant | ModifyAssistant, store: Store) -> None:
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
        assistant["tool_resources"] = objects.tool_resources(request.tool_resources, store.ids)
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
