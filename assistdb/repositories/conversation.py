"""The thread handle: the common app loop (send a message, run the assistant, read the reply)
over one thread, written once for both faces."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

from openai.types.beta.threads import Message, Run
from typing_extensions import Unpack

from assistdb.repositories.base import Face, Op, awaitable_op, blocking
from assistdb.repositories.messages import MessagesOps
from assistdb.repositories.runs import RunParameters, RunsOps
from assistdb.texts import message_text

if TYPE_CHECKING:
    from openai.types.beta.threads.message_create_params import Attachment

    from assistdb.runner.tools.registry import ToolsArgument


class ThreadOps:
    """What a thread handle does, on thread ``id``."""

    def __init__(self, thread_id: str, messages: MessagesOps, runs: RunsOps) -> None:
        self.id = thread_id
        self._messages = messages
        self._runs = runs

    def send(
        self,
        text: str,
        *,
        role: Literal["user", "assistant"] = "user",
        attachments: Iterable[Attachment] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Op[Message]:
        """Add a text message (from the user unless ``role="assistant"``)."""
        message: Message = yield from self._messages.create(
            self.id, content=text, role=role, attachments=attachments, metadata=metadata
        )
        return message

    def run(
        self,
        /,
        assistant_id: str,
        *,
        tools: ToolsArgument = None,
        timeout: float | None = None,
        stream: bool = False,
        on_event: Callable[[Any], None] | None = None,
        **create_params: Unpack[RunParameters],
    ) -> Op[Run]:
        """Run the assistant on the thread to its end (``runs.create_and_wait``; ``create_params``
        are the API's run parameters, :class:`RunParameters`); check the outcome with
        ``db.runs.raise_for_status(run)``."""
        run: Run = yield from self._runs.create_and_wait(
            self.id,
            assistant_id=assistant_id,
            tools=tools,
            timeout=timeout,
            stream=stream,
            on_event=on_event,
            **create_params,
        )
        return run

    def messages(self) -> Op[builtins.list[Message]]:
        """The thread's archived messages in conversation order (no API call)."""
        return self._messages.find(self.id)

    def reply(self, run: Run) -> Op[str]:
        """The text the assistant wrote in ``run`` (archived by the run engine), "" if none."""
        found = yield from self._messages.find(self.id, run_id=run.id)
        return "\n".join(message_text(m) for m in found if m.role == "assistant")


class ThreadHandle(Face):
    """One thread, blocking: ``thread = db.thread(thread_id)`` or ``db.new_thread()``."""

    def __init__(self, ops: ThreadOps, io: Any) -> None:
        super().__init__(ops, io)
        self.id = ops.id

    send = blocking(ThreadOps.send)
    run = blocking(ThreadOps.run)
    messages = blocking(ThreadOps.messages)
    reply = blocking(ThreadOps.reply)


class AsyncThreadHandle(Face):
    """One thread under asyncio: ``thread = adb.thread(thread_id)`` or ``await adb.new_thread()``."""

    def __init__(self, ops: ThreadOps, io: Any) -> None:
        super().__init__(ops, io)
        self.id = ops.id

    send = awaitable_op(ThreadOps.send)
    run = awaitable_op(ThreadOps.run)
    messages = awaitable_op(ThreadOps.messages)
    reply = awaitable_op(ThreadOps.reply)


__all__ = ["AsyncThreadHandle", "Op", "ThreadHandle", "ThreadOps", "message_text"]
