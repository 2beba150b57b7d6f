"""The exceptions assistdb raises, one per kind of failure a caller may want to handle.

Every error carries a one-line ``message`` saying what went wrong and a ``hint`` saying what
to do about it; the CLI prints both on one line and exits with the class's ``exit_code``.
"""

from __future__ import annotations


class AssistDBError(Exception):
    """Base class of every error assistdb raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InvalidInputError(AssistDBError):
    """The caller passed something malformed: an ID, a metadata pair, a file, an option."""

    exit_code = 2


class NotFoundError(AssistDBError):
    """The object does not exist remotely or in the archive; ``status_code`` is the API's answer
    (404) when the API said so, None when the archive did."""

    exit_code = 3

    def __init__(self, message: str, *, hint: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code


class ApiError(AssistDBError):
    """The API answered with an error, or could not be reached."""

    exit_code = 4

    def __init__(self, message: str, *, hint: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code


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

    exit_code = 5


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

    exit_code = 6


class DatabaseError(AssistDBError):
    """The database cannot be opened, migrated or written."""

    exit_code = 7


class SchemaTooNewError(DatabaseError):
    """The database was written by a newer assistdb; it is never downgraded."""


class ConflictError(AssistDBError):
    """Objects to load exist in the target with other content; nothing was written."""

    exit_code = 8


class MigrationError(AssistDBError):
    """Some threads were not migrated (each is named); the others were."""

    exit_code = 9


class Interrupted(AssistDBError):
    """The user pressed Ctrl-C; whatever was committed stays consistent."""

    exit_code = 130


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected internal error (run with -v and report it)",
    InvalidInputError.exit_code: "usage error or invalid input",
    NotFoundError.exit_code: "not found",
    ApiError.exit_code: "API error: rejected request, bad key, unreachable server",
    RunError.exit_code: "run ended badly: failed, cancelled, expired, incomplete, or timed out",
    VerificationError.exit_code: "archive verification failed",
    DatabaseError.exit_code: "database error: bad URL, newer schema, read-only, full, damaged, or not ours",
    ConflictError.exit_code: "conflict: an object exists in the target with other content",
    MigrationError.exit_code: "some threads were not migrated: refused as lossy, not archived, or failed",
    Interrupted.exit_code: "interrupted (Ctrl-C)",
}
