"""``assistdb docs``: the guides that ship with assistdb, readable wherever it is installed."""

from __future__ import annotations

from pathlib import Path

import click

from assistdb.cli.output import say
from assistdb.errors import NotFoundError

_PACKAGE = Path(__file__).resolve().parents[1]


def docs_dir() -> Path:
    """The guides: inside the installed wheel, or the source tree's ``docs`` folder."""
    shipped = _PACKAGE / "_docs"
    return shipped if shipped.is_dir() else _PACKAGE.parent / "docs"


def _names() -> list[str]:
    return sorted(path.stem for path in docs_dir().glob("*.md"))


@click.command()
@click.argument(
    "name",
    required=False,
    shell_complete=lambda ctx, param, incomplete: [name for name in _names() if name.startswith(incomplete)],
)
def docs(name: str | None) -> None:
    """Print a guide (Markdown): `assistdb docs server` for the local server, `cli` for the
    command line; without NAME, list them."""
    if name is None:
        for found in _names():
            say(found)
        return
    path = docs_dir() / f"{name}.md"
    if not path.is_file():
        raise NotFoundError(
            f"there is no guide named {name!r}",
            hint=f"pick one of: {', '.join(_names()) or 'none installed'}",
        )
    say(path.read_text(encoding="utf-8"))
