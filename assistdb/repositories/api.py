"""Every call to the API goes through here: the official SDK, without its deprecation warnings
for the assistants surface, and with its errors turned into assistdb's own."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar, cast

import openai
from openai._legacy_response import LegacyAPIResponse, async_to_raw_response_wrapper, to_raw_response_wrapper

from assistdb import errors
from assistdb.secrets import redact

P = ParamSpec("P")
R = TypeVar("R")


def quiet(method: Callable[P, R]) -> Callable[P, R]:
    """The bound SDK method without its decorators, among them the ``@deprecated`` wrappers that
    warn on every call (some methods carry several layers).

    Calling the undecorated function is safe under threads, unlike toggling the global warning
    filters around each call.
    """
    owner = getattr(method, "__self__", None)
    if owner is None:
        return method
    return cast(Callable[P, R], functools.partial(inspect.unwrap(method), owner))


def call(method: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    """Call an SDK method quietly, translating its errors."""
    with translate_api_errors():
        return quiet(method)(*args, **kwargs)


def call_raw(method: Callable[..., R], /, *args: Any, **kwargs: Any) -> LegacyAPIResponse[R]:
    """Like :func:`call`, but keep the HTTP response (headers, exact JSON) as well."""
    raw = to_raw_response_wrapper(quiet(method))
    with translate_api_errors():
        return raw(*args, **kwargs)


async def acall(method: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """The asyncio twin of :func:`call`."""
    with translate_api_errors():
        return await quiet(method)(*args, **kwargs)


async def acall_raw(method: Callable[..., Any], /, *args: Any, **kwargs: Any) -> LegacyAPIResponse[Any]:
    """The asyncio twin of :func:`call_raw`."""
    raw = async_to_raw_response_wrapper(quiet(method))
    with translate_api_errors():
        response: LegacyAPIResponse[Any] = await raw(*args, **kwargs)
        return response


@contextmanager
def translate_api_errors() -> Iterator[None]:
    try:
        yield
    except openai.APIError as exc:
        raise api_error(exc) from exc


def api_error(exc: openai.APIError) -> errors.AssistDBError:
    """The assistdb error for an SDK error, with any registered secret masked."""
    from assistdb.transport import UnreachableError

    message = redact(_api_message(exc))
    if isinstance(exc, UnreachableError):
        return errors.ApiUnreachableError(
            redact(exc.message),
            hint="check the base URL (OPENAI_BASE_URL) and that the server is up",
            base_url=redact(exc.base_url),
        )
    if isinstance(exc, openai.APIConnectionError):
        where = redact(str(exc.request.url.copy_with(query=None))) if exc.request else "the API"
        kind = "timed out talking to" if isinstance(exc, openai.APITimeoutError) else "cannot reach"
        return errors.ApiConnectionError(
            f"{kind} the API at {where}", hint="check the network and that the server is up, then retry"
        )
    status = getattr(exc, "status_code", None)
    if isinstance(exc, openai.NotFoundError):
        if message.startswith("Invalid URL"):  # the route, not an object, is unknown
            return errors.NotFoundError(
                f"{message} at {redact(str(exc.request.url.copy_with(query=None)))}",
                hint="does the base URL (OPENAI_BASE_URL) end in /v1?",
                status_code=status,
            )
        return errors.NotFoundError(message, hint="check the ID", status_code=status)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return errors.AuthenticationError(
            f"the API rejected the key: {message}",
            hint="set OPENAI_API_KEY to a valid key",
            status_code=status,
        )
    if isinstance(exc, openai.RateLimitError):
        return errors.ApiError(
            f"rate limited by the API: {message}", hint="wait and retry", status_code=status
        )
    if isinstance(exc, openai.InternalServerError):
        return errors.ApiError(
            f"the API failed ({status}): {message}", hint="retry later", status_code=status
        )
    return errors.ApiError(
        f"the API refused the request: {message}", hint="fix the request and retry", status_code=status
    )


def _api_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"]).rstrip(".")
    return str(exc.message).rstrip(".")
