"""The ``assistdb`` command line: thin click groups over the library, one module per group."""

from assistdb.cli.main import cli, main

__all__ = ["cli", "main"]
