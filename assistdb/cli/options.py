"""Options and argument types that several command groups take, defined once."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from assistdb.cli.bounds import SECONDS
from assistdb.cli.completion import archived_ids
from assistdb.errors import Interrupted, InvalidInputError
from assistdb.text_files import MAX_TEXT_FILE_BYTES, read_text

F = TypeVar("F", bound=Callable[..., Any])


def read_stdin_text(what: str) -> str:
    """Standard input as UTF-8 text, at most ``MAX_TEXT_FILE_BYTES`` (``cat /dev/zero |`` ends)."""
    return _utf8(sys.stdin.buffer.read(MAX_TEXT_FILE_BYTES + 1), what)


def read_stdin_line(what: str) -> str:
    """One line of standard input as UTF-8 text (``""`` at its end)."""
    return _utf8(sys.stdin.buffer.readline(MAX_TEXT_FILE_BYTES + 1), what)


def _utf8(data: bytes, what: str) -> str:
    if len(data) > MAX_TEXT_FILE_BYTES:
        raise InvalidInputError(
            f"{what} on standard input is larger than {MAX_TEXT_FILE_BYTES // 1024 // 1024} MiB",
            hint="send less text",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{what} on standard input is not UTF-8 text (byte {exc.start + 1})",
            hint="convert it to UTF-8, e.g. with iconv",
        ) from None


def json_option(command: F) -> F:
    """``--json``: the API objects as one JSON document on stdout, for scripts and jq."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (the API's object shapes) instead of a table."
    )(command)


class MetadataPair(click.ParamType[tuple[str, str], Any]):
    name = "KEY=VALUE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        key, sep, item = str(value).partition("=")
        if not sep or not key:
            self.fail(f"{value!r} is not KEY=VALUE", param, ctx)
        return key, item


def _metadata_dict(
    ctx: click.Context, param: click.Parameter, pairs: tuple[tuple[str, str], ...]
) -> dict[str, str] | None:
    found: dict[str, str] = {}
    for key, value in pairs:
        if key in found and found[key] != value:
            raise click.BadParameter(
                f"{key!r} is given twice ({found[key]!r} and {value!r}); give each key once", ctx, param
            )
        found[key] = value
    return found or None


def metadata_option(help_text: str = "Metadata pair; repeat for more.") -> Callable[[F], F]:
    """``--metadata KEY=VALUE`` (repeatable), passed to the command as a dict or None."""
    return click.option(
        "--metadata", type=MetadataPair(), multiple=True, callback=_metadata_dict, help=help_text
    )


class DateParam(click.ParamType[datetime, Any]):
    """An ISO date or date-time (``2026-08-26`` or ``2026-08-26T14:00``); naive means UTC."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date like 2026-08-26 or 2026-08-26T14:00", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class TextOrFile(click.ParamType[str, Any]):
    """Text given inline, or ``@PATH`` to read it from a file (long instructions)."""

    name = "TEXT|@FILE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not text.startswith("@"):
            return text
        return read_text(Path(text[1:]), hint=f"check the path after @ in {text!r}")


def tools_option(command: F) -> F:
    """``--tools MODULE[:ATTR]``: the Python functions that answer the run's tool calls."""
    return click.option(
        "--tools",
        "tools_spec",
        metavar="MODULE[:ATTR]",
        help="Python tools: a ToolRegistry or @tool function (ATTR), or every @tool in MODULE.",
    )(command)


def wait_timeout_option(command: F) -> F:
    """``--timeout SECONDS`` of waiting for a run (the global ``--timeout`` is per request)."""
    return click.option(
        "--timeout",
        "wait_timeout",
        type=SECONDS,
        metavar="SECONDS",
        help="Give up waiting after this long (the run is cancelled).",
    )(command)


def thread_option(command: F) -> F:
    """``--thread ID``, for objects whose thread the archive may not know yet."""
    return click.option(
        "--thread",
        "thread_id",
        metavar="ID",
        shell_complete=archived_ids("thread"),
        help="The thread it belongs to (default: as archived).",
    )(command)


def remote_option(command: F) -> F:
    return click.option(
        "--remote",
        is_flag=True,
        help="Fetch from the API (and archive what changed) instead of reading the archive.",
    )(command)


def yes_option(command: F) -> F:
    return click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")(command)


def confirm_or_refuse(question: str, yes: bool) -> None:
    """Ask on a terminal; without one, insist on --yes rather than guess."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InvalidInputError("refusing to delete without confirmation", hint="pass --yes")
    if not click.confirm(question, err=True):
        raise Interrupted("cancelled; nothing was deleted", hint="pass --yes to skip the question")
