"""``assistdb threads``: create and adopt threads, search the archive, sync, and print transcripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from assistdb.cli.archived import Archived, history_command, latest
from assistdb.cli.bounds import COUNT
from assistdb.cli.completion import archived_ids
from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.options import (
    DateParam,
    confirm_or_refuse,
    json_option,
    metadata_option,
    remote_option,
    yes_option,
)
from assistdb.cli.output import (
    emit_fields,
    emit_json,
    emit_json_text,
    emit_table,
    human_time,
    note,
    progress,
    say,
    to_data,
)
from assistdb.errors import ApiError, InvalidInputError
from assistdb.repositories.validation import check_id
from assistdb.store import Filters


@click.group()
def threads() -> None:
    """Create, track, search, sync and read threads."""


def _emit_thread(cli: CliContext, found: Archived, as_json: bool) -> None:
    thread = found.body
    if as_json:
        emit_json(thread)
        return
    reader = cli.store.reader
    thread_id = str(thread["id"])
    cursor = cli.store.tracking.cursor(thread_id)
    emit_fields(
        [
            ("id", thread_id),
            ("created", human_time(thread.get("created_at"))),
            ("metadata", thread.get("metadata")),
            *found.deletion_fields(),
            ("messages", reader.count("message", Filters(thread_id=thread_id))),
            ("runs", reader.count("run", Filters(thread_id=thread_id))),
            ("tracked", "yes" if cursor is not None else "no"),
            (
                "last synced",
                human_time(cursor.last_synced_at_us / 1e6)
                if cursor and cursor.last_synced_at_us
                else "never",
            ),
        ]
    )


@threads.command("create")
@click.option(
    "--message", "messages", multiple=True, metavar="TEXT", help="A first user message; repeat for more."
)
@metadata_option()
@json_option
@pass_cli
def create(
    cli: CliContext, messages: tuple[str, ...], metadata: dict[str, str] | None, as_json: bool
) -> None:
    """Create a thread (optionally with messages) and track it."""
    params: dict[str, Any] = {}
    if messages:
        params["messages"] = [{"role": "user", "content": text} for text in messages]
    if metadata:
        params["metadata"] = metadata
    _emit_thread(cli, Archived(cli.db.threads.create(**params).to_dict()), as_json)


@threads.command("track")
@click.argument("thread_ids", nargs=-1, required=True, metavar="THREAD_ID...")
@json_option
@pass_cli
def track(cli: CliContext, thread_ids: tuple[str, ...], as_json: bool) -> None:
    """Adopt threads created elsewhere: archive them and keep them in sync from now on."""
    for thread_id in thread_ids:
        check_id("thread", thread_id)
    tracked = []
    with progress("tracking threads", total=len(thread_ids)) as advance:
        for thread_id in dict.fromkeys(thread_ids):
            tracked.append(cli.db.threads.track(thread_id))
            advance(1)
    if as_json:
        emit_json(tracked)
        return
    listed = ", ".join(thread.id for thread in tracked[:3]) + (", …" if len(tracked) > 3 else "")
    note(f"tracking {len(tracked)} thread(s): {listed}")
    note("run `assistdb threads sync --all` to archive their messages and runs")


@threads.command("list")
@metadata_option("Only threads with this metadata pair; repeat to require several.")
@click.option(
    "--assistant",
    "assistant_id",
    metavar="ID",
    shell_complete=archived_ids("assistant"),
    help="Only threads this assistant ran on.",
)
@click.option("--since", type=DateParam(), help="Only threads created at or after DATE (UTC unless given).")
@click.option("--until", type=DateParam(), help="Only threads created before DATE.")
@click.option("--deleted", is_flag=True, help="Include threads deleted remotely (their last archived state).")
@click.option("--limit", type=COUNT, help="Show at most this many.")
@json_option
@pass_cli
def list_threads(
    cli: CliContext,
    metadata: dict[str, str] | None,
    assistant_id: str | None,
    since: datetime | None,
    until: datetime | None,
    deleted: bool,
    limit: int | None,
    as_json: bool,
) -> None:
    """List archived threads, newest first (no API call)."""
    filters = Filters(
        metadata=metadata,
        assistant_id=check_id("assistant", assistant_id) if assistant_id else None,
        created_after=int(since.timestamp()) if since else None,
        created_before=int(until.timestamp()) if until else None,
        include_deleted=deleted,
    )
    found = []
    for stored in cli.store.reader.find("thread", filters, order="desc", limit=limit):
        if stored.tombstone:
            # The tombstone only says "deleted"; show what the thread was when last seen.
            live = cli.store.reader.last_live(stored.object_id)
            body = {**(live.body if live else {"id": stored.object_id}), "deleted": True}
        else:
            body = stored.body
        found.append(body)
    if as_json:
        emit_json(found)
        return
    columns = ["id", "created", "metadata"] + (["deleted"] if deleted else [])
    emit_table(
        columns,
        (
            [body["id"], human_time(body.get("created_at")), body.get("metadata") or {}]
            + (["yes" if body.get("deleted") else ""] if deleted else [])
            for body in found
        ),
        empty=(
            "no archived thread matches (`assistdb threads list` without filters shows them all)"
            if metadata or assistant_id or since or until
            else "no threads in the archive (create one, or `assistdb threads track ID`)"
        ),
    )


@threads.command("show")
@click.argument("thread_id", shell_complete=archived_ids("thread"))
@remote_option
@json_option
@pass_cli
def show(cli: CliContext, thread_id: str, remote: bool, as_json: bool) -> None:
    """Show a thread, from the archive unless --remote."""
    if remote:
        found = Archived(cli.db.threads.retrieve(thread_id).to_dict())
    else:
        found = latest(
            cli.store, "thread", thread_id, hint="pass --remote, or `assistdb threads track` it first"
        )
    _emit_thread(cli, found, as_json)


@threads.command("delete")
@click.argument("thread_id", shell_complete=archived_ids("thread"))
@yes_option
@pass_cli
def delete(cli: CliContext, thread_id: str, yes: bool) -> None:
    """Delete a thread remotely; the archive keeps its history and marks it deleted."""
    check_id("thread", thread_id)
    confirm_or_refuse(f"Delete thread {thread_id}?", yes)
    cli.db.threads.delete(thread_id)
    note(f"deleted {thread_id}")


@threads.command("sync")
@click.argument("thread_ids", nargs=-1, metavar="[THREAD_ID]...", shell_complete=archived_ids("thread"))
@click.option("--all", "all_tracked", is_flag=True, help="Sync every tracked thread.")
@click.option(
    "--full", is_flag=True, help="Reconcile everything: edits and deletions too, not only what is new."
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=4, show_default=True, help="Threads synced at once."
)
@click.option(
    "--with-files",
    is_flag=True,
    help="Also archive the files the threads refer to, with their content (each content once).",
)
@json_option
@pass_cli
def sync(
    cli: CliContext,
    thread_ids: tuple[str, ...],
    all_tracked: bool,
    full: bool,
    workers: int,
    with_files: bool,
    as_json: bool,
) -> None:
    """Bring archived threads up to date with the API (only what is new, unless --full)."""
    from assistdb.sync import sync_threads
    from assistdb.sync.files import archive_thread_files

    if bool(thread_ids) == all_tracked:
        raise InvalidInputError("name the threads to sync, or pass --all", hint="not both")
    for thread_id in thread_ids:
        check_id("thread", thread_id)
    targets = list(thread_ids) if thread_ids else None
    total = len(thread_ids) if thread_ids else len(cli.store.tracking.thread_ids())
    with progress("syncing threads", total=total) as advance:
        summary = sync_threads(
            cli.db, targets, full=full, workers=workers, on_progress=lambda _result: advance(1)
        )
    data = to_data(summary)
    if with_files:
        synced = [result.thread_id for result in summary.results if result.ok and not result.gone]
        with progress("archiving files", total=None) as advance:
            archived = archive_thread_files(cli.db, synced, on_file=lambda _id: advance(1))
        data["files"] = to_data(archived)
        data.update(
            {
                "files referenced": archived.files,
                "contents stored": archived.stored,
                "contents known": archived.already,
                "files gone": archived.gone,
                "files failed": len(archived.errors),
            }
        )
    if as_json:
        emit_json(data)
    else:
        emit_fields((key, value) for key, value in data.items() if not isinstance(value, list | dict))
    if with_files and archived.errors:
        file_id, error = next(iter(archived.errors.items()))
        raise ApiError(
            f"{len(archived.errors)} file(s) could not be archived; {file_id}: {error}",
            hint="run the sync again: contents already archived are not downloaded again",
        )
    if summary.failed:
        thread_id, error = next(iter(summary.errors.items()))
        raise ApiError(
            f"{summary.failed} of {summary.threads} thread(s) failed to sync; {thread_id}: {error}",
            hint="run the sync again: it carries on from where each thread stopped",
        )


@threads.command("transcript")
@click.argument("thread_id", shell_complete=archived_ids("thread"))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["md", "json"]),
    default="md",
    show_default=True,
    help="Markdown for people, JSON for programs.",
)
@pass_cli
def transcript(cli: CliContext, thread_id: str, output_format: str) -> None:
    """The conversation from the archive: messages, runs, tool calls with their outputs, usage."""
    from assistdb.audit.transcript import build_transcript

    built = build_transcript(cli.store, check_id("thread", thread_id))
    if output_format == "md":
        say(built.to_markdown())
    else:
        emit_json_text(built.to_json())


threads.add_command(history_command("thread", hint="`assistdb threads track` it first"))


def _add_migrate() -> None:
    from assistdb.cli.migrate import migrate

    threads.add_command(migrate)


_add_migrate()
