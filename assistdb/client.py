"""Building the SDK client from settings and the environment, the same way for library and CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistdb import secrets
from assistdb.errors import InvalidInputError

if TYPE_CHECKING:
    import openai

DEFAULT_MAX_RETRIES = 5


@dataclass(frozen=True)
class ClientSettings:
    """Where the API is and how to reach it; unset fields fall back to the usual environment
    variables (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``AZURE_OPENAI_ENDPOINT``,
    ``AZURE_OPENAI_API_KEY``, ``OPENAI_API_VERSION``, and the standard proxy variables)."""

    base_url: str | None = None
    api_key: str | None = None
    azure_endpoint: str | None = None
    api_version: str | None = None
    proxy: str | None = None
    timeout: float | None = None
    max_retries: int = DEFAULT_MAX_RETRIES

    def resolved(self) -> ClientSettings:
        env = os.environ.get
        azure_endpoint = self.azure_endpoint or env("AZURE_OPENAI_ENDPOINT")
        api_key = (
            self.api_key or (env("AZURE_OPENAI_API_KEY") if azure_endpoint else None) or env("OPENAI_API_KEY")
        )
        return ClientSettings(
            base_url=self.base_url or env("OPENAI_BASE_URL"),
            api_key=api_key,
            azure_endpoint=azure_endpoint,
            api_version=self.api_version or env("OPENAI_API_VERSION"),
            proxy=self.proxy,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )


def make_client(settings: ClientSettings | None = None) -> openai.OpenAI:
    """An ``OpenAI`` (or ``AzureOpenAI``) client; its key is registered for redaction."""
    import openai

    client: openai.OpenAI = _build(settings, openai.OpenAI, openai.AzureOpenAI, openai.DefaultHttpxClient)
    return client


def make_async_client(settings: ClientSettings | None = None) -> openai.AsyncOpenAI:
    """:func:`make_client` for asyncio: an ``AsyncOpenAI`` (or ``AsyncAzureOpenAI``) client."""
    import openai

    client: openai.AsyncOpenAI = _build(
        settings, openai.AsyncOpenAI, openai.AsyncAzureOpenAI, openai.DefaultAsyncHttpxClient
    )
    return client


def _build(settings: ClientSettings | None, plain: Any, azure: Any, http_client: Any) -> Any:
    from assistdb.transport import fail_fast

    s, kwargs = _client_kwargs(settings)
    if s.proxy:
        kwargs["http_client"] = http_client(proxy=s.proxy)
    if s.azure_endpoint:
        client = azure(azure_endpoint=s.azure_endpoint, api_version=s.api_version, **kwargs)
    else:
        client = plain(base_url=s.base_url, **kwargs)
    fail_fast(client._client, str(client.base_url).rstrip("/"))
    return client


def _check_header_safe(api_key: str) -> None:
    """The key travels in an HTTP header, which holds printable ASCII only; say so instead of
    letting the request fail deep in the HTTP client (and never show the key)."""
    if not (api_key.isascii() and api_key.isprintable()):
        raise InvalidInputError(
            "the API key has characters an HTTP header cannot carry (non-ASCII, a newline or other control)",
            hint="set OPENAI_API_KEY to the key exactly as issued, without quotes or stray characters",
        )


def _is_utf8_text(value: str) -> bool:
    """False for text decoded from bytes that are not UTF-8 (Python keeps them as surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _client_kwargs(settings: ClientSettings | None) -> tuple[ClientSettings, dict[str, Any]]:
    s = (settings or ClientSettings()).resolved()
    if not s.api_key:
        raise InvalidInputError("no API key", hint="set OPENAI_API_KEY, or AZURE_OPENAI_API_KEY for Azure")
    if s.azure_endpoint and not s.api_version:
        raise InvalidInputError(
            "Azure OpenAI needs an API version",
            hint="set OPENAI_API_VERSION or ClientSettings(api_version=...)",
            situation="azure_api_version",
        )
    _check_header_safe(s.api_key)
    for name, value in (
        ("the base URL", s.base_url),
        ("the Azure endpoint", s.azure_endpoint),
        ("the API version", s.api_version),
        ("the proxy URL", s.proxy),
    ):
        if value is not None and not _is_utf8_text(value):
            raise InvalidInputError(f"{name} is not UTF-8 text", hint="set it again as plain text")
    secrets.register(s.api_key)
    kwargs: dict[str, Any] = {"api_key": s.api_key, "max_retries": s.max_retries}
    if s.timeout is not None:
        kwargs["timeout"] = s.timeout
    return s, kwargs
