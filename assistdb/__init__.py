"""assistdb: Assistants API objects through the official SDK, with a tamper-evident local archive."""

from assistdb._version import __version__
from assistdb.errors import (
    ApiConnectionError,
    ApiError,
    AssistDBError,
    AuthenticationError,
    DatabaseError,
    InvalidInputError,
    NotFoundError,
    RunEndedError,
    RunError,
    RunTimeoutError,
    SchemaTooNewError,
    VerificationError,
)
from assistdb.repositories import AssistDB

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "AssistDB",
    "AssistDBError",
    "AuthenticationError",
    "DatabaseError",
    "InvalidInputError",
    "NotFoundError",
    "RunEndedError",
    "RunError",
    "RunTimeoutError",
    "SchemaTooNewError",
    "VerificationError",
    "__version__",
]
