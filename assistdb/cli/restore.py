"""``assistdb restore``: load archived objects into ``assistdb serve``'s database, IDs unchanged.

The client side reads the source (:mod:`assistdb.audit.object_sources`), the server side loads
plain bodies into its tables (:mod:`assistdb.server.restoring`); this command joins the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from assistdb.cli.options import json_option
from assistdb.cli.output import emit_json, note
from assistdb.errors import ConflictError, VerificationError

_KIND_LABELS = {
    "file": "files",
    "vector_store": "vector stores",
    "vector_store.file": "vector store files",
    "assistant": "assistants",
    "thread": "threads",
    "thread.message": "messages",
    "thread.run": "runs",
    "thread.run.step": "run steps",
}
#: Counted only when the source has any, so a restore of conversations alone reads as before.
_FILE_KINDS: dict[str, ObjectType] = {
    "file": "file",
    "vector_store": "vector_store",
    "vector_store.file": "vs_file",
}
SHOWN_PROBLEMS = 20

if TYPE_CHECKING:
    from assistdb.audit.object_sources import SourceObjects
    from assistdb.server.restoring import RestoreReport
    from assistdb.store.objects import ObjectType


def printable(text: str) -> str:
    """``text`` with control characters escaped, so remote data cannot drive the terminal."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


@click.command()
@click.argument("source")
@click.option(
    "--database-url",
    envvar="ASSISTDB_SERVER_DATABASE_URL",
    default=None,
    help="The server's database [env ASSISTDB_SERVER_DATABASE_URL; default: as `assistdb serve`].",
)
@click.option(
    "--allow-unverified", is_flag=True, help="Restore an archive or export whose hash chains do not verify."
)
@click.option("--dry-run", is_flag=True, help="Check and count what would be restored; write nothing.")
@json_option
def restore(
    source: str, database_url: str | None, allow_unverified: bool, dry_run: bool, as_json: bool
) -> None:
    """Load an archive, an export or raw API objects into `assistdb serve`'s database.

    SOURCE is an archive's database URL, a file written by `assistdb audit export`, or a .jsonl
    file or folder of Assistants API objects. Files (with their archived content), vector stores
    (with the files they held, indexed again), assistants, threads, messages, runs and steps keep
    their IDs, timestamps and order.
    Objects already there unchanged are skipped; an ID there with other content is a conflict and
    nothing is written (exit 8). A run that was still active is restored as expired; a file whose
    content the source lacks is not restored.
    """
    from assistdb.audit.object_sources import read_objects
    from assistdb.server.config import ServerConfig
    from assistdb.server.restoring import ContentMismatchError, RestoreError, restore_objects
    from assistdb.server.storage import default_server_database_url, open_state

    url = database_url or default_server_database_url()
    with read_objects(source, allow_unverified=allow_unverified) as objects:
        store = open_state(ServerConfig(database_url=url))
        try:
            report = restore_objects(store, objects.bodies(), contents=objects.content, dry_run=dry_run)
        except ContentMismatchError as exc:
            raise VerificationError(
                f"{exc}; nothing was restored", hint="the source's file content was altered"
            ) from None
        except RestoreError as exc:
            for problem in exc.problems[:SHOWN_PROBLEMS]:
                note(f"  {printable(problem)}")
            if len(exc.problems) > SHOWN_PROBLEMS:
                note(f"  ... and {len(exc.problems) - SHOWN_PROBLEMS} more")
            raise ConflictError(
                f"{exc}; nothing was restored",
                hint="restore into another database, or delete the objects named from the server first",
            ) from None
        finally:
            store.database.dispose()
    _report(objects, report, dry_run=dry_run, as_json=as_json)


def _report(objects: SourceObjects, report: RestoreReport, *, dry_run: bool, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "source": objects.description,
                "verified": objects.verified,
                "dry_run": dry_run,
                "added": report.added,
                "unchanged": report.unchanged,
                "expired_runs": report.expired_runs,
                "files_without_content": report.contentless,
                "skipped_vector_store_files": [
                    {"id": link, "reason": why} for link, why in report.skipped_links
                ],
                "skipped": objects.skipped,
            }
        )
        return
    verb = "would restore" if dry_run else "restored"
    counts = ", ".join(
        f"{report.added[kind]} {label}"
        for kind, label in _KIND_LABELS.items()
        if kind not in _FILE_KINDS or objects.by_kind[_FILE_KINDS[kind]]
    )
    note(f"{verb} {counts} from {printable(objects.description)}")
    unchanged = sum(report.unchanged.values())
    if unchanged:
        note(f"{unchanged} object(s) were already there, unchanged")
    for link, why in report.skipped_links:
        note(f"vector store file {printable(link)} was not restored: {printable(why)}")
    for run_id in report.expired_runs:
        note(f"run {printable(run_id)} was still active in the source; restored as expired")
    for file_id in report.contentless:
        note(f"file {printable(file_id)} was not restored: the source does not hold its content")
    if objects.skipped:
        note(f"{objects.skipped} object(s) of other kinds or deletion markers were skipped")
