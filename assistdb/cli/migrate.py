"""``assistdb threads migrate``: archived threads to conversations on a Conversations endpoint.

The endpoint is the API the root options name (``--base-url``, ``OPENAI_BASE_URL``); the key
comes from ``OPENAI_API_KEY`` as for every other command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.options import json_option, metadata_option
from assistdb.cli.output import emit_json, emit_table, note
from assistdb.cli.restore import printable
from assistdb.errors import InvalidInputError, MigrationError

if TYPE_CHECKING:
    from assistdb.migration.migrate import ThreadOutcome


@click.command("migrate")
@click.argument("thread_ids", nargs=-1)
@click.option("--all", "all_threads", is_flag=True, help="Every thread in the archive.")
@metadata_option("Threads whose metadata has this pair; repeat for more.")
@click.option(
    "--dry-run", is_flag=True, help="Print each thread's plan (items, batches, lossy parts); send nothing."
)
@click.option("--allow-lossy", is_flag=True, help="Migrate threads with parts that have no item form.")
@click.option(
    "--retries", type=click.IntRange(0, 20), default=5, show_default=True, help="Retries of a failed request."
)
@json_option
@pass_cli
def migrate(
    cli: CliContext,
    thread_ids: tuple[str, ...],
    all_threads: bool,
    metadata: dict[str, str] | None,
    dry_run: bool,
    allow_lossy: bool,
    retries: int,
    as_json: bool,
) -> None:
    """Move archived threads to the Conversations API, resumably; each is verified after.

    Items go 20 per request; every confirmed batch is journaled in the archive, so a rerun after
    a crash or Ctrl-C carries on without duplicating or skipping an item. A thread with lossy
    parts is refused unless --allow-lossy. Exit 9 if any thread was not migrated (each is named).
    """
    from assistdb.migration import Migrator

    if bool(thread_ids) + all_threads + (metadata is not None) != 1:
        raise InvalidInputError(
            "name threads, or pass --all, or --metadata KEY=VALUE (one of them)",
            hint="see 'assistdb threads migrate --help'",
        )
    migrator = Migrator(cli.store, cli.db.client, allow_lossy=allow_lossy, retries=retries)
    selected = list(thread_ids) if thread_ids else list(migrator.all_threads(metadata))
    outcomes = list(migrator.migrate_all(selected, dry_run=dry_run))
    if as_json:
        emit_json(outcomes)
    else:
        rows = [
            [
                printable(o.thread_id),
                o.status,
                printable(o.conversation_id or ""),
                o.items,
                o.batches,
                len(o.lossy),
            ]
            for o in outcomes
        ]
        emit_table(
            ["thread", "status", "conversation", "items", "batches", "lossy"], rows, empty="no threads"
        )
        for outcome in outcomes:
            for part in outcome.lossy:
                note(f"{printable(outcome.thread_id)}: lossy: {printable(part)}")
            for line in outcome.notes:
                note(f"{printable(outcome.thread_id)}: note: {printable(line)}")
            if outcome.error:
                note(f"{printable(outcome.thread_id)}: {outcome.status}: {printable(_reason(outcome))}")
    failed = [o for o in outcomes if o.status in ("failed", "refused")]
    if failed:
        raise MigrationError(
            f"{len(failed)} of {len(outcomes)} thread(s) were not migrated; "
            f"{printable(failed[0].thread_id)}: {printable(_reason(failed[0]))}",
            hint="fix what is named and run the command again: migrated items are not sent twice",
        )


def _reason(outcome: ThreadOutcome) -> str:
    """Why a thread was not migrated, in CLI words: a refusal for lossy parts names the flag
    where the library names its argument."""
    if outcome.status == "refused":
        return f"{len(outcome.lossy)} lossy part(s); pass --allow-lossy to migrate it anyway"
    return outcome.error or outcome.status
