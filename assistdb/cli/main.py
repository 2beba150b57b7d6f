"""The root command group; each resource group lives in its own module."""

from __future__ import annotations

import click

from assistdb._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assistdb")
def cli() -> None:
    """Manage Assistants API objects and keep a tamper-evident local archive of them."""


def _register() -> None:
    from assistdb.cli import serve

    cli.add_command(serve.serve)


_register()


def main() -> None:
    cli()
