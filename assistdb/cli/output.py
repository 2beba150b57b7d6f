"""Rendering: JSON documents and tables on stdout, messages and progress on stderr.

Stdout carries only data, so ``assistdb ... --json | jq`` always works; anything meant for the
person at the terminal (notes, progress bars) goes to stderr, and progress stays silent when
stderr is not a terminal.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from openai import BaseModel as SdkModel
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text


def to_data(value: Any) -> Any:
    """Plain JSON data: SDK objects in their API shape, library results (dataclasses) as their
    fields, everything else as it is."""
    if isinstance(value, SdkModel):
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
    click.echo(json.dumps(to_data(value), indent=2, ensure_ascii=False))


def note(text: str) -> None:
    """A message for the person at the terminal, never mixed into the data on stdout."""
    click.echo(text, err=True)


def _render(renderable: Any) -> None:
    """Print on stdout: folded to the terminal's width, or unwrapped when piped (for grep and awk);
    without the trailing spaces rich pads lines with."""
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 10_000
    buffer = io.StringIO()
    Console(file=buffer, width=width, highlight=False, color_system=None).print(renderable)
    for line in buffer.getvalue().splitlines():
        click.echo(line.rstrip())


def emit_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "nothing found"
) -> None:
    """A readable table on stdout (numbers right-aligned), or a note on stderr when there is
    nothing to show."""
    raw = [list(row) for row in rows]
    if not raw:
        note(empty)
        return
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for index, name in enumerate(columns):
        numeric = all(isinstance(row[index], int | float) and not isinstance(row[index], bool) for row in raw)
        table.add_column(
            name.upper(),
            overflow="fold",
            no_wrap=name.lower() == "id",
            justify="right" if numeric else "left",
        )
    for row in raw:
        table.add_row(*(Text(_cell(value)) for value in row))
    _render(table)


def emit_fields(fields: Iterable[tuple[str, Any]]) -> None:
    """``name: value`` lines, for showing one object."""
    pairs = [(name, _cell(value)) for name, value in fields]
    width = max((len(name) for name, _ in pairs), default=0)
    for name, value in pairs:
        click.echo(f"{name + ':':<{width + 1}} {value}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={item}" for key, item in value.items()) or "-"
    return str(value)


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


def message_text(message: Mapping[str, Any]) -> str:
    """The text parts of a message's content, joined; other parts as a placeholder."""
    parts = []
    for part in message.get("content") or ():
        if part.get("type") == "text":
            parts.append(str(part["text"]["value"]))
        else:
            parts.append(f"[{part.get('type')}]")
    return "\n".join(parts)


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields ``advance(n)``. Silent when stderr is not a terminal."""
    console = Console(file=sys.stderr)
    if not console.is_terminal:
        yield _no_progress
        return
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
