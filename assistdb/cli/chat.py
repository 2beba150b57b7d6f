"""``assistdb chat``: a conversation with an assistant in the terminal, or driven through a pipe."""

from __future__ import annotations

import sys

import click

from assistdb.cli.completion import archived_ids
from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.options import tools_option
from assistdb.cli.output import message_text, note, say
from assistdb.cli.runs import load_tools, raise_unless_completed
from assistdb.errors import RunError

EXIT_COMMANDS = ("/exit", "/quit")


@click.command()
@click.argument("assistant_id", shell_complete=archived_ids("assistant"))
@click.option("--thread", "thread_id", metavar="ID", help="Continue this thread (default: a new one).")
@tools_option
@pass_cli
def chat(cli: CliContext, assistant_id: str, thread_id: str | None, tools_spec: str | None) -> None:
    """Talk with an assistant: each line you type is a message, and its reply is printed.

    /exit or end of input (Ctrl-D) ends the chat; Ctrl-C cancels a running run and exits.
    With stdin piped, each line is one message and only the replies reach stdout. The exit code
    is 5 if any run ended other than completed.
    """
    tools = load_tools(tools_spec)
    cli.db.assistants.retrieve(assistant_id)  # an unknown assistant fails before a thread is made
    thread = cli.db.threads.track(thread_id) if thread_id else cli.db.threads.create()
    stdin = sys.stdin
    interactive = stdin.isatty()
    note(f"chatting with {assistant_id} in {thread.id}" + (" (/exit to end)" if interactive else ""))
    failed: RunError | None = None
    while True:
        if interactive:
            click.echo("you> ", err=True, nl=False)
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in EXIT_COMMANDS:
            break
        cli.db.messages.create(thread.id, content=text)
        run = cli.db.runs.create_and_wait(thread.id, assistant_id=assistant_id, tools=tools)
        try:
            raise_unless_completed(run)
        except RunError as exc:
            failed = exc
            note(f"error: {exc}")
            continue
        for message in cli.db.messages.find(thread.id, run_id=run.id):
            if message.role == "assistant":
                say(message_text(message.to_dict()))
        if interactive:
            click.echo(err=True)
    if failed is not None:
        raise failed
