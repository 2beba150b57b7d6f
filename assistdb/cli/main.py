"""The root command: global options, the error policy, and the command groups (one module each)."""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

import click

from assistdb._version import __version__
from assistdb.cli.bounds import SECONDS
from assistdb.cli.context import CliContext, enable_debug_logging
from assistdb.cli.errors import INTERRUPTED_EXIT, exit_codes_epilog, report_error
from assistdb.client import DEFAULT_MAX_RETRIES, ClientSettings
from assistdb.errors import InvalidInputError

# Each group's module is imported only when that group runs (or when help lists them all), so that
# e.g. `assistdb serve` does not pay for importing the SDK, SQLAlchemy and the run engine.
COMMANDS = {
    "assistants": "assistdb.cli.assistants:assistants",
    "threads": "assistdb.cli.threads:threads",
    "messages": "assistdb.cli.messages:messages",
    "runs": "assistdb.cli.runs:runs",
    "search": "assistdb.cli.search:search",
    "chat": "assistdb.cli.chat:chat",
    "audit": "assistdb.cli.audit:audit",
    "db": "assistdb.cli.db:db",
    "demo": "assistdb.cli.demo:demo",
    "serve": "assistdb.cli.serve:serve",
    "docs": "assistdb.cli.docs:docs",
    "files": "assistdb.cli.files:files",
    "vector-stores": "assistdb.cli.files:vector_stores",
    "restore": "assistdb.cli.restore:restore",
}


class RootGroup(click.Group):
    """A group whose every failure ends as one line on stderr and a documented exit code, and
    whose subcommands are loaded on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except (Exception, KeyboardInterrupt) as exc:
            state = ctx.obj if isinstance(ctx.obj, CliContext) else None
            # A command that does not take the CliContext (serve) is still named, by its group.
            named = (ctx.invoked_subcommand,) if ctx.invoked_subcommand else ()
            code = report_error(
                exc,
                verbose=state is not None and state.verbose,
                command=state.command if state is not None and state.command else named,
                params=state.params if state is not None else None,
            )
            raise click.exceptions.Exit(code) from exc

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            _refuse_undecodable(sys.argv[1:] if args is None else args)
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except (Exception, KeyboardInterrupt) as exc:  # errors in the root's own options
            code = report_error(exc, verbose=False)
        else:
            code = result if isinstance(result, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _refuse_undecodable(args: Sequence[str]) -> None:
    """Every argument must be UTF-8 text: Python keeps bytes that are not as lone surrogates,
    which no API request, database or terminal accepts, so refuse them before anything runs."""
    for number, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            raise InvalidInputError(
                f"argument {number} '{shown}' is not UTF-8 text",
                hint="pass text and file names in UTF-8, e.g. converted with iconv",
            ) from None


@click.group(
    cls=RootGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=exit_codes_epilog(),
)
@click.version_option(__version__, "-V", "--version", prog_name="assistdb")
@click.option(
    "--db",
    "database_url",
    envvar="ASSISTDB_DATABASE_URL",
    show_envvar=True,
    metavar="URL",
    help="Archive database: sqlite:///PATH or postgresql://USER@HOST/DB (default: see `assistdb db path`).",
)
@click.option("--base-url", envvar="OPENAI_BASE_URL", show_envvar=True, metavar="URL", help="API base URL.")
@click.option(
    "--azure-endpoint",
    envvar="AZURE_OPENAI_ENDPOINT",
    show_envvar=True,
    metavar="URL",
    help="Azure OpenAI endpoint (the key comes from AZURE_OPENAI_API_KEY).",
)
@click.option(
    "--api-version", envvar="OPENAI_API_VERSION", show_envvar=True, help="API version (Azure OpenAI)."
)
@click.option("--proxy", metavar="URL", help="HTTP(S) proxy for API calls (default: the *_PROXY variables).")
@click.option(
    "--timeout",
    type=SECONDS,
    metavar="SECONDS",
    help="Timeout of each API request.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 100),
    default=DEFAULT_MAX_RETRIES,
    show_default=True,
    metavar="N",
    help="Retries of a request that timed out or got a 429 or 5xx answer (an unreachable server: none).",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logs on stderr, and tracebacks on errors.")
@click.pass_context
def cli(
    ctx: click.Context,
    database_url: str | None,
    base_url: str | None,
    azure_endpoint: str | None,
    api_version: str | None,
    proxy: str | None,
    timeout: float | None,
    max_retries: int,
    verbose: bool,
) -> None:
    """Manage Assistants API objects and keep a tamper-evident local archive of them.

    The API key is read from OPENAI_API_KEY (or AZURE_OPENAI_API_KEY), never from an option,
    and never printed. Commands that only read the archive need no key.
    """
    settings = ClientSettings(
        base_url=base_url,
        azure_endpoint=azure_endpoint,
        api_version=api_version,
        proxy=proxy,
        timeout=timeout,
        max_retries=max_retries,
    )
    state = CliContext(database_url=database_url, client_settings=settings, verbose=verbose)
    ctx.obj = state
    ctx.call_on_close(state.close)
    if verbose:
        enable_debug_logging(ctx)


def main() -> None:
    try:
        cli(prog_name="assistdb")
    except SystemExit as exit_:
        if exit_.code == INTERRUPTED_EXIT and threading.active_count() > 1:
            # Ctrl-C: the error is printed and whatever was committed is consistent (the archive
            # survives kill -9), so do not wait for worker threads to finish a page or a retry.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(INTERRUPTED_EXIT)
        raise
