"""The exceptions assistdb raises, one per kind of failure a caller may want to handle.

Every error carries a one-line ``message`` saying what went wrong and a ``hint`` saying what
to do about it in library terms (an argument, an environment variable), never a command-line
flag or command: apps use the library without the CLI. Where a front end has its own way out
(the CLI's ``--db``), the error names the situation in ``situation``, a stable word the front
end maps to its wording; the CLI's exit codes and wording live in :mod:`assistdb.cli.errors`.
"""

from __future__ import annotations


class _Explained:
    """A one-line ``message`` and an optional ``hint``, shown together by ``str()``; and the
    ``situation`` a front end may word its own hint for (see :data:`SITUATIONS`)."""

    def __init__(self, message: str, *, hint: str | None = None, situation: str | None = None) -> None:
        self.message = message
        self.hint = hint
        self.situation = situation

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class AssistDBError(_Explained, Exception):
    """Base class of every error assistdb raises on purpose (but :class:`Interrupted`)."""


class InvalidInputError(AssistDBError):
    """The caller passed something malformed: an ID, a metadata pair, a file, an option."""


class _WithStatus(AssistDBError):
    def __init__(self, message: str, *, hint: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code


class NotFoundError(_WithStatus):
    """The object does not exist in the archive, or remotely: then it is an
    :class:`ApiNotFoundError` too, with the API's ``status_code``."""


class ApiError(_WithStatus):
    """The API answered with an error (``status_code``), or could not be reached."""


class ApiNotFoundError(ApiError, NotFoundError):
    """The API answered 404: the object, or the route when the base URL is wrong, is not there."""


class InvalidApiObjectError(ApiError):
    """The API returned an object the archive cannot hold as it is: no ID, or an ID that no
    database column can store (a NUL character, a lone surrogate, over 128 characters)."""


class AuthenticationError(ApiError):
    """The API rejected the key."""


class ApiConnectionError(ApiError):
    """The API could not be reached, or did not answer in time (after the SDK's retries)."""


class ApiUnreachableError(ApiConnectionError):
    """Nothing answers at the API's address (connection refused, unknown host): not retried."""

    def __init__(self, message: str, *, hint: str | None = None, base_url: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.base_url = base_url


class RunError(AssistDBError):
    """A run did not complete."""


class RunEndedError(RunError):
    """A run reached a terminal status other than ``completed``; ``run`` is the final run."""

    def __init__(self, message: str, *, run: object, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.run = run


class RunTimeoutError(RunError):
    """Waiting for a run took longer than the timeout; ``run`` is the last run observed."""

    def __init__(self, message: str, *, run: object, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.run = run


class VerificationError(AssistDBError):
    """The archive's hash chains do not verify."""


class DatabaseError(AssistDBError):
    """The database cannot be opened, migrated or written."""


class SchemaTooNewError(DatabaseError):
    """The database was written by a newer assistdb; it is never downgraded."""


class ConflictError(AssistDBError):
    """Objects to load exist in the target with other content; nothing was written."""


class MigrationError(AssistDBError):
    """Some threads were not migrated (each is named); the others were."""


class Interrupted(_Explained, KeyboardInterrupt):
    """The user pressed Ctrl-C (or declined a prompt); whatever was committed stays consistent.
    A ``KeyboardInterrupt``, so that an app's ``except Exception`` never swallows it."""
