"""The SDK gateway: every call to the API goes through here, the official SDK without its
deprecation warning for the assistants surface, and with its errors turned into assistdb's own."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import openai

from assistdb import errors
from assistdb.secrets import redact

R = TypeVar("R")

#: The SDK marks the whole assistants surface deprecated and warns on every call (two messages,
#: one per decorator layer); the warning says nothing an assistdb user can act on. These filters
#: match those messages only, raised through assistdb's calls or the SDK's raw-response wrapper,
#: and are installed once at import: thread-safe (nothing toggles the filters around a call), and
#: every other warning, and every argument check the SDK's decorators make, stays in place.
DEPRECATION_MESSAGES = (r"The Assistants API is deprecated in favor of the Responses API", r"deprecated\Z")
_CALLERS = r"(assistdb|openai)\."
QUIET_FILTERS = tuple(f"ignore:{message}:DeprecationWarning:{_CALLERS}" for message in DEPRECATION_MESSAGES)


def quiet_deprecations() -> None:
    """Install the filters on top of the current ones (done once on import; tests that reset
    the filters call it again)."""
    for message in DEPRECATION_MESSAGES:
        warnings.filterwarnings("ignore", message=message, category=DeprecationWarning, module=_CALLERS)


quiet_deprecations()


def call(method: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    """Call an SDK method, translating its errors."""
    with translate_api_errors():
        return method(*args, **kwargs)


def raw_method(method: Callable[..., Any]) -> Callable[..., Any]:
    """The ``.with_raw_response`` variant of a bound SDK method: its result keeps the HTTP
    response (headers, exact JSON) and ``.parse()`` gives the object."""
    resource = method.__self__  # type: ignore[attr-defined]
    return getattr(resource.with_raw_response, method.__name__)  # type: ignore[no-any-return]


def call_raw(method: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Like :func:`call`, but keep the HTTP response as well (see :func:`raw_method`)."""
    with translate_api_errors():
        return raw_method(method)(*args, **kwargs)


async def acall(method: Callable[..., Awaitable[R]], /, *args: Any, **kwargs: Any) -> R:
    """:func:`call` for an ``AsyncOpenAI`` method."""
    with translate_api_errors():
        return await method(*args, **kwargs)


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
            return errors.ApiNotFoundError(
                f"{message} at {redact(str(exc.request.url.copy_with(query=None)))}",
                hint="does the base URL (OPENAI_BASE_URL) end in /v1?",
                status_code=status,
            )
        return errors.ApiNotFoundError(message, hint="check the ID", status_code=status)
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
