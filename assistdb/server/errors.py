"""Errors in the OpenAI wire format, so every failure a client sees looks like the real API's."""

from __future__ import annotations

from typing import Any


class HttpError(Exception):
    """An error answered to the client as ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> HttpError:
    """A 400 ``invalid_request_error``, the answer to any request the API refuses to act on."""
    return HttpError(400, message, param=param, code=code)


def not_found(kind: str, object_id: str) -> HttpError:
    """A 404 phrased like the real API's, e.g. ``No thread found with id 'thread_x'.``."""
    return HttpError(404, f"No {kind} found with id '{object_id}'.")


def internal_error() -> HttpError:
    return HttpError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )
