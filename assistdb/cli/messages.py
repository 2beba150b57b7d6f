"""``assistdb messages``: add messages to a thread and read them, from the archive or the API."""

from __future__ import annotations

from typing import Literal

import click
from openai.types.beta.threads import Message

from assistdb.cli.bounds import COUNT
from assistdb.cli.context import CliContext, pass_cli, require_archived
from assistdb.cli.options import (
    json_option,
    metadata_option,
    read_stdin_text,
    remote_option,
    thread_option,
)
from assistdb.cli.output import emit_fields, emit_json, emit_table, human_time, message_text


@click.group()
def messages() -> None:
    """Add messages to threads and read them."""


def _emit_message(message: Message, as_json: bool) -> None:
    if as_json:
        emit_json(message)
        return
    emit_fields(
        [
            ("id", message.id),
            ("thread", message.thread_id),
            ("role", message.role),
            ("status", message.status),
            ("run", message.run_id),
            ("created", human_time(message.created_at)),
            ("metadata", message.metadata),
        ]
    )
    click.echo()
    click.echo(message_text(message.to_dict()))


@messages.command("add")
@click.argument("thread_id")
@click.argument("text")
@click.option("--role", type=click.Choice(["user", "assistant"]), default="user", show_default=True)
@metadata_option()
@json_option
@pass_cli
def add(
    cli: CliContext,
    thread_id: str,
    text: str,
    role: Literal["user", "assistant"],
    metadata: dict[str, str] | None,
    as_json: bool,
) -> None:
    """Add a message to a thread (TEXT of `-` reads it from stdin)."""
    content = read_stdin_text("the message") if text == "-" else text
    extra = {"metadata": metadata} if metadata else {}
    message = cli.db.messages.create(thread_id, content=content, role=role, **extra)
    _emit_message(message, as_json)


@messages.command("list")
@click.argument("thread_id")
@remote_option
@click.option("--run", "run_id", metavar="ID", help="Only the messages this run wrote.")
@click.option("--limit", type=COUNT, help="Show at most this many (the latest).")
@json_option
@pass_cli
def list_messages(
    cli: CliContext, thread_id: str, remote: bool, run_id: str | None, limit: int | None, as_json: bool
) -> None:
    """A thread's messages in conversation order, from the archive unless --remote."""
    if remote:
        found = list(cli.db.messages.list(thread_id, order="asc", run_id=run_id))
    else:
        found = cli.db.messages.find(thread_id, run_id=run_id)
    if limit is not None:
        found = found[-limit:]
    if as_json:
        emit_json(found)
        return
    emit_table(
        ["id", "role", "created", "text"],
        ([m.id, m.role, human_time(m.created_at), _preview(message_text(m.to_dict()))] for m in found),
        empty=f"no messages archived for {thread_id}" + ("" if remote else " (sync it, or pass --remote)"),
    )


def _preview(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@messages.command("show")
@click.argument("message_id")
@thread_option
@remote_option
@json_option
@pass_cli
def show(cli: CliContext, message_id: str, thread_id: str | None, remote: bool, as_json: bool) -> None:
    """Show one message, from the archive unless --remote."""
    if remote:
        message = cli.db.messages.retrieve(message_id, thread_id=thread_id)
    else:
        message = require_archived(
            cli.db.messages.archived(message_id),
            f"message {message_id}",
            hint="pass --remote, or sync its thread",
        )
    _emit_message(message, as_json)
