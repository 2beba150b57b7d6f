"""``assistdb messages``: add messages to a thread and read them, from the archive or the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import click

from assistdb.cli.archived import Archived, history_command, latest
from assistdb.cli.bounds import COUNT
from assistdb.cli.completion import archived_ids
from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.options import json_option, metadata_option, read_stdin_text, remote_option, thread_option
from assistdb.cli.output import emit_fields, emit_json, emit_table, human_time, message_text, say
from assistdb.repositories.validation import check_id
from assistdb.store import Filters


@click.group()
def messages() -> None:
    """Add messages to threads and read them."""


def _emit_message(found: Archived, as_json: bool) -> None:
    message = found.body
    if as_json:
        emit_json(message)
        return
    emit_fields(
        [
            ("id", message.get("id")),
            ("thread", message.get("thread_id")),
            ("role", message.get("role")),
            ("status", message.get("status")),
            ("run", message.get("run_id")),
            ("created", human_time(message.get("created_at"))),
            ("metadata", message.get("metadata")),
            *found.deletion_fields(),
        ]
    )
    say()
    say(message_text(message))


@messages.command("add")
@click.argument("thread_id", shell_complete=archived_ids("thread"))
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
    message = cli.db.messages.create(thread_id, content=content, role=role, metadata=metadata or None)
    _emit_message(Archived(message.to_dict()), as_json)


@messages.command("list")
@click.argument("thread_id", shell_complete=archived_ids("thread"))
@remote_option
@click.option("--run", "run_id", metavar="ID", help="Only the messages this run wrote.")
@click.option("--limit", type=COUNT, help="Show at most this many (the latest).")
@json_option
@pass_cli
def list_messages(
    cli: CliContext, thread_id: str, remote: bool, run_id: str | None, limit: int | None, as_json: bool
) -> None:
    """A thread's messages in conversation order, from the archive unless --remote."""
    found: list[Mapping[str, Any]]
    if remote:
        found = [m.to_dict() for m in cli.db.messages.list(thread_id, order="asc", run_id=run_id)]
    else:
        filters = Filters(
            thread_id=check_id("thread", thread_id), run_id=check_id("run", run_id) if run_id else None
        )
        found = [stored.body for stored in cli.store.reader.iter_find("message", filters)]
        if not found:  # an unknown thread is exit 3, as for `threads show`; a known one may be empty
            latest(cli.store, "thread", thread_id, hint="`assistdb threads track` it, or pass --remote")
    if limit is not None:
        found = found[-limit:]
    if as_json:
        emit_json(found)
        return
    emit_table(
        ["id", "role", "created", "text"],
        (
            [m.get("id"), m.get("role"), human_time(m.get("created_at")), _preview(message_text(m))]
            for m in found
        ),
        empty=f"no messages archived for {thread_id}" + ("" if remote else " (sync it, or pass --remote)"),
    )


def _preview(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@messages.command("show")
@click.argument("message_id", shell_complete=archived_ids("message"))
@thread_option
@remote_option
@json_option
@pass_cli
def show(cli: CliContext, message_id: str, thread_id: str | None, remote: bool, as_json: bool) -> None:
    """Show one message, from the archive unless --remote (a deleted one as last archived)."""
    if remote:
        found = Archived(cli.db.messages.retrieve(message_id, thread_id=thread_id).to_dict())
    else:
        found = latest(
            cli.store, "message", message_id, hint="pass --remote, or `assistdb threads sync` its thread"
        )
    _emit_message(found, as_json)


messages.add_command(history_command("message", hint="`assistdb threads sync` its thread, then try again"))
