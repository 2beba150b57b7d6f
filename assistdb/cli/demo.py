"""``assistdb demo``: the whole product in one command, offline, on a fresh machine.

It starts the local Assistants server in this process, archives into a temporary database,
and walks one conversation through a tool call, a sync, a verification, the transcript and
the usage report, using the same library calls as the other commands.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click
from click.core import ParameterSource

from assistdb.cli.audit import render_usage
from assistdb.cli.context import CliContext
from assistdb.cli.output import note, say
from assistdb.cli.runs import raise_unless_completed
from assistdb.errors import VerificationError

DEMO_MESSAGE = '/tool get_weather {"city": "Paris"}'


def get_weather(city: str) -> dict[str, object]:
    """Today's weather in a city (made up: the demo needs no network).

    Args:
        city: The city's name, e.g. Paris.
    """
    return {"city": city, "sky": "sunny", "temperature_c": 21}


@click.command()
@click.option("--db", "demo_db", metavar="URL", help="Archive into this database instead of a temporary one.")
@click.option("--keep", is_flag=True, help="Keep the temporary database, and print where it is.")
@click.pass_context
def demo(ctx: click.Context, demo_db: str | None, keep: bool) -> None:
    """Show assistdb end to end against a built-in local server: no key, no network."""
    from assistdb.audit import build_transcript, usage_report, verify
    from assistdb.facades import AssistDB
    from assistdb.runner import ToolRegistry, tool
    from assistdb.server import LocalServer
    from assistdb.sync import sync_threads

    demo_tools = ToolRegistry([tool(get_weather)])

    url = demo_db
    cli = ctx.find_object(CliContext)
    given = ctx.find_root().get_parameter_source("database_url") is ParameterSource.COMMANDLINE
    if url is None and given and cli is not None:
        url = cli.database_url  # `assistdb --db URL demo`; ASSISTDB_DATABASE_URL alone is not enough
    folder = None if url else Path(tempfile.mkdtemp(prefix="assistdb-demo-"))
    if folder is not None:
        url = f"sqlite:///{folder / 'archive.sqlite3'}"
    try:
        with (
            LocalServer(run_latency=0.2, poll_after_ms=100) as server,
            AssistDB(url, client=server.client()) as db,
        ):
            note(f"1. started a local Assistants server at {server.base_url}")
            assistant = db.assistants.create(
                name="weather-demo",
                model="gpt-4o",
                instructions="Answer questions about the weather; call get_weather for facts.",
                tools=demo_tools.definitions(),
            )
            note(f"2. created assistant {assistant.id} with the function tool get_weather")
            thread = db.threads.create(messages=[{"role": "user", "content": DEMO_MESSAGE}])
            note(f"3. created thread {thread.id} asking: {DEMO_MESSAGE}")
            run = db.runs.create_and_wait(thread.id, assistant_id=assistant.id, tools=demo_tools)
            raise_unless_completed(run)
            note(f"4. run {run.id} called get_weather in Python and completed")
            sync_threads(db, [thread.id], full=True)
            note("5. synced the thread into the archive")
            report = verify(db.store)
            if not report.ok:
                raise VerificationError(report.error().message, hint="this is a bug; please report it")
            note(f"6. verified {report.chains} hash chain(s), {report.rows} archived version(s)")
            note("")
            say(build_transcript(db.store, thread.id).to_markdown())
            say()
            render_usage(usage_report(db.store, group_by="assistant"), as_json=False)
    finally:
        if folder is not None:
            if keep:
                note(f"the demo archive is kept at {folder / 'archive.sqlite3'}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
