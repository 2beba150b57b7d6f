"""Rendering: JSON documents and tables on stdout, messages and progress on stderr.

Stdout carries only data, so ``assistdb ... --json | jq`` always works; anything meant for the
person at the terminal (notes, progress bars) goes to stderr, and progress stays silent when
stderr is not a terminal.

Model output, remote metadata and error messages are untrusted: every human-readable line goes
through :func:`printable` (via :func:`say`, :func:`note`, tables and fields), so that an escape
sequence in a message cannot clear the screen, write the clipboard (OSC 52) or reorder what the
reader sees. ``--json`` is exact JSON, escaped by the JSON encoder.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from assistdb.texts import message_text as message_text  # the CLI shows text as apps do


def to_data(value: Any) -> Any:
    """Plain JSON data: SDK objects in their API shape, library results (dataclasses) as their
    fields, everything else as it is."""
    sdk = sys.modules.get("openai")  # no SDK object can exist unless the SDK was imported
    if sdk is not None and isinstance(value, sdk.BaseModel):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_data(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): to_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_data(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def emit_json(value: Any) -> None:
    """One JSON document on stdout."""
    emit_json_text(json.dumps(to_data(value), indent=2, ensure_ascii=False))


def emit_json_text(text: str) -> None:
    """A JSON document on stdout, with the characters a terminal would act on (C1 controls, DEL,
    bidirectional controls, lone surrogates) written as ``\\uXXXX`` escapes: the same JSON value,
    harmless on a screen. (The encoder already escapes C0 controls, ESC among them.)"""
    escaped = text.translate(_JSON_ESCAPES)
    click.echo(_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", escaped))


def _escape_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]:
        table[code] = f"\\x{code:02x}"
    # Bidirectional overrides, embeddings and isolates reorder the text around them (the
    # "Trojan Source" trick); the marks are harmless but invisible, so shown too.
    for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]:
        table[code] = f"\\u{code:04x}"
    return table


_ESCAPES = _escape_table()
_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in _ESCAPES if code >= 0x7F}
_ESCAPES_KEEPING_LINES = {code: text for code, text in _ESCAPES.items() if code not in (0x09, 0x0A)}
_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str, *, multiline: bool = True) -> str:
    """``text`` safe to print on a terminal: control characters (ESC and so every CSI/OSC
    sequence, other C0 and C1 codes, DEL) and bidirectional controls appear as visible escapes
    such as ``\\x1b`` and ``\\u202e``. Newlines and tabs stay when ``multiline``."""
    escaped = text.translate(_ESCAPES_KEEPING_LINES if multiline else _ESCAPES)
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", escaped)


def say(text: str = "", *, err: bool = False) -> None:
    """Print a human-readable line (untrusted parts included) with its control characters made
    visible."""
    click.echo(printable(text), err=err)


def note(text: str) -> None:
    """A message for the person at the terminal, never mixed into the data on stdout."""
    say(text, err=True)


def color_enabled() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _terminal_width() -> int | None:
    """The terminal's width, or None when stdout is piped (then lines are never cut)."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def _render(renderable: Any, width: int | None) -> None:
    """Print on stdout at ``width`` (None: unlimited), without the trailing spaces rich pads
    lines with."""
    buffer = io.StringIO()
    colored = color_enabled()
    console = Console(
        file=buffer,
        width=width or 10_000,
        highlight=False,
        force_terminal=colored,
        no_color=not colored,
        color_system="standard" if colored else None,
    )
    console.print(renderable)
    for line in buffer.getvalue().splitlines():
        click.echo(line.rstrip())


def fit_widths(natural: Sequence[int], fixed: Sequence[bool], available: int) -> list[int | None]:
    """The widest each column may be so that a row fits ``available`` characters: fixed columns
    (IDs, numbers) and short ones (a status, a time) keep their width, the others share what is
    left, the narrow ones first. None means the column keeps its natural width."""
    limits: list[int | None] = [None] * len(natural)
    if sum(natural) <= available:
        return limits
    fixed = [keep or width <= SHORT_COLUMN for width, keep in zip(natural, fixed, strict=True)]
    left = available - sum(width for width, keep in zip(natural, fixed, strict=True) if keep)
    flexible = sorted(
        (width, index) for index, (width, keep) in enumerate(zip(natural, fixed, strict=True)) if not keep
    )
    for position, (width, index) in enumerate(flexible):
        share = max(left // (len(flexible) - position), 4)
        if width > share:
            limits[index] = share
            width = share
        left -= width
    return limits


SHORT_COLUMN = 16  # "requires_action", "59 minutes ago": never worth cutting
_ID = re.compile(r"^[a-z]+_[A-Za-z0-9]+$")
STATUS_STYLES = {
    "completed": "green",
    "failed": "red",
    "expired": "red",
    "cancelled": "red",
    "incomplete": "red",
    "queued": "yellow",
    "in_progress": "yellow",
    "requires_action": "yellow",
    "cancelling": "yellow",
}


def emit_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "nothing found"
) -> None:
    """A readable table on stdout, or a note on stderr when there is nothing to show.

    Numbers are right-aligned; a column of IDs is never wrapped or cut (an ID must stay
    copyable), other text is cut with an ellipsis to fit the terminal; status is coloured.
    """
    raw = [list(row) for row in rows]
    if not raw:
        note(empty)
        return
    cells = [[_cell(value) for value in row] for row in raw]
    numeric = [
        all(isinstance(row[i], int | float) and not isinstance(row[i], bool) for row in raw)
        for i in range(len(columns))
    ]
    fixed = [
        numeric[i] or all(row[i] is None or _ID.match(str(row[i])) for row in raw)
        for i in range(len(columns))
    ]
    natural = [max(len(name), *(len(row[i]) for row in cells)) for i, name in enumerate(columns)]
    width = _terminal_width()
    gaps = 2 * (len(columns) - 1)
    limits = fit_widths(natural, fixed, width - gaps) if width is not None else [None] * len(columns)
    if width is not None:
        # IDs are never cut: a terminal too narrow for them gets longer lines rather than broken IDs.
        width = max(width, gaps + sum(limit or natural[i] for i, limit in enumerate(limits)))
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for i, name in enumerate(columns):
        table.add_column(
            name.upper(),
            no_wrap=True,
            overflow="ellipsis",
            max_width=limits[i],
            justify="right" if numeric[i] else "left",
        )
    status_column = [name.lower() for name in columns].index("status") if "status" in columns else -1
    for row in cells:
        table.add_row(
            *(
                Text(value, style=STATUS_STYLES.get(value, "") if i == status_column else "")
                for i, value in enumerate(row)
            )
        )
    _render(table, width)


def emit_fields(fields: Iterable[tuple[str, Any]]) -> None:
    """``name: value`` lines, for showing one object."""
    pairs = [(name, _cell(value, multiline=True)) for name, value in fields]
    width = max((len(name) for name, _ in pairs), default=0)
    for name, value in pairs:
        # A value of several lines (instructions, say) continues under its first line.
        value = value.replace("\n", "\n" + " " * (width + 2))
        click.echo(f"{name + ':':<{width + 1}} {value}")


def _cell(value: Any, *, multiline: bool = False) -> str:
    """A value as text, its control characters (newlines too, unless ``multiline``) made visible."""
    if value is None:
        return "-"
    if isinstance(value, Mapping):
        text = ", ".join(f"{key}={item}" for key, item in value.items()) or "-"
    else:
        text = str(value)
    return printable(text, multiline=multiline)


def human_time(unix_seconds: int | float | None, *, now: float | None = None) -> str:
    """ "3 minutes ago" within a week, an ISO date and time (UTC) beyond."""
    if unix_seconds is None:
        return "-"
    elapsed = (time.time() if now is None else now) - unix_seconds
    if 0 <= elapsed < 7 * 86400:
        for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
            if elapsed >= seconds:
                count = int(elapsed // seconds)
                return f"{count} {unit}{'s' if count != 1 else ''} ago"
        return "just now"
    return datetime.fromtimestamp(unix_seconds, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields ``advance(n)``. Silent when stderr is not a terminal."""
    console = Console(file=sys.stderr)
    if not console.is_terminal:
        yield _no_progress
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns += [TextColumn("{task.completed}")]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance


def _no_progress(n: int = 1) -> None:
    pass
