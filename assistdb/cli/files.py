"""``assistdb files`` and ``assistdb vector-stores``: files and vector stores on the API.

They go through the library's repositories (``db.files``, ``db.vector_stores``), so every file
and store they see is archived, and each upload's content hash is recorded
(``--archive-content`` archives the content too). Uploads and downloads stream (progress on
stderr when it is a terminal); a download never overwrites a file: it is written beside the
target and renamed into place only when complete. Names and text that come from the API are
shown with control characters replaced.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import IO, Any

import click

from assistdb.cli.archived import history_command
from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.options import confirm_or_refuse, json_option, yes_option
from assistdb.cli.output import emit_fields, emit_json, emit_table, human_time, note, printable, progress
from assistdb.errors import InvalidInputError

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


def plain(value: Any) -> str:
    """Text from the API made safe for a terminal, on one line (see ``printable``)."""
    return printable("-" if value is None else str(value), multiline=False)


class _Counting:
    """A file whose reads advance a progress bar (the SDK streams it in pieces)."""

    def __init__(self, source: IO[bytes], advance: Any) -> None:
        self.source = source
        self.advance = advance

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.advance(len(data))
        return data


def _show_file(file: Any) -> None:
    emit_fields(
        [
            ("id", plain(file.id)),
            ("filename", plain(file.filename)),
            ("purpose", plain(file.purpose)),
            ("bytes", file.bytes),
            ("created", human_time(file.created_at)),
            ("expires", human_time(file.expires_at) if file.expires_at else "-"),
        ]
    )


def upload_file(
    cli: CliContext, path: Path, *, purpose: Any = "assistants", archive_content: bool = False
) -> Any:
    """Upload one local file through ``db.files`` with a progress bar; an empty file is refused
    before anything is sent."""
    size = path.stat().st_size
    if size == 0:
        raise InvalidInputError(f"{path} is empty", hint="the API refuses empty files")
    with path.open("rb") as source, progress(f"uploading {path.name}", total=size) as advance:
        counted: Any = _Counting(source, advance)
        return cli.db.files.create((path.name, counted), purpose=purpose, archive_content=archive_content)


@click.group()
def files() -> None:
    """Upload, list, show, download and delete files."""


@files.command("upload")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--purpose", type=click.Choice(PURPOSES), default="assistants", show_default=True)
@click.option(
    "--archive-content", is_flag=True, help="Archive the content too (stored once per distinct content)."
)
@json_option
@pass_cli
def upload(
    cli: CliContext, paths: tuple[Path, ...], purpose: Any, archive_content: bool, as_json: bool
) -> None:
    """Upload files (each at most 512 MB), streamed from disk; their content hashes are archived."""
    uploaded = [upload_file(cli, path, purpose=purpose, archive_content=archive_content) for path in paths]
    if as_json:
        emit_json(uploaded)
        return
    emit_table(["id", "filename", "bytes"], [[f.id, plain(f.filename), f.bytes] for f in uploaded])


@files.command("list")
@click.option("--purpose", help="Only files with this purpose.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@json_option
@pass_cli
def list_files(cli: CliContext, purpose: str | None, limit: int, as_json: bool) -> None:
    """List files, newest first."""
    found = list(itertools.islice(cli.db.files.list(purpose=purpose, order="desc", limit=limit), limit))
    if as_json:
        emit_json(found)
        return
    emit_table(
        ["id", "filename", "purpose", "bytes", "created"],
        [[f.id, plain(f.filename), plain(f.purpose), f.bytes, human_time(f.created_at)] for f in found],
        empty="no files",
    )


@files.command("show")
@click.argument("file_id")
@json_option
@pass_cli
def show(cli: CliContext, file_id: str, as_json: bool) -> None:
    """Show one file."""
    found = cli.db.files.retrieve(file_id)
    if as_json:
        emit_json(found)
    else:
        _show_file(found)


@files.command("download")
@click.argument("file_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write (default: the file's name, here).",
)
@pass_cli
def download(cli: CliContext, file_id: str, output: Path | None) -> None:
    """Download a file's content; refuses to overwrite an existing file."""
    meta = cli.db.files.retrieve(file_id)
    target = output or Path(Path(plain(meta.filename)).name or file_id)
    if target.exists():
        raise InvalidInputError(f"{target} exists; nothing was written", hint="choose another --output")
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with (
            partial.open("xb") as sink,
            progress(f"downloading {target.name}", total=meta.bytes) as advance,
        ):

            def write(piece: bytes) -> None:
                sink.write(piece)
                advance(len(piece))

            cli.db.files.download(file_id, write)
        if target.exists():
            raise InvalidInputError(f"{target} appeared meanwhile; nothing was written", hint="retry")
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    note(f"wrote {target} ({meta.bytes} bytes)")


@files.command("delete")
@click.argument("file_id")
@yes_option
@json_option
@pass_cli
def delete(cli: CliContext, file_id: str, yes: bool, as_json: bool) -> None:
    """Delete a file (it also leaves every vector store)."""
    confirm_or_refuse(f"Delete file {file_id}?", yes)
    deleted = cli.db.files.delete(file_id)
    if as_json:
        emit_json(deleted)
    else:
        note(f"deleted {deleted.id}")


# vector stores -------------------------------------------------------------------------------


def _show_store(store: Any) -> None:
    counts = store.file_counts
    emit_fields(
        [
            ("id", plain(store.id)),
            ("name", plain(store.name)),
            ("status", store.status),
            ("files", f"{counts.completed} completed, {counts.failed} failed, {counts.total} total"),
            ("bytes", store.usage_bytes),
            ("created", human_time(store.created_at)),
            ("expires", human_time(store.expires_at) if store.expires_at else "-"),
        ]
    )


@click.group("vector-stores")
def vector_stores() -> None:
    """Create vector stores, add files to them and search them."""


@vector_stores.command("create")
@click.option("--name", default="", help="A name for the store.")
@click.option("--file", "file_ids", multiple=True, help="A file ID to add (repeatable).")
@click.option(
    "--expires-after-days", type=click.IntRange(1, 365), help="Expire this many days after last use."
)
@json_option
@pass_cli
def create_store(
    cli: CliContext, name: str, file_ids: tuple[str, ...], expires_after_days: int | None, as_json: bool
) -> None:
    """Create a vector store, optionally with files already uploaded."""
    kwargs: dict[str, Any] = {"name": name, "file_ids": list(file_ids)}
    if expires_after_days is not None:
        kwargs["expires_after"] = {"anchor": "last_active_at", "days": expires_after_days}
    store = cli.db.vector_stores.create(**kwargs)
    if as_json:
        emit_json(store)
    else:
        _show_store(store)


@vector_stores.command("list")
@click.option("--limit", type=click.IntRange(1, 100), default=100, show_default=True)
@json_option
@pass_cli
def list_stores(cli: CliContext, limit: int, as_json: bool) -> None:
    """List vector stores, newest first."""
    found = list(itertools.islice(cli.db.vector_stores.list(order="desc", limit=limit), limit))
    if as_json:
        emit_json(found)
        return
    emit_table(
        ["id", "name", "status", "files", "bytes"],
        [[s.id, plain(s.name), s.status, s.file_counts.total, s.usage_bytes] for s in found],
        empty="no vector stores",
    )


@vector_stores.command("show")
@click.argument("store_id")
@json_option
@pass_cli
def show_store(cli: CliContext, store_id: str, as_json: bool) -> None:
    """Show a vector store and its files."""
    store = cli.db.vector_stores.retrieve(store_id)
    store_files = list(itertools.islice(cli.db.vector_stores.files(store_id), 100))
    if as_json:
        emit_json({"vector_store": store.to_dict(), "files": [item.to_dict() for item in store_files]})
        return
    _show_store(store)
    emit_table(
        ["file", "status", "bytes", "error"],
        [
            [f.id, f.status, f.usage_bytes, plain(f.last_error.message) if f.last_error else "-"]
            for f in store_files
        ],
        empty="no files",
    )


@vector_stores.command("add-files")
@click.argument("store_id")
@click.argument("files_or_ids", nargs=-1, required=True)
@json_option
@pass_cli
def add_files(cli: CliContext, store_id: str, files_or_ids: tuple[str, ...], as_json: bool) -> None:
    """Add files to a store: file IDs, or local paths (uploaded first), as one batch."""
    file_ids = [upload_file(cli, Path(item)).id if Path(item).is_file() else item for item in files_or_ids]
    batch = cli.db.vector_stores.add_files(store_id, file_ids)
    if as_json:
        emit_json(batch)
        return
    counts = batch.file_counts
    note(f"batch {batch.id} {batch.status}: {counts.completed} completed, {counts.failed} failed")


@vector_stores.command("search")
@click.argument("store_id")
@click.argument("query")
@click.option("--max-results", type=click.IntRange(1, 50), default=10, show_default=True)
@json_option
@pass_cli
def search(cli: CliContext, store_id: str, query: str, max_results: int, as_json: bool) -> None:
    """Search a vector store; best chunks first."""
    results = cli.db.vector_stores.search(store_id, query=query, max_num_results=max_results)
    if as_json:
        emit_json(results)
        return
    emit_table(
        ["score", "file", "text"],
        [
            [round(item.score, 3), plain(item.filename), plain(" ".join(item.content[0].text.split()))[:120]]
            for item in results
        ],
        empty="nothing found",
    )


@vector_stores.command("delete")
@click.argument("store_id")
@yes_option
@json_option
@pass_cli
def delete_store(cli: CliContext, store_id: str, yes: bool, as_json: bool) -> None:
    """Delete a vector store (its files stay)."""
    confirm_or_refuse(f"Delete vector store {store_id}?", yes)
    deleted = cli.db.vector_stores.delete(store_id)
    if as_json:
        emit_json(deleted)
    else:
        note(f"deleted {deleted.id}")


files.add_command(history_command("file", hint="run `assistdb files list` first"))
vector_stores.add_command(history_command("vector_store", hint="run `assistdb vector-stores list` first"))
