"""``assistdb chat``: a conversation with an assistant in the terminal, or driven through a pipe.

At a terminal, lines are edited and recalled with readline (history kept between chats), and
slash commands inspect the session, and replies are printed as they stream in. Every message
and run is archived as it happens; ``--save``
also appends the conversation to a Markdown file as it goes. A run that asks for tools the chat
was not given is cancelled with a clear note, so the thread stays usable for the next line.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from assistdb.cli.completion import archived_ids
from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.errors import RUN_ERROR_EXIT
from assistdb.cli.options import read_stdin_line, tools_option
from assistdb.cli.output import emit_table, human_time, message_text, note, printable, say
from assistdb.cli.runs import load_tools, raise_unless_completed
from assistdb.errors import InvalidInputError, RunError
from assistdb.store import Filters

if TYPE_CHECKING:
    from openai.types.beta.threads import Run

    from assistdb.runner import ToolRegistry

EXIT_COMMANDS = ("/exit", "/quit")
HELP = "/exit ends the chat, /runs lists this thread's runs, /tools the tools given, /help this"
PROMPT = "you> "


@click.command()
@click.argument("assistant_id", shell_complete=archived_ids("assistant"))
@click.option(
    "--thread",
    "thread_id",
    metavar="ID",
    shell_complete=archived_ids("thread"),
    help="Continue this thread (default: a new one).",
)
@tools_option
@click.option(
    "--save",
    "save_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the conversation to this Markdown file as it goes.",
)
@pass_cli
def chat(
    cli: CliContext, assistant_id: str, thread_id: str | None, tools_spec: str | None, save_path: Path | None
) -> None:
    """Talk with an assistant: each line you type is a message, and its reply is printed.

    At a terminal, arrow keys edit and recall lines; /help lists the slash commands. /exit or end
    of input (Ctrl-D) ends the chat; Ctrl-C cancels a running run and exits. With stdin piped,
    each line is one message and only the replies reach stdout. The exit code is 5 if any run
    ended other than completed (each error is printed once, as it happens).
    """
    from assistdb.runner.tools.stdout import tool_stdout_to_stderr

    # Only while tools may run (importing their module, a run): around the prompt, stdout must
    # stay the terminal's own descriptor, or input() gives up line editing.
    with tool_stdout_to_stderr():
        tools = load_tools(tools_spec)
    cli.db.assistants.retrieve(assistant_id)  # an unknown assistant fails before a thread is made
    thread = cli.db.threads.track(thread_id) if thread_id else cli.db.threads.create()
    interactive = sys.stdin.isatty()
    read_line = _line_reader(interactive)
    saved = _open_transcript(save_path, assistant_id, thread.id)
    note(f"chatting with {assistant_id} in {thread.id}" + (f" ({HELP})" if interactive else ""))
    failed = False
    try:
        while True:
            line = read_line()
            if line is None:
                break
            text = line.strip()
            if not text:
                continue
            if text in EXIT_COMMANDS:
                break
            if text in ("/runs", "/tools", "/help"):
                _slash_command(cli, text, thread.id, tools)
                continue
            cli.db.messages.create(thread.id, content=text, role="user")
            _append(saved, f"**you**: {text}")
            shown = _StreamedReplies()
            # At a terminal the reply streams in as it is written; piped, whole replies suffice.
            with tool_stdout_to_stderr():
                run = cli.db.runs.create_and_wait(
                    thread.id, assistant_id=assistant_id, tools=tools, stream=interactive, on_event=shown
                )
            if run.status == "requires_action" and tools is None:
                run = _refuse_tools(cli, run)
            try:
                raise_unless_completed(run)
            except RunError as exc:
                failed = True
                note(f"error: {exc}")
                _append(saved, f"*run {run.id} ended {run.status}*")
                continue
            for stored in cli.store.reader.find("message", Filters(thread_id=thread.id, run_id=run.id)):
                if stored.body.get("role") == "assistant":
                    reply = message_text(stored.body)
                    shown.finish(str(stored.body.get("id")), reply)
                    _append(saved, f"**assistant**: {reply}")
            if interactive:
                note("")
    finally:
        if saved is not None:
            saved.close()
    if failed:
        raise click.exceptions.Exit(RUN_ERROR_EXIT)  # already printed, as it happened


class _StreamedReplies:
    """Prints the assistant's text as its deltas stream in, escaped like every other output,
    and afterwards whatever the stream did not show (it may break, and the run is polled)."""

    def __init__(self) -> None:
        self.printed: dict[str, str] = {}
        self.finished: set[str] = set()

    def __call__(self, event: Any) -> None:
        if getattr(event, "event", None) != "thread.message.delta":
            return
        delta = event.data
        for part in getattr(delta.delta, "content", None) or ():
            value = part.text.value if part.type == "text" and part.text is not None else None
            if value:
                self.printed[delta.id] = self.printed.get(delta.id, "") + value
                click.echo(printable(value), nl=False)
                sys.stdout.flush()

    def finish(self, message_id: str, text: str) -> None:
        """Complete the message on screen: the part not streamed (all of it, if none was)."""
        if message_id in self.finished:
            return
        self.finished.add(message_id)
        printed = self.printed.get(message_id, "")
        if printed and text.startswith(printed):
            say(text[len(printed) :])
        else:
            if printed:
                say()  # a broken stream: start the whole reply on a line of its own
            say(text)


def _line_reader(interactive: bool) -> Callable[[], str | None]:
    """The next line typed or piped, or None at the end. At a terminal, readline edits lines
    and keeps their history between chats; Ctrl-C at the prompt ends the chat like Ctrl-D."""
    if not (interactive and sys.stdout.isatty()):

        def read_piped() -> str | None:
            if interactive:
                click.echo(PROMPT, err=True, nl=False)
            line = read_stdin_line("a chat line")
            return line or None

        return read_piped
    history = _enable_readline()

    def read_typed() -> str | None:
        try:
            line = input(PROMPT)
        except (EOFError, KeyboardInterrupt):
            click.echo(err=True)
            return None
        if history is not None:
            history(line)
        return line

    return read_typed


def _enable_readline() -> Callable[[str], None] | None:
    """Line editing and a history file; None where readline is missing (Windows)."""
    try:
        import readline
    except ImportError:
        return None
    import platformdirs

    path = Path(platformdirs.user_data_dir("assistdb", appauthor=False)) / "chat_history"
    with contextlib.suppress(OSError):  # no history yet
        readline.read_history_file(path)
    readline.set_history_length(1000)

    def remember(line: str) -> None:
        if not line.strip():
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()  # readline appends only to a file that exists
            readline.append_history_file(1, path)
        except OSError:
            pass  # history is a comfort, not worth failing a chat over

    return remember


def _refuse_tools(cli: CliContext, run: Run) -> Run:
    """Cancel a run that wants tools this chat cannot call, and say how to give them."""
    action = run.required_action
    calls = action.submit_tool_outputs.tool_calls if action is not None else []
    names = ", ".join(sorted({call.function.name for call in calls})) or "a tool"
    cli.db.runs.cancel(run.id, thread_id=run.thread_id)
    ended = cli.db.runs.wait(run.id, thread_id=run.thread_id, timeout=30)
    note(
        f"the assistant asked for {names}, which this chat cannot call: run {run.id} was cancelled "
        "(start the chat with --tools MODULE[:ATTR] to answer tool calls)"
    )
    return ended


def _slash_command(cli: CliContext, command: str, thread_id: str, tools: ToolRegistry | None) -> None:
    if command == "/help":
        note(HELP)
    elif command == "/tools":
        names = [definition["function"]["name"] for definition in tools.definitions()] if tools else []
        note(", ".join(names) if names else "no tools: start the chat with --tools MODULE[:ATTR]")
    else:
        found = cli.store.reader.find("run", Filters(thread_id=thread_id))
        emit_table(
            ["id", "status", "created"],
            ([r.body.get("id"), r.body.get("status"), human_time(r.body.get("created_at"))] for r in found),
            empty="no runs yet in this thread",
        )


def _open_transcript(path: Path | None, assistant_id: str, thread_id: str) -> IO[str] | None:
    """The --save file, opened for appending (an existing file keeps its content)."""
    if path is None:
        return None
    try:
        handle = path.open("a", encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(
            f"cannot write {path}: {exc.strerror}", hint="pass --save a writable file path"
        ) from None
    _append(handle, f"## Chat with {assistant_id} in {thread_id}")
    return handle


def _append(handle: IO[str] | None, text: str) -> None:
    if handle is not None:
        handle.write(text + "\n\n")
        handle.flush()
