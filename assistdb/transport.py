"""Failing fast when the API cannot be reached at all.

The SDK retries every failed connection with a growing backoff, so a wrong ``--base-url`` or a
server that is down took 17 seconds to report. A refused connection or a host name that does not
resolve will not fix itself in those seconds, so the transport here reports it at once, naming
the URL as configured; timeouts, 429 and 5xx answers are still retried by the SDK.

The SDK's HTTP library is ``httpx`` up to openai 3.56 and ``httpx2`` from 3.57; the wrapper
takes its exception classes from whichever the client is built on.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import openai


class UnreachableError(openai.APIConnectionError):
    """Nothing listens at the API's address, or its host name does not resolve.

    Being an ``OpenAIError`` already, the SDK raises it as it is instead of retrying.
    """

    def __init__(self, *, base_url: str, reason: str, request: Any) -> None:
        super().__init__(message=f"cannot reach the API at {base_url}: {reason}", request=request)
        self.base_url = base_url
        self.reason = reason


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if any(
        marker in text for marker in ("name or service not known", "nodename nor servname", "getaddrinfo")
    ):
        return "the host name does not resolve"
    return str(exc) or "cannot connect"


class _FailFast:
    """A transport that turns a failed connection (not a timeout) into :class:`UnreachableError`."""

    def __init__(self, inner: Any, http: ModuleType, base_url: str) -> None:
        self._inner = inner
        self._http = http
        self._base_url = base_url

    def _unreachable(self, exc: Exception, request: Any) -> Exception:
        if isinstance(exc, self._http.ConnectTimeout) or not isinstance(exc, self._http.ConnectError):
            return exc
        return UnreachableError(base_url=self._base_url, reason=_reason(exc), request=request)

    def handle_request(self, request: Any) -> Any:
        try:
            return self._inner.handle_request(request)
        except Exception as exc:
            failure = self._unreachable(exc, request)
            if failure is exc:
                raise
            raise failure from exc

    async def handle_async_request(self, request: Any) -> Any:
        try:
            return await self._inner.handle_async_request(request)
        except Exception as exc:
            failure = self._unreachable(exc, request)
            if failure is exc:
                raise
            raise failure from exc

    def __getattr__(self, name: str) -> Any:  # close, aclose, __enter__, ...
        return getattr(self._inner, name)


def fail_fast(client: Any, base_url: str) -> None:
    """Wrap every transport of the SDK's HTTP client (the default one and any proxy mounts) so
    that an unreachable API raises :class:`UnreachableError` without retries."""
    transport = getattr(client, "_transport", None)
    mounts = getattr(client, "_mounts", None)
    if transport is None or not isinstance(mounts, dict):
        return  # an HTTP client we do not know: keep the SDK's behaviour
    http = importlib.import_module(type(transport).__module__.split(".")[0])
    if not hasattr(http, "ConnectError"):
        return
    client._transport = _FailFast(transport, http, base_url)
    for pattern, mounted in list(mounts.items()):
        if mounted is not None:
            mounts[pattern] = _FailFast(mounted, http, base_url)
