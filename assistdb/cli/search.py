"""``assistdb search``: full-text search over the text of archived messages (no API call)."""

from __future__ import annotations

from datetime import datetime

import click

from assistdb.cli.completion import archived_ids
from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.options import DateParam, json_option
from assistdb.cli.output import emit_json, emit_table, human_time
from assistdb.repositories.validation import check_id


@click.command()
@click.argument("query")
@click.option(
    "--thread", "thread_id", metavar="ID", shell_complete=archived_ids("thread"), help="Only this thread."
)
@click.option(
    "--assistant",
    "assistant_id",
    metavar="ID",
    shell_complete=archived_ids("assistant"),
    help="Only threads this assistant ran on.",
)
@click.option("--role", type=click.Choice(["user", "assistant"]), help="Only messages of this role.")
@click.option("--since", type=DateParam(), help="Only messages created at or after DATE (UTC unless given).")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Show at most this many."
)
@json_option
@pass_cli
def search(
    cli: CliContext,
    query: str,
    thread_id: str | None,
    assistant_id: str | None,
    role: str | None,
    since: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """Find archived messages containing every word of QUERY, best matches first.

    Words match their other forms too ("refunds" finds "refund"). The matches are marked
    **like this** in each snippet. The index follows every sync; `assistdb threads sync` first
    to search what is new.
    """
    from assistdb.store.search import SearchFilters, search_messages

    filters = SearchFilters(
        thread_id=check_id("thread", thread_id) if thread_id else None,
        assistant_id=check_id("assistant", assistant_id) if assistant_id else None,
        role=role,
        created_after=int(since.timestamp()) if since else None,
    )
    hits = search_messages(cli.store.database, query, filters, limit=limit)
    if as_json:
        emit_json(hits)
        return
    emit_table(
        ["id", "thread", "role", "created", "snippet"],
        ([hit.message_id, hit.thread_id, hit.role, human_time(hit.created_at), hit.snippet] for hit in hits),
        empty=f"no archived message contains {query!r}",
    )
