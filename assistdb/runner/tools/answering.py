"""Answering one round of tool calls, exactly once per call, for both engines.

Each call goes through the ledger: its ``started`` event is claimed before the tool runs and its
``finished`` event (with the output) is written before anything is submitted. Calls run
concurrently, at most ``max_concurrency`` at a time, each within its tool's timeout. Synchronous
tools run in daemon threads, so a tool that overruns its timeout is abandoned, never waited for.
The sync engine runs this on a private event loop; the async engine awaits it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from assistdb.runner.rules.calls import Decision, RequestedCall, decide
from assistdb.runner.tools.outputs import InvalidOutputError, encode_output, error_output, storable
from assistdb.runner.tools.registry import ArgumentsError, Tool, ToolRegistry
from assistdb.runner.tools.stdout import running_tool_code
from assistdb.store.archive import now_us
from assistdb.store.tool_ledger import AttemptTaken, ToolLedger

T = TypeVar("T")

#: How often to look at the ledger while another process holds a call.
LEDGER_POLL = 0.1


async def answer_calls(
    calls: Sequence[RequestedCall],
    registry: ToolRegistry,
    ledger: ToolLedger,
    *,
    run_id: str,
    thread_id: str,
    deadline: float | None = None,
) -> dict[str, str]:
    """The output of every call by call ID (fewer if ``deadline``, a ``time.monotonic()`` value,
    passes while another process still holds a call)."""
    outputs: dict[str, str] = {}
    slots = asyncio.Semaphore(registry.max_concurrency)
    while True:
        states = await asyncio.to_thread(ledger.calls_of_run, run_id)
        now = now_us()
        claims: list[RequestedCall] = []
        work: list[Coroutine[Any, Any, str | None]] = []
        for call in calls:
            if call.call_id in outputs:
                continue
            tool = registry.get(call.name)
            decision = decide(call, states.get(call.call_id), tool, now)
            if decision.action == "reuse":
                outputs[call.call_id] = decision.output or ""
            elif decision.action != "wait":
                claims.append(call)
                work.append(_claim_and_answer(call, decision, tool, ledger, slots, run_id, thread_id))
        for call, output in zip(claims, await asyncio.gather(*work), strict=True):
            if output is not None:
                outputs[call.call_id] = output
        if len(outputs) == len({call.call_id for call in calls}):
            return outputs
        if deadline is not None and time.monotonic() >= deadline:
            return outputs
        await asyncio.sleep(LEDGER_POLL)


async def _claim_and_answer(
    call: RequestedCall,
    decision: Decision,
    tool: Tool[..., Any] | None,
    ledger: ToolLedger,
    slots: asyncio.Semaphore,
    run_id: str,
    thread_id: str,
) -> str | None:
    """Claim the decided attempt and answer it; None if another process claimed it first."""
    where = {"call_id": call.call_id, "run_id": run_id, "thread_id": thread_id}
    # What the model sent may hold text no database column takes (NUL, lone surrogates): the
    # ledger keeps it escaped; the tool gets it as sent.
    what = {"function_name": storable(call.name), "arguments": storable(call.arguments)}

    def start() -> None:
        ledger.start(**where, **what, attempt=decision.attempt)

    def finish(output: str, is_error: bool) -> None:
        ledger.finish(**where, **what, attempt=decision.attempt, output=output, is_error=is_error)

    async with slots:
        try:
            await asyncio.to_thread(start)
        except AttemptTaken:
            return None
        if decision.action == "unknown":
            output, is_error = unknown_outcome(call), True
        else:
            output, is_error = await invoke(tool, call)
    await asyncio.to_thread(finish, output, is_error)
    return output


def unknown_outcome(call: RequestedCall) -> str:
    return error_output(
        f"the outcome of {call.name} is unknown: it was started before an interruption and may or may not "
        "have taken effect; it was not run again because it is not idempotent",
        "outcome_unknown",
    )


async def invoke(tool: Tool[..., Any] | None, call: RequestedCall) -> tuple[str, bool]:
    """Run one call: ``(output, is_error)``. Every failure becomes an error output."""
    if tool is None:
        return error_output(f"unknown function {call.name!r}", "unknown_function"), True
    try:
        decoded = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError as exc:
        return error_output(f"the arguments are not valid JSON: {exc}", "invalid_arguments"), True
    try:
        arguments = tool.validate(decoded)
    except ArgumentsError as exc:
        return error_output(f"invalid arguments: {exc}", "invalid_arguments"), True
    try:
        with running_tool_code():
            if tool.is_async:
                value = await asyncio.wait_for(tool.function(**arguments), tool.timeout)
            else:
                value = await asyncio.wait_for(
                    _in_daemon_thread(lambda: tool.function(**arguments)), tool.timeout
                )
        return encode_output(value), False
    except InvalidOutputError as exc:
        return error_output(f"{call.name} returned {exc}", "invalid_output"), True
    except TimeoutError:
        return error_output(f"{call.name} did not finish within {tool.timeout:g} s", "timeout"), True
    except Exception as exc:
        detail = str(exc) or "no message"
        return error_output(f"{type(exc).__name__}: {detail}", "tool_error"), True


class ToolCrashed(Exception):
    """A synchronous tool raised something that is not an ``Exception`` (e.g. ``SystemExit``)."""


def _in_daemon_thread(work: Callable[[], T]) -> asyncio.Future[T]:
    """Run ``work`` in a new daemon thread; the future resolves on the calling event loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def target() -> None:
        try:
            value = context.run(work)
        except BaseException as exc:  # the loop must hear of every ending
            error = exc if isinstance(exc, Exception) else ToolCrashed(f"{type(exc).__name__}: {exc}")
            _call_soon(loop, settle, lambda: future.set_exception(error))
        else:
            _call_soon(loop, settle, lambda: future.set_result(value))

    threading.Thread(target=target, name="assistdb-tool", daemon=True).start()
    return future


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for this result any more
        loop.call_soon_threadsafe(callback, *args)


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, even under a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=target, name="assistdb-tools-loop", daemon=True)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return result[0]
