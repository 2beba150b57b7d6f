"""``assistdb audit``: verify the archive's hash chains, compare with the API, report usage, and
move the whole archive in and out as JSONL."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistdb.cli.completion import archived_ids
from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.options import DateParam, json_option
from assistdb.cli.output import emit_json, emit_table, note, progress, say, to_data
from assistdb.errors import InvalidInputError, NotFoundError
from assistdb.repositories.validation import check_id

if TYPE_CHECKING:
    from assistdb.audit import RowCounts, UsageReport, VerifyReport
    from assistdb.audit.usage import GroupBy

#: ``audit.usage.GroupBy``'s values, written out so that loading this module (for ``--help``)
#: does not load the audit package and SQLAlchemy; tests/cli/test_audit.py checks they agree.
GROUPINGS = ("assistant", "model", "thread", "day")

log = logging.getLogger("assistdb.audit")


@click.group()
def audit() -> None:
    """Verify, compare, account for and export the archive."""


@audit.command("verify")
@click.option(
    "--thread", "thread_id", metavar="ID", help="Verify only this thread's chain and its runs' ledgers."
)
@click.option(
    "--expect",
    metavar="DIGEST|@FILE",
    help="Also fail unless the archive continues the state this digest (or saved --json output) names.",
)
@json_option
@pass_cli
def verify_command(cli: CliContext, thread_id: str | None, expect: str | None, as_json: bool) -> None:
    """Check the database, every hash chain and the index; exit 6 naming every bad row."""
    from assistdb.audit.verify import load_expected, record_checkpoint, verify

    chain_id = check_id("thread", thread_id) if thread_id else None
    expected = load_expected(cli.store, expect) if expect else None
    report = verify(cli.store, chain_id=chain_id, expected=expected)
    if chain_id is not None and report.chains == 0:
        raise NotFoundError(
            f"the archive has no thread {chain_id}", hint="`assistdb threads list` shows them"
        )
    recorded = report.ok and chain_id is None and record_checkpoint(cli.store, report)
    log.info("database check: %s", report.integrity)
    if report.unverified:
        note(
            f"note: {report.unverified} row(s) sealed with an archive key were checked for links and "
            "content only; set ASSISTDB_ARCHIVE_KEY to check their seals"
        )
    if as_json:
        emit_json(_report_data(report))
    elif report.ok:
        contents = f", {report.contents} file content(s)" if report.contents else ""
        click.echo(
            f"ok: {report.chains} chain(s), {report.rows} row(s), {report.events} tool event(s)"
            f"{contents} verified"
        )
        if chain_id is None:
            click.echo(f"digest: {report.digest}")
    else:
        for problems in (report.problems, report.index_problems, report.content_problems):
            for problem in problems:
                say(problem.describe())
    if report.ok and chain_id is None and not recorded:
        note("note: the database is read-only, so --expect will need the saved --json output (@FILE)")
    if not report.ok:
        raise report.error()


def _report_data(report: VerifyReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "integrity": report.integrity,
        "chains": report.chains,
        "rows": report.rows,
        "ledgers": report.ledgers,
        "events": report.events,
        "unverified": report.unverified,
        "problems": [to_data(problem) for problem in report.problems],
        "index_problems": [to_data(problem) for problem in report.index_problems],
        "contents": report.contents,
        "content_problems": [to_data(problem) for problem in report.content_problems],
        "tips": [
            {"chain_id": chain, "length": length, "end_hash": end}
            for chain, (length, end) in sorted(report.tips.items())
        ],
        "digest": report.digest,
    }


@audit.command("reindex")
@pass_cli
def reindex_command(cli: CliContext) -> None:
    """Rebuild heads and head_metadata from the archive (refused if a chain does not verify)."""
    from assistdb.audit.reindex import reindex

    result = reindex(cli.store)
    click.echo(f"ok: {result.repaired} index row(s) repaired; {result.heads} object(s) indexed")


@audit.command("diff")
@click.argument("thread_id", shell_complete=archived_ids("thread"))
@json_option
@pass_cli
def diff(cli: CliContext, thread_id: str, as_json: bool) -> None:
    """What changed remotely since the last sync, and what vanished (writes nothing)."""
    from assistdb.audit.diff import diff_thread

    result = diff_thread(cli.db, check_id("thread", thread_id))
    if as_json:
        emit_json(result)
        return
    say(result.to_text())


@audit.command("usage")
@click.option(
    "--by",
    "group_by",
    type=click.Choice(GROUPINGS),
    default="assistant",
    show_default=True,
    help="How to group the runs.",
)
@click.option("--since", type=DateParam(), help="Only runs created at or after DATE.")
@click.option("--until", type=DateParam(), help="Only runs created before DATE.")
@json_option
@pass_cli
def usage(
    cli: CliContext, group_by: GroupBy, since: datetime | None, until: datetime | None, as_json: bool
) -> None:
    """Tokens used by archived runs, per assistant, model, thread or day."""
    from assistdb.audit.usage import usage_report

    report = usage_report(cli.store, group_by=group_by, since=since, until=until)
    render_usage(report, as_json)


def render_usage(report: UsageReport, as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    rows = [
        [row.key, row.runs, row.prompt_tokens, row.completion_tokens, row.total_tokens] for row in report.rows
    ]
    total = report.total
    rows.append(["total", total.runs, total.prompt_tokens, total.completion_tokens, total.total_tokens])
    emit_table([report.group_by, "runs", "prompt", "completion", "total"], rows)


@audit.command("export")
@click.argument("file", default="-", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--thread", "thread_id", metavar="ID", help="Export only this thread.")
@pass_cli
def export(cli: CliContext, file: str, thread_id: str | None) -> None:
    """Write the archive as JSONL (to stdout by default): every row verbatim, hashes included."""
    chosen = check_id("thread", thread_id) if thread_id else None
    with progress("exporting rows") as advance:
        if file == "-":
            from assistdb.audit.export import export_archive

            result = export_archive(cli.store, sys.stdout, thread_id=chosen, on_row=advance)
        else:
            result = _export_to_file(cli, Path(file), chosen, advance)
    note(f"exported {result.rows} row(s)" + ("" if file == "-" else f" to {file}"))


def _export_to_file(
    cli: CliContext, path: Path, thread_id: str | None, advance: Callable[[int], None]
) -> RowCounts:
    """Write next to the target and rename at the end, so a failed export leaves no partial file."""
    from assistdb.audit.export import export_archive

    directory = path.parent if str(path.parent) else Path()
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot write {path}: {exc.strerror}", hint="pick a writable location"
        ) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            result = export_archive(cli.store, out, thread_id=thread_id, on_row=advance)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return result


@audit.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@pass_cli
def import_command(cli: CliContext, file: str) -> None:
    """Load a JSONL export into an empty archive, chains and all (`-` reads stdin)."""
    from assistdb.audit.importing import import_archive

    with progress("importing rows") as advance:
        if file == "-":
            result = import_archive(cli.store, sys.stdin, on_row=advance)
        else:
            try:
                with open(file, encoding="utf-8") as inp:
                    result = import_archive(cli.store, inp, on_row=advance)
            except FileNotFoundError:
                raise InvalidInputError(f"{file} does not exist", hint="pass the path of an export") from None
    note(f"imported {result.rows} row(s)")
