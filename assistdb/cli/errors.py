"""Turning any failure into one line on stderr and the exit code documented in ``assistdb --help``."""

from __future__ import annotations

import errno
import traceback

import click

from assistdb.errors import EXIT_CODES, AssistDBError, Interrupted, InvalidInputError
from assistdb.secrets import redact

INTERRUPTED = Interrupted(
    "interrupted", hint="whatever was committed is consistent; run the command again to finish"
)


def exit_codes_epilog() -> str:
    """The exit code table, for ``assistdb --help``."""
    lines = ["\b", "Exit codes:"]  # \b: click keeps these lines as they are
    lines.extend(f"  {code:<4} {meaning}" for code, meaning in sorted(EXIT_CODES.items()))
    return "\n".join(lines)


def report_error(exc: BaseException, *, verbose: bool) -> int:
    """Print ``error: <message> (<hint>)`` on stderr, with the traceback only when verbose, and
    return the exit code for ``exc``."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        exc.show()  # a bare group prints its help, the way click always has
        return exc.exit_code
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        return 0  # the reader went away (`assistdb threads list | head`): nothing left to say
    if verbose:
        click.echo(redact("".join(traceback.format_exception(exc))), err=True, nl=False)
    error = as_assistdb_error(exc)
    if error is None:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        _print(f"internal error: {detail} (run with -v for the traceback)")
        return 1
    _print(f"error: {error}")
    return error.exit_code


def as_assistdb_error(exc: BaseException) -> AssistDBError | None:
    """The assistdb error a failure stands for; None for a bug."""
    if isinstance(exc, AssistDBError):
        return exc
    if isinstance(exc, KeyboardInterrupt | click.Abort):
        return INTERRUPTED
    if isinstance(exc, click.UsageError):
        where = exc.ctx.command_path if exc.ctx is not None else "assistdb"
        return InvalidInputError(exc.format_message().rstrip("."), hint=f"see '{where} --help'")
    if isinstance(exc, click.ClickException):
        return InvalidInputError(exc.format_message().rstrip("."), hint="check the command's arguments")
    return None


def _print(line: str) -> None:
    click.echo(redact(" ".join(line.split("\n"))), err=True)
