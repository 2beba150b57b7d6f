"""The run state machine.

A run's state is a deterministic function of time and of what clients did: each phase (the
first one from creation, later ones from each tool-output submission) spends a tenth of
``run_latency`` queued, then works until ``run_latency`` (plus any ``/sleep``) has passed, then
rests in ``requires_action`` or a terminal status. Nothing sleeps: a run is advanced lazily to
"now" whenever it is looked at, and every transition is stamped with the time it was due, not
the time it was noticed, so polling and streaming see the same history.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from assistdb.server import objects
from assistdb.server.config import ServerConfig
from assistdb.server.errors import invalid
from assistdb.server.events import Subscription
from assistdb.server.objects import Obj
from assistdb.server.request_models import ToolOutput
from assistdb.server.run_plan import RunPlan
from assistdb.server.scripted_model import read_script, reply_text, text_chunks, tokens
from assistdb.server.state import RunState, Store, ThreadState

#: Share of ``run_latency`` a phase spends queued before it starts working.
QUEUED_SHARE = 0.1
#: Share of ``run_latency`` a run spends ``cancelling`` before it is ``cancelled``.
CANCEL_SHARE = 0.5

ACTIVE_STATUSES = frozenset({"queued", "in_progress", "requires_action", "cancelling"})

Transition = Callable[[RunState, float], None]


class RunEngine:
    """Starts runs, advances them along their schedule and applies client actions."""

    def __init__(self, store: Store, config: ServerConfig, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self._subscribers: dict[str, list[Subscription]] = {}

    # subscriptions ----------------------------------------------------------------------------

    def subscribe(self, run_id: str) -> Subscription:
        subscription = Subscription()
        self._subscribers.setdefault(run_id, []).append(subscription)
        return subscription

    def unsubscribe(self, run_id: str, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(run_id, [])
        if subscription in subscribers:
            subscribers.remove(subscription)
        if not subscribers:
            self._subscribers.pop(run_id, None)

    def close_all(self) -> None:
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription.close()

    def forget(self, run_ids: list[str]) -> None:
        """End the streams of runs that no longer exist (their thread was deleted)."""
        for run_id in run_ids:
            for subscription in self._subscribers.pop(run_id, []):
                subscription.close()

    def emit(self, run_id: str, event: str, payload: Obj) -> None:
        subscribers = self._subscribers.get(run_id)
        if subscribers:
            data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            for subscription in subscribers:
                subscription.push(event, data)

    # starting and advancing -------------------------------------------------------------------

    def start(self, thread: ThreadState, run_obj: Obj, now: float) -> RunState:
        """Read the script from the thread and schedule the run's first phase."""
        user_text = self.store.last_user_text(thread)
        script = read_script(user_text)
        rounds = [[[call.name, call.arguments] for call in calls] for calls in script.rounds]
        if run_obj["tool_choice"] == "none":
            rounds = []
        elif not run_obj["parallel_tool_calls"]:
            rounds = [[call] for calls in rounds for call in calls]
        plan = RunPlan(
            rounds=rounds,
            ending=script.ending,
            fail_message=script.fail_message,
            user_text=user_text,
            prompt_base=tokens(run_obj["instructions"]) + self._context_tokens(thread, run_obj),
            expire_at=now + self.config.run_expiry,
            phase_start=now,
            phase_length=self.config.run_latency + script.sleep,
            queued_length=self.config.run_latency * QUEUED_SHARE,
        )
        run_obj["expires_at"] = int(plan.expire_at)
        state = self.store.add_run(run_obj, plan)
        self.emit(run_obj["id"], "thread.run.created", run_obj)
        self.emit(run_obj["id"], "thread.run.queued", run_obj)
        return state

    def _context_tokens(self, thread: ThreadState, run_obj: Obj) -> int:
        truncation = run_obj["truncation_strategy"]
        if truncation.get("type") == "last_messages" and truncation.get("last_messages"):
            return self.store.recent_message_tokens(thread, int(truncation["last_messages"]))
        return thread.message_tokens

    def settle_thread(self, thread: ThreadState, now: float | None = None) -> None:
        """Bring the thread's active run (if any) up to date."""
        if thread.active_run_id is not None:
            self.settle(self.store.runs[thread.active_run_id], now)

    def settle(self, state: RunState, now: float | None = None) -> None:
        """Apply every transition of the run that is due by ``now``."""
        moment = self.clock() if now is None else now
        while True:
            due = self._next(state.plan)
            if due is None or due[0] > moment:
                return
            at, transition = due
            transition(state, at)

    def next_due(self, state: RunState) -> float | None:
        """When the run changes next without any client action, or None if it rests."""
        due = self._next(state.plan)
        return None if due is None else due[0]

    def _next(self, plan: RunPlan) -> tuple[float, Transition] | None:
        due: tuple[float, Transition]
        if plan.stage == "queued":
            due = (plan.phase_start + plan.queued_length, self._begin_phase)
        elif plan.stage == "working":
            due = (plan.phase_start + plan.phase_length, self._end_phase)
        elif plan.stage == "waiting":
            due = (plan.expire_at, self._expire)
        elif plan.stage == "cancelling" and plan.cancel_at is not None:
            due = (plan.cancel_at, self._finish_cancel)
        else:
            return None
        if plan.stage in ("queued", "working") and plan.expire_at < due[0]:
            return plan.expire_at, self._expire
        return due

    # transitions ------------------------------------------------------------------------------

    def _begin_phase(self, state: RunState, at: float) -> None:
        plan, run_obj = state.plan, state.obj
        run_obj["status"] = "in_progress"
        run_obj["started_at"] = int(at)
        plan.stage = "working"
        self.emit(run_obj["id"], "thread.run.in_progress", run_obj)
        limit = run_obj["max_prompt_tokens"]
        if limit is not None and plan.prompt_base + plan.output_tokens > limit:
            plan.blocked = "max_prompt_tokens"
        elif plan.in_tool_round:
            offered = {
                tool["function"]["name"] for tool in run_obj["tools"] if tool.get("type") == "function"
            }
            unknown = [name for name, _ in plan.rounds[plan.phase] if name not in offered]
            if unknown:
                plan.blocked = f"unknown_function:{unknown[0]}"
            else:
                self._open_step(state, at, {"type": "tool_calls", "tool_calls": []})
        elif plan.ending in ("reply", "incomplete"):
            message_id = self.store.new_id("msg_")
            self._open_step(
                state, at, {"type": "message_creation", "message_creation": {"message_id": message_id}}
            )
            message = objects.message(
                message_id,
                run_obj["thread_id"],
                int(at),
                role="assistant",
                content=[],
                assistant_id=run_obj["assistant_id"],
                run_id=run_obj["id"],
                status="in_progress",
            )
            self.store.add_message(message)
            plan.message_id = message_id
            self.emit(run_obj["id"], "thread.message.created", message)
            self.emit(run_obj["id"], "thread.message.in_progress", message)
        self.store.save_run(state)

    def _open_step(self, state: RunState, at: float, details: Obj) -> None:
        step = objects.run_step(self.store.new_id("step_"), state.obj, int(at), details)
        self.store.add_step(step)
        state.plan.step_id = step["id"]
        self.emit(state.obj["id"], "thread.run.step.created", step)
        self.emit(state.obj["id"], "thread.run.step.in_progress", step)

    def _end_phase(self, state: RunState, at: float) -> None:
        plan = state.plan
        if plan.blocked == "max_prompt_tokens":
            self._end(state, at, "incomplete", incomplete_details={"reason": "max_prompt_tokens"})
        elif plan.blocked is not None:
            name = plan.blocked.partition(":")[2]
            offered = sorted(t["function"]["name"] for t in state.obj["tools"] if t.get("type") == "function")
            message = f"The model called the function '{name}', which is not among the tools of this run"
            message += f" (offered: {', '.join(offered)})." if offered else " (it offers no functions)."
            self._end(state, at, "failed", last_error={"code": "invalid_prompt", "message": message})
        elif plan.in_tool_round:
            self._require_action(state, at)
        elif plan.ending == "fail":
            self._end(state, at, "failed", last_error={"code": "server_error", "message": plan.fail_message})
        elif plan.ending == "expire":
            state.obj["expires_at"] = int(at)
            self._expire(state, at)
        else:
            self._deliver_reply(state, at)

    def _require_action(self, state: RunState, at: float) -> None:
        plan, run_obj = state.plan, state.obj
        plan.pending = [
            [self.store.new_id("call_"), name, arguments] for name, arguments in plan.rounds[plan.phase]
        ]
        if plan.step_id is not None:
            step = self.store.steps[plan.step_id]
            step["step_details"]["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments, "output": None},
                }
                for call_id, name, arguments in plan.pending
            ]
            self.store.save_step(step)
            for index, (call_id, name, arguments) in enumerate(plan.pending):
                first = {"index": index, "id": call_id, "type": "function"}
                self._emit_step_delta(
                    step["id"],
                    run_obj["id"],
                    {**first, "function": {"name": name, "arguments": "", "output": None}},
                )
                for chunk in text_chunks(arguments):
                    self._emit_step_delta(
                        step["id"],
                        run_obj["id"],
                        {"index": index, "type": "function", "function": {"arguments": chunk}},
                    )
        run_obj["status"] = "requires_action"
        run_obj["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
                    for call_id, name, arguments in plan.pending
                ]
            },
        }
        plan.stage = "waiting"
        self.store.save_run(state)
        self.emit(run_obj["id"], "thread.run.requires_action", run_obj)

    def _emit_step_delta(self, step_id: str, run_id: str, tool_call: Obj) -> None:
        delta = {"step_details": {"type": "tool_calls", "tool_calls": [tool_call]}}
        self.emit(
            run_id,
            "thread.run.step.delta",
            {"id": step_id, "object": "thread.run.step.delta", "delta": delta},
        )

    def _deliver_reply(self, state: RunState, at: float) -> None:
        plan, run_obj = state.plan, state.obj
        text = reply_text(plan.user_text, [(name, output) for name, output in plan.outputs])
        cut_short = plan.ending == "incomplete"
        if cut_short:
            text = text[: len(text) // 2]
        limit = run_obj["max_completion_tokens"]
        if limit is not None and plan.completion_used + tokens(text) > limit:
            text = text[: max(0, limit - plan.completion_used) * 4]
            cut_short = True
        message = self.store.messages.get(plan.message_id or "")
        if message is not None:
            message["content"] = [{"type": "text", "text": {"value": text, "annotations": []}}]
            if cut_short:
                message.update(
                    status="incomplete", incomplete_at=int(at), incomplete_details={"reason": "max_tokens"}
                )
            else:
                message.update(status="completed", completed_at=int(at))
            self.store.save_message(message)
            for index, chunk in enumerate(text_chunks(text)):
                part: Obj = {"value": chunk, "annotations": []} if index == 0 else {"value": chunk}
                delta = {"content": [{"index": 0, "type": "text", "text": part}]}
                self.emit(
                    run_obj["id"],
                    "thread.message.delta",
                    {"id": message["id"], "object": "thread.message.delta", "delta": delta},
                )
            self.emit(run_obj["id"], f"thread.message.{message['status']}", message)
        completion = tokens(text)
        plan.completion_used += completion
        if plan.step_id is not None:
            step = self.store.steps[plan.step_id]
            step.update(
                status="completed",
                completed_at=int(at),
                usage=objects.usage(plan.prompt_base + plan.output_tokens, completion),
            )
            self.store.save_step(step)
            self.emit(run_obj["id"], "thread.run.step.completed", step)
        if cut_short:
            self._end(state, at, "incomplete", incomplete_details={"reason": "max_completion_tokens"})
        else:
            self._end(state, at, "completed")

    def _expire(self, state: RunState, at: float) -> None:
        self._abandon(state, at, step_status="expired", message_reason="run_expired")
        self._end(state, at, "expired")

    def _finish_cancel(self, state: RunState, at: float) -> None:
        self._abandon(state, at, step_status="cancelled", message_reason="run_cancelled")
        self._end(state, at, "cancelled")

    def _abandon(self, state: RunState, at: float, *, step_status: str, message_reason: str) -> None:
        """Close the step and message the run was working on when it stopped early."""
        plan, run_id = state.plan, state.obj["id"]
        step = self.store.steps.get(plan.step_id or "")
        if step is not None and step["status"] == "in_progress":
            step.update({"status": step_status, f"{step_status}_at": int(at)})
            self.store.save_step(step)
            self.emit(run_id, f"thread.run.step.{step_status}", step)
        message = self.store.messages.get(plan.message_id or "")
        if message is not None and message["status"] == "in_progress":
            message.update(
                status="incomplete", incomplete_at=int(at), incomplete_details={"reason": message_reason}
            )
            self.store.save_message(message)
            self.emit(run_id, "thread.message.incomplete", message)

    def _end(self, state: RunState, at: float, status: str, **fields: Any) -> None:
        plan, run_obj = state.plan, state.obj
        run_obj.update(fields)
        run_obj["status"] = status
        run_obj["required_action"] = None
        stamp = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at"}.get(status)
        if stamp is not None:
            run_obj[stamp] = int(at)
        if status != "expired":
            run_obj["expires_at"] = None
        run_obj["usage"] = self._usage(state)
        plan.stage = "done"
        plan.pending = []
        thread = self.store.threads[run_obj["thread_id"]]
        if thread.active_run_id == run_obj["id"]:
            thread.active_run_id = None
        self.store.save_run(state)
        self.emit(run_obj["id"], f"thread.run.{status}", run_obj)

    def _usage(self, state: RunState) -> Obj:
        prompt = completion = 0
        for step_id in state.steps:
            step_usage = self.store.steps[step_id]["usage"]
            if step_usage is not None:
                prompt += step_usage["prompt_tokens"]
                completion += step_usage["completion_tokens"]
        return objects.usage(prompt, completion)

    # client actions ---------------------------------------------------------------------------

    def submit_tool_outputs(self, state: RunState, outputs: list[ToolOutput], now: float) -> None:
        """Record the outputs of every pending call and schedule the next phase."""
        self.settle(state, now)
        plan, run_obj = state.plan, state.obj
        if plan.stage != "waiting":
            raise invalid(f'Runs in status "{run_obj["status"]}" do not accept tool outputs.')
        expected = [call_id for call_id, _, _ in plan.pending]
        given = [output.tool_call_id for output in outputs]
        if sorted(given) != sorted(expected):
            raise invalid(f"Expected tool outputs for call_ids {expected}, got {given}", param="tool_outputs")
        answers = {output.tool_call_id: output.output for output in outputs}
        completion = sum(tokens(arguments) for _, _, arguments in plan.pending)
        if plan.step_id is not None:
            step = self.store.steps[plan.step_id]
            for call in step["step_details"]["tool_calls"]:
                call["function"]["output"] = answers[call["id"]]
            usage = objects.usage(plan.prompt_base + plan.output_tokens, completion)
            step.update(status="completed", completed_at=int(now), usage=usage)
            self.store.save_step(step)
            self.emit(run_obj["id"], "thread.run.step.completed", step)
        plan.completion_used += completion
        plan.outputs.extend([name, answers[call_id]] for call_id, name, _ in plan.pending)
        plan.output_tokens += sum(tokens(answers[call_id]) for call_id in expected)
        plan.pending = []
        plan.phase += 1
        plan.stage = "queued"
        plan.step_id = None
        plan.phase_start = now
        plan.phase_length = self.config.run_latency
        plan.queued_length = self.config.run_latency * QUEUED_SHARE
        run_obj["status"] = "queued"
        run_obj["required_action"] = None
        self.store.save_run(state)
        self.emit(run_obj["id"], "thread.run.queued", run_obj)

    def cancel(self, state: RunState, now: float) -> None:
        self.settle(state, now)
        plan, run_obj = state.plan, state.obj
        if plan.stage not in ("queued", "working", "waiting"):
            raise invalid(f"Cannot cancel run with status '{run_obj['status']}'.")
        run_obj["status"] = "cancelling"
        plan.stage = "cancelling"
        plan.cancel_at = now + self.config.run_latency * CANCEL_SHARE
        self.store.save_run(state)
        self.emit(run_obj["id"], "thread.run.cancelling", run_obj)
