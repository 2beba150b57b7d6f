"""Turning any failure into one line on stderr and the exit code documented in ``assistdb --help``."""

from __future__ import annotations

import errno
import re
import traceback
from typing import Any

import click

from assistdb.cli.output import printable
from assistdb.errors import (
    ApiConnectionError,
    ApiError,
    ApiUnreachableError,
    AssistDBError,
    ConflictError,
    DatabaseError,
    Interrupted,
    InvalidInputError,
    MigrationError,
    NotFoundError,
    RunError,
    RunTimeoutError,
    VerificationError,
)
from assistdb.secrets import redact

#: The exit code of each kind of error, most specific first (an ``ApiNotFoundError`` is exit 3).
EXIT_CODE_OF: tuple[tuple[type[BaseException], int], ...] = (
    (InvalidInputError, 2),
    (NotFoundError, 3),
    (ApiError, 4),
    (RunError, 5),
    (VerificationError, 6),
    (DatabaseError, 7),
    (ConflictError, 8),
    (MigrationError, 9),
    (Interrupted, 130),
)
INTERRUPTED_EXIT = 130
RUN_ERROR_EXIT = 5
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected internal error (run with -v and report it)",
    2: "usage error or invalid input",
    3: "not found",
    4: "API error: rejected request, bad key, unreachable server",
    5: "run ended badly: failed, cancelled, expired, incomplete, or timed out",
    6: "archive verification failed",
    7: "database error: bad URL, newer schema, read-only, full, damaged, or not ours",
    8: "conflict: an object exists in the target with other content",
    9: "some threads were not migrated: refused as lossy, not archived, or failed",
    130: "interrupted (Ctrl-C)",
}


def exit_code(error: AssistDBError | Interrupted) -> int:
    """The documented exit code for ``error`` (1 for an error of no listed kind)."""
    return next((code for kind, code in EXIT_CODE_OF if isinstance(error, kind)), 1)


INTERRUPTED = Interrupted(
    "interrupted", hint="whatever was committed is consistent; run the command again to finish"
)


def exit_codes_epilog() -> str:
    """The exit code table, for ``assistdb --help``."""
    lines = ["\b", "Exit codes:"]  # \b: click keeps these lines as they are
    lines.extend(f"  {code:<4} {meaning}" for code, meaning in sorted(EXIT_CODES.items()))
    return "\n".join(lines)


def report_error(
    exc: BaseException,
    *,
    verbose: bool,
    command: tuple[str, ...] = (),
    params: dict[str, Any] | None = None,
) -> int:
    """Print ``error: <message> (<hint>)`` on stderr, with the traceback only when verbose, and
    return the exit code for ``exc``. ``command`` and its ``params`` choose the hint: the library
    says what went wrong, the CLI says which command or flag fixes it here."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        click.echo(exc.ctx.get_help() if exc.ctx is not None else "")  # asked for nothing: say what there is
        return 0
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        return 0  # the reader went away (`assistdb threads list | head`): nothing left to say
    if verbose:
        click.echo(printable(redact("".join(traceback.format_exception(exc)))), err=True, nl=False)
    error = as_assistdb_error(exc)
    if error is None:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        _print(f"internal error: {detail} (run with -v for the traceback)")
        return 1
    hint = cli_hint(error, command, params or {}) or error.hint
    _print(f"error: {error.message} ({hint})" if hint else f"error: {error.message}")
    return exit_code(error)


_ID_KINDS = (
    ("asst_", "assistant"),
    ("thread_", "thread"),
    ("msg_", "message"),
    ("run_", "run"),
    ("step_", "step"),
)
_ID_IN_TEXT = re.compile(r"\b(asst|thread|msg|run|step)_[A-Za-z0-9]+")
#: Where to find the IDs of each kind of object.
_LISTERS = {
    "assistant": "`assistdb assistants list` shows the assistants there are",
    "thread": "`assistdb threads list` shows the archived threads",
    "message": "`assistdb messages list THREAD_ID --remote` lists a thread's messages",
    "run": "`assistdb runs list` shows the archived runs",
    "step": "`assistdb runs steps RUN_ID --remote` lists a run's steps",
}


def _missing_kind(message: str, params: dict[str, Any]) -> str | None:
    """Which kind of object the API did not find: the first ID its message names, else the ID
    the command was given."""
    candidates = [match.group(0) for match in _ID_IN_TEXT.finditer(message)]
    candidates += [str(value) for value in params.values() if isinstance(value, str)]
    for candidate in candidates:
        for prefix, kind in _ID_KINDS:
            if candidate.startswith(prefix):
                return kind
    return None


#: The CLI's hint for each situation a library error names (``AssistDBError.situation``): the
#: library says what to do in its own terms, the CLI names the flag or command that does it.
SITUATION_HINTS: dict[str, str] = {
    "azure_api_version": "set OPENAI_API_VERSION or --api-version",
    "database_location": "pass --db with a writable location",
    "database_damaged": "restore it from a backup or an export, or pass --db with another file",
    "database_read_only": "make the file and its folder writable, or pass --db",
    "database_unopenable": "check that the path exists and is writable, or pass --db",
    "database_foreign": "pass --db with a new file or database, or an assistdb archive",
    "import_target": "import into a new database (--db), which then holds exactly the export",
    "export_file": "pass the file `assistdb audit export` wrote",
    "expected_digest": "pass the 64 hex digits `assistdb audit verify` printed, or @FILE",
    "saved_report": "pass the output of `assistdb audit verify --json`, saved to a file, as @FILE",
    "saved_report_instead": (
        "pass the saved `verify --json` output as --expect @FILE to check without the record"
    ),
    "reindex": "run `assistdb audit reindex` to rebuild them from the archive",
    "ledger_tampered": (
        "nothing was submitted; run `assistdb audit verify`, restore the archive from an export"
    ),
    "unverified_archive": (
        "run `assistdb audit verify` to see where; pass --allow-unverified to restore it anyway"
    ),
    "unverified_export": "export the archive again; pass --allow-unverified to restore it anyway",
}


def cli_hint(
    error: AssistDBError | Interrupted, command: tuple[str, ...], params: dict[str, Any]
) -> str | None:
    """The hint for ``error`` in this command line, naming a flag or command; None keeps the
    library's own hint."""
    if error.situation in SITUATION_HINTS:
        hint = SITUATION_HINTS[error.situation]
        return hint.replace("--db", "--database-url") if command[:1] == ("serve",) else hint
    waiting = command[:1] == ("runs",) and command[1:2] in (("create",), ("wait",))
    if isinstance(error, ApiUnreachableError):
        return "check --base-url or OPENAI_BASE_URL; `assistdb serve` starts a local server"
    if isinstance(error, ApiConnectionError):
        return "retry; --timeout SECONDS gives each request longer, --max-retries N retries more"
    remote_miss = isinstance(error, NotFoundError) and error.status_code is not None
    if remote_miss and error.message.startswith("Invalid URL"):
        return "does --base-url or OPENAI_BASE_URL end in /v1?"
    if remote_miss:
        kind = _missing_kind(error.message, params)
        return f"check the ID; {_LISTERS[kind]}" if kind else "check the ID"
    if isinstance(error, RunTimeoutError) and waiting:
        if "cancelled" in error.message:
            return "start it again with a longer --timeout, or without one to wait until it ends"
        return "wait again with `assistdb runs wait RUN_ID`, or cancel it with `assistdb runs cancel RUN_ID`"
    if isinstance(error, ApiError) and error.status_code == 429:
        return "wait and retry; --max-retries N retries more"
    return None


def as_assistdb_error(exc: BaseException) -> AssistDBError | Interrupted | None:
    """The assistdb error a failure stands for; None for a bug."""
    if isinstance(exc, AssistDBError | Interrupted):
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
    """One line, secrets masked and control characters (from remote messages) made visible."""
    click.echo(printable(redact(" ".join(line.split("\n"))), multiline=False), err=True)
