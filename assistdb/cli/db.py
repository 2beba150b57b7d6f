"""``assistdb db``: where the archive lives, and its schema revision."""

from __future__ import annotations

import click

from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.options import json_option
from assistdb.cli.output import emit_json, note


@click.group()
def db() -> None:
    """Where the archive is, and its schema."""


@db.command("path")
@pass_cli
def path(cli: CliContext) -> None:
    """Print where the archive is (a file path, or the URL without its password); opens nothing."""
    from assistdb.store.database import parse_database_url, redact_url

    url = parse_database_url(cli.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        click.echo(url.database)
    else:
        click.echo(redact_url(url))


@db.command("current")
@json_option
@pass_cli
def current(cli: CliContext, as_json: bool) -> None:
    """Print the archive's schema revision and whether it is the newest."""
    from assistdb.store import Database, migrations

    database = Database(cli.resolved_database_url)
    try:
        revision = migrations.current_revision(database)
    finally:
        database.dispose()
    head = migrations.head_revision()
    if as_json:
        emit_json(
            {
                "database": database.display_url,
                "current": revision,
                "head": head,
                "up_to_date": revision == head,
            }
        )
        return
    state = "(head)" if revision == head else f"(head is {head}; run `assistdb db upgrade`)"
    click.echo(f"{revision or 'empty'} {state}")


@db.command("upgrade")
@pass_cli
def upgrade(cli: CliContext) -> None:
    """Migrate the archive to the newest schema (other commands do this on their own, too)."""
    from assistdb.store import Database, migrations

    database = Database(cli.resolved_database_url)
    try:
        before = migrations.current_revision(database)
        migrations.upgrade(database)
        after = migrations.current_revision(database)
    finally:
        database.dispose()
    if before == after:
        note(f"{database.display_url} is already at {after} (head)")
    else:
        note(f"upgraded {database.display_url} from {before or 'empty'} to {after}")
