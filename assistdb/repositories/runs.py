"""Runs: created, driven to their end by the run engine, and archived state by state."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from openai.types.beta.threads import Run
from typing_extensions import Unpack

from assistdb.errors import RunEndedError
from assistdb.repositories.base import (
    Face,
    Op,
    Paged,
    RepositoryOps,
    async_paged,
    awaitable_op,
    blocking,
    paged,
)
from assistdb.repositories.validation import check_id, check_metadata
from assistdb.store import Filters, Store
from assistdb.store.queries import Order

if TYPE_CHECKING:
    from openai.types.beta.assistant_response_format_option_param import AssistantResponseFormatOptionParam
    from openai.types.beta.assistant_tool_choice_option_param import AssistantToolChoiceOptionParam
    from openai.types.beta.threads.run_create_params import (
        AdditionalMessage,
        RunCreateParamsBase,
        TruncationStrategy,
    )
    from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput
    from openai.types.beta.threads.runs.run_step_include import RunStepInclude
    from openai.types.shared.chat_model import ChatModel
    from openai.types.shared.reasoning_effort import ReasoningEffort

    from assistdb.runner.engine import RunEngine
    from assistdb.runner.tools.registry import ToolsArgument

RunStatus = Literal[
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "failed",
    "completed",
    "incomplete",
    "expired",
]


class RunParameters(TypedDict, total=False):
    """The API's parameters of a new run (``runs.create``), but the three that
    :meth:`RunsOps.create_and_wait` and ``thread.run`` own: ``assistant_id`` (an argument of
    its own), ``tools`` (there, the Python functions that answer the run's calls; the run offers
    the assistant's tool definitions) and ``stream`` (how the run is followed). Typed as the
    SDK types them, so an editor completes them and mypy rejects a wrong name or value."""

    additional_instructions: str | None
    additional_messages: Iterable[AdditionalMessage] | None
    include: list[RunStepInclude]
    instructions: str | None
    max_completion_tokens: int | None
    max_prompt_tokens: int | None
    metadata: dict[str, str] | None
    model: str | ChatModel | None
    parallel_tool_calls: bool
    reasoning_effort: ReasoningEffort | None
    response_format: AssistantResponseFormatOptionParam | None
    temperature: float | None
    tool_choice: AssistantToolChoiceOptionParam | None
    top_p: float | None
    truncation_strategy: TruncationStrategy | None


class RunsOps(RepositoryOps[Run]):
    object_type = "run"
    model = Run

    def __init__(self, store: Store, engine: RunEngine) -> None:
        """``engine`` drives runs; the facade hands it in, so this module never imports it
        (the engine builds on the repositories, not the other way round)."""
        super().__init__(store)
        self._engine = engine

    def create(self, thread_id: str, **params: Unpack[RunCreateParamsBase]) -> Op[Run]:
        """Start a run and return at once; :meth:`create_and_wait` drives it to its end."""
        check_id("thread", thread_id)
        check_id("assistant", params.get("assistant_id"))
        check_metadata(params.get("metadata"))
        run: Run = yield from self._call(lambda c: c.beta.threads.runs.create, thread_id, **params)
        return run

    def create_and_wait(
        self,
        /,
        thread_id: str,
        *,
        assistant_id: str,
        tools: ToolsArgument = None,
        timeout: float | None = None,
        cancel_on_timeout: bool = True,
        stream: bool = False,
        on_event: Callable[[Any], None] | None = None,
        **create_params: Unpack[RunParameters],
    ) -> Op[Run]:
        """Create a run and drive it to its end (see :meth:`wait`). ``tools`` answers its
        function calls; ``create_params`` are the API's other run parameters
        (:class:`RunParameters`: ``instructions``, ``model``, ``metadata``...).
        With ``stream=True``, ``on_event`` sees each event as it arrives (text deltas, say)."""
        check_id("thread", thread_id)
        check_metadata(create_params.get("metadata"))
        params = {"assistant_id": check_id("assistant", assistant_id), **create_params}
        run: Run = yield from self._engine.drive(
            thread_id,
            create=params,
            run_id=None,
            tools=tools,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            stream=stream,
            on_event=on_event,
        )
        return run

    def wait(
        self,
        run_id: str,
        *,
        thread_id: str | None = None,
        tools: ToolsArgument = None,
        timeout: float | None = None,
        cancel_on_timeout: bool = True,
        stream: bool = False,
        on_event: Callable[[Any], None] | None = None,
    ) -> Op[Run]:
        """Drive a run to a terminal status and return it, answering its tool calls with
        ``tools`` (a :class:`ToolRegistry` or a list of ``@tool`` functions) exactly once each.

        Every state seen is archived, then the run's steps and messages. Without ``tools``, a
        run that requires action is returned as it is. Raises :class:`RunTimeoutError` after
        ``timeout`` seconds (cancelling the run unless ``cancel_on_timeout=False``) and
        :class:`Interrupted` on Ctrl-C (cancelling the run; under asyncio, cancelling the
        awaiting task cancels the run too). ``stream=True`` follows the run's events wherever a
        request can stream (create, submit), falling back to polling.
        """
        check_id("run", run_id)
        thread = yield from self._thread_of(run_id, thread_id)
        run: Run = yield from self._engine.drive(
            thread,
            create=None,
            run_id=run_id,
            tools=tools,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            stream=stream,
            on_event=on_event,
        )
        return run

    def retrieve(self, run_id: str, *, thread_id: str | None = None) -> Op[Run]:
        check_id("run", run_id)
        thread = yield from self._thread_of(run_id, thread_id)
        run: Run = yield from self._call(lambda c: c.beta.threads.runs.retrieve, run_id, thread_id=thread)
        return run

    def update(
        self, run_id: str, *, thread_id: str | None = None, metadata: dict[str, str] | None = None
    ) -> Op[Run]:
        """Change a run's metadata (the only field the API lets change)."""
        check_id("run", run_id)
        check_metadata(metadata)
        thread = yield from self._thread_of(run_id, thread_id)
        run: Run = yield from self._call(
            lambda c: c.beta.threads.runs.update, run_id, thread_id=thread, metadata=metadata
        )
        return run

    def cancel(self, run_id: str, *, thread_id: str | None = None) -> Op[Run]:
        check_id("run", run_id)
        thread = yield from self._thread_of(run_id, thread_id)
        run: Run = yield from self._call(lambda c: c.beta.threads.runs.cancel, run_id, thread_id=thread)
        return run

    def submit_tool_outputs(
        self, run_id: str, *, tool_outputs: Iterable[ToolOutput], thread_id: str | None = None
    ) -> Op[Run]:
        """Answer a ``requires_action`` run by hand; ``create_and_wait``/``wait`` do this for you."""
        check_id("run", run_id)
        thread = yield from self._thread_of(run_id, thread_id)
        run: Run = yield from self._call(
            lambda c: c.beta.threads.runs.submit_tool_outputs,
            run_id,
            thread_id=thread,
            tool_outputs=builtins.list(tool_outputs),
        )
        return run

    def list(
        self,
        thread_id: str,
        *,
        order: Literal["asc", "desc"] = "asc",
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Paged:
        """All runs of a thread from the cursor on, lazily, each page archived as it arrives."""
        return self._pages(
            lambda c: c.beta.threads.runs.list,
            check_id("thread", thread_id),
            order=order,
            limit=limit,
            after=after,
            before=before,
        )

    def find(
        self,
        thread_id: str | None = None,
        *,
        status: RunStatus | None = None,
        assistant_id: str | None = None,
        include_deleted: bool = False,
        order: Order = "asc",
        limit: int | None = None,
    ) -> Op[builtins.list[Run]]:
        """Archived runs, of one thread or all, by status or assistant, without an API call."""
        filters = Filters(
            thread_id=check_id("thread", thread_id) if thread_id else None,
            status=status,
            assistant_id=check_id("assistant", assistant_id) if assistant_id else None,
            include_deleted=include_deleted,
        )
        return self._read(lambda: self._store.reader.find("run", filters, order=order, limit=limit))

    @staticmethod
    def raise_for_status(run: Run) -> Run:
        """``run`` if it completed; else :class:`RunEndedError` saying how it ended and why."""
        if run.status == "completed":
            return run
        if run.status == "requires_action":
            action = run.required_action
            calls = action.submit_tool_outputs.tool_calls if action is not None else []
            names = ", ".join(sorted({call.function.name for call in calls})) or "tools"
            raise RunEndedError(
                f"run {run.id} is waiting for the outputs of {names}",
                run=run,
                hint="pass tools=[...] to create_and_wait or wait, which answer them",
            )
        why = ""
        if run.last_error is not None:
            why = f": {run.last_error.code}: {run.last_error.message}"
        elif run.incomplete_details is not None and run.incomplete_details.reason:
            why = f": {run.incomplete_details.reason}"
        raise RunEndedError(
            f"run {run.id} ended {run.status}{why}",
            run=run,
            hint="read run.last_error, or the run's steps (db.steps.find(run.id))",
        )


class RunsRepository(Face):
    """Runs, blocking (``db.runs``)."""

    create = blocking(RunsOps.create)
    create_and_wait = blocking(RunsOps.create_and_wait)
    wait = blocking(RunsOps.wait)
    retrieve = blocking(RunsOps.retrieve)
    update = blocking(RunsOps.update)
    cancel = blocking(RunsOps.cancel)
    submit_tool_outputs = blocking(RunsOps.submit_tool_outputs)
    list = paged(RunsOps.list, Run)
    find = blocking(RunsOps.find)
    archived = blocking(RunsOps.archived)
    history = blocking(RunsOps.history)
    raise_for_status = staticmethod(RunsOps.raise_for_status)


class AsyncRunsRepository(Face):
    """Runs under asyncio (``adb.runs``)."""

    create = awaitable_op(RunsOps.create)
    create_and_wait = awaitable_op(RunsOps.create_and_wait)
    wait = awaitable_op(RunsOps.wait)
    retrieve = awaitable_op(RunsOps.retrieve)
    update = awaitable_op(RunsOps.update)
    cancel = awaitable_op(RunsOps.cancel)
    submit_tool_outputs = awaitable_op(RunsOps.submit_tool_outputs)
    list = async_paged(RunsOps.list, Run)
    find = awaitable_op(RunsOps.find)
    archived = awaitable_op(RunsOps.archived)
    history = awaitable_op(RunsOps.history)
    raise_for_status = staticmethod(RunsOps.raise_for_status)
