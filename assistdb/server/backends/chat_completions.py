"""Any OpenAI-compatible Chat Completions endpoint as the model of a run, through the ``openai`` SDK.

One round is one streamed ``chat.completions.create`` call (the body comes from ``translation``).
Its chunks become ``TextDelta`` / ``ToolCallDelta`` events as they arrive and the last one a
``Finished`` with the upstream's usage. The SDK's own retries are off: this module retries 408,
409, 429, 5xx and connection failures itself, with exponential backoff or the upstream's
``Retry-After``, so the policy is explicit, logged and testable. Once an event has been relayed a
failure is not retried (the client has seen part of an answer); the driver decides.

Credentials never leave ``UpstreamSettings``: not in its repr, not in log lines, not in
``ModelError`` messages (the upstream's own words are scrubbed of the key before they are kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import os
import random
import re
import time
import tomllib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit, urlunsplit

import openai

from assistdb.server.backends.base import (
    Finished,
    FinishReason,
    ModelError,
    ModelEvent,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from assistdb.server.backends.translation import TokenLimitField, chat_request, remaining_completion_tokens

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
RETRYABLE_STATUSES = frozenset({408, 409, 429})
#: 4xx answers about the request's content (context too long, bad parameters): the prompt's fault.
PROMPT_STATUSES = frozenset({400, 413, 422})
_DETAIL_LIMIT = 500
#: An upstream that does not accept a connection in this time is down (the SDK's default too).
CONNECT_TIMEOUT = 5.0


#: The environment variables ``UpstreamSettings.load`` reads, per setting; the first one set wins.
ENVIRONMENT: Mapping[str, tuple[str, ...]] = {
    "base_url": ("ASSISTDB_UPSTREAM_URL",),
    "api_key": ("ASSISTDB_UPSTREAM_API_KEY", "OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"),
    "azure_endpoint": ("AZURE_OPENAI_ENDPOINT",),
    "azure_api_version": ("AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION"),
    "model_map": ("ASSISTDB_UPSTREAM_MODEL_MAP",),
    "token_limit_field": ("ASSISTDB_UPSTREAM_TOKEN_LIMIT_FIELD",),
    "timeout": ("ASSISTDB_UPSTREAM_TIMEOUT",),
    "max_retries": ("ASSISTDB_UPSTREAM_MAX_RETRIES",),
    "backoff": ("ASSISTDB_UPSTREAM_BACKOFF",),
    "max_wait": ("ASSISTDB_UPSTREAM_MAX_WAIT",),
    "embedding_model": ("ASSISTDB_UPSTREAM_EMBEDDING_MODEL",),
}


class UpstreamConfigError(ValueError):
    """The upstream settings are unusable; the message says which setting and how to fix it."""


def parse_model_map(text: str) -> dict[str, str]:
    """``"gpt-4o=tiny, *=llama3"`` as a map; ``*`` names the model for every other name."""
    mapping: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, target = item.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise UpstreamConfigError(
                f"model map entry {item.strip()!r} is not NAME=UPSTREAM_NAME (e.g. 'gpt-4o=llama3,*=llama3')"
            )
        mapping[name.strip()] = target.strip()
    return mapping


def _number(name: str, value: object, kind: type[int] | type[float]) -> Any:
    try:
        number = kind(cast(Any, value))
    except (TypeError, ValueError):
        raise UpstreamConfigError(f"{name} must be a {kind.__name__}, not {value!r}") from None
    if number < 0 or (isinstance(number, float) and not math.isfinite(number)):
        raise UpstreamConfigError(f"{name} must be zero or more, not {value!r}")
    return number


def _without_credentials(url: str | None) -> str:
    """A URL fit for messages: no ``user:password@``, no query (some providers take keys there)."""
    if not url:
        return OPENAI_URL
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host, query="", fragment=""))


@dataclass(frozen=True)
class UpstreamSettings:
    """Where the upstream is and how to talk to it (see docs/server.md, "Chat Completions backend")."""

    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    azure_endpoint: str | None = None
    azure_api_version: str | None = None
    model_map: Mapping[str, str] = field(default_factory=dict)
    #: The request field for the completion-token limit; ``auto``: see ``limit_field``.
    token_limit_field: TokenLimitField | Literal["auto"] = "auto"
    #: Seconds to wait for each piece of the answer (and, at most ``CONNECT_TIMEOUT``, to connect).
    timeout: float = 60.0
    #: Retries after the first attempt (0: none).
    max_retries: int = 3
    #: First backoff delay in seconds; it doubles with each retry.
    backoff: float = 0.5
    #: The longest single wait; an upstream asking for longer (``Retry-After``) is not retried.
    max_wait: float = 20.0
    #: The upstream's ``/embeddings`` model for hybrid file search; ``None``: lexical ranking only.
    embedding_model: str | None = None

    def __post_init__(self) -> None:
        if self.token_limit_field not in ("auto", *get_args(TokenLimitField)):
            raise UpstreamConfigError(
                f"token_limit_field must be 'auto', 'max_completion_tokens' or 'max_tokens', "
                f"not {self.token_limit_field!r}"
            )
        if self.azure_endpoint and not self.azure_api_version:
            raise UpstreamConfigError(
                "an Azure endpoint needs an API version: set AZURE_OPENAI_API_VERSION "
                "(or azure_api_version in the config file), e.g. 2024-10-21"
            )
        if self.timeout <= 0:
            raise UpstreamConfigError(f"timeout must be more than 0 seconds, not {self.timeout!r}")
        if self.embedding_model is not None and not self.embedding_model.strip():
            raise UpstreamConfigError("embedding_model must name a model, not be empty")

    @classmethod
    def load(
        cls, config_file: str | Path | None = None, environ: Mapping[str, str] | None = None
    ) -> UpstreamSettings:
        """Defaults, then the ``[upstream]`` table of a TOML file, then the environment.

        The key is never read from the file (it would sit in plain text next to other settings);
        the file may name the variable that holds it with ``api_key_env``.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        key_vars = list(ENVIRONMENT["api_key"])
        if config_file is not None:
            table = _read_config(Path(config_file))
            if "api_key_env" in table:
                key_vars.insert(0, str(table.pop("api_key_env")))
            values.update(table)
        for name, variables in ENVIRONMENT.items():
            candidates = key_vars if name == "api_key" else variables
            found = next((env[var] for var in candidates if env.get(var)), None)
            if found is not None:
                values[name] = parse_model_map(found) if name == "model_map" else found
        return cls.from_values(values)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> UpstreamSettings:
        """Settings from plain values (strings are converted), each checked with a clear message."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            names = ", ".join(sorted(_setting_name(name) for name in known if name != "api_key"))
            raise UpstreamConfigError(f"unknown upstream setting {unknown[0]!r}; known: {names}, api_key_env")
        converted = dict(values)
        for name, kind in (("timeout", float), ("backoff", float), ("max_wait", float), ("max_retries", int)):
            if name in converted:
                converted[name] = _number(name, converted[name], kind)
        for name in (
            "base_url",
            "api_key",
            "azure_endpoint",
            "azure_api_version",
            "token_limit_field",
            "embedding_model",
        ):
            if converted.get(name) is not None and not isinstance(converted[name], str):
                raise UpstreamConfigError(f"{_setting_name(name)} must be a string, not {converted[name]!r}")
        model_map = converted.get("model_map")
        if model_map is not None and not (
            isinstance(model_map, Mapping) and all(isinstance(v, str) for v in model_map.values())
        ):
            raise UpstreamConfigError("model_map must map model names to upstream model names (strings)")
        return cls(**converted)

    def updated(self, values: Mapping[str, Any]) -> UpstreamSettings:
        """These settings with some replaced (``None`` values are skipped), e.g. from command-line options."""
        current = {item.name: getattr(self, item.name) for item in fields(self)}
        return self.from_values(
            {**current, **{name: value for name, value in values.items() if value is not None}}
        )

    @property
    def limit_field(self) -> TokenLimitField:
        """``max_completion_tokens`` for OpenAI and Azure (their reasoning models refuse the older
        name), ``max_tokens`` for any other server: every compatible server knows it, and some
        (Ollama) silently ignore the newer name, which would leave a run without its limit."""
        if self.token_limit_field != "auto":
            return self.token_limit_field
        return "max_completion_tokens" if self.is_azure or not self.base_url else "max_tokens"

    @property
    def is_azure(self) -> bool:
        return bool(self.azure_endpoint)

    @property
    def location(self) -> str:
        """Where the upstream is, without credentials, for messages and logs."""
        return _without_credentials(self.azure_endpoint or self.base_url)

    def client(self) -> openai.AsyncOpenAI:
        """The SDK client, with its own retries off (``ChatCompletionsBackend`` retries)."""
        if not self.api_key and not self.is_azure and not self.base_url:
            raise UpstreamConfigError(
                "no API key for OpenAI: set ASSISTDB_UPSTREAM_API_KEY (or OPENAI_API_KEY), "
                "or point ASSISTDB_UPSTREAM_URL at another Chat Completions endpoint"
            )
        # Local servers (llama.cpp, Ollama, vLLM) take any key; the SDK insists on one.
        key = self.api_key or "no-key"
        timeout = openai.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT))
        if self.azure_endpoint:
            return openai.AsyncAzureOpenAI(
                azure_endpoint=self.azure_endpoint,
                api_version=self.azure_api_version,
                api_key=key,
                timeout=timeout,
                max_retries=0,
            )
        # The URL is always given: the SDK would otherwise read OPENAI_BASE_URL, which in a shell
        # set up for assistdb's clients may point at assistdb itself.
        return openai.AsyncOpenAI(
            base_url=self.base_url or OPENAI_URL, api_key=key, timeout=timeout, max_retries=0
        )


def _setting_name(name: str) -> str:
    """A setting's name as a config file spells it."""
    return "url" if name == "base_url" else name


def _read_config(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UpstreamConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UpstreamConfigError(f"the config file {path} is not valid TOML: {exc}") from None
    table = document.get("upstream", {})
    if not isinstance(table, dict):
        raise UpstreamConfigError(f"[upstream] in {path} must be a table")
    if "api_key" in table:
        raise UpstreamConfigError(
            f"{path} holds an API key; keep it in the environment (ASSISTDB_UPSTREAM_API_KEY) "
            "or name its variable with api_key_env"
        )
    if "base_url" in table:
        raise UpstreamConfigError(f"unknown upstream setting 'base_url' in {path}; the file calls it url")
    values = dict(table)
    if "url" in values:
        values["base_url"] = values.pop("url")
    return values


# Errors ----------------------------------------------------------------------------------------


#: Shorter "keys" are placeholders for servers that take any (blanking "x" would garble text).
_SHORTEST_SECRET = 8


def scrub(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """Upstream text fit for ``last_error``: one line, bounded, with the given secrets blanked."""
    for secret in secrets:
        if secret and len(secret) >= _SHORTEST_SECRET:
            text = text.replace(secret, "***")
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\s]+", " ", text).strip()
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def upstream_detail(error: openai.APIError) -> str:
    """What the upstream said: its error message if it sent one, else the body or SDK message."""
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    if isinstance(body, str) and body.strip():
        return body
    return error.message


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the upstream asks to wait: ``retry-after-ms``, or ``Retry-After`` (seconds or a date)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        value = lowered.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            moment = email.utils.parsedate_to_datetime(value)
            return max(0.0, moment.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def retry_delay(settings: UpstreamSettings, exc: Exception, attempt_number: int) -> float | None:
    """Seconds to wait before the next attempt, or ``None`` when this failure is final: 408, 409,
    429, 5xx and connection failures are retried with exponential backoff or ``Retry-After``."""
    if attempt_number >= settings.max_retries:
        return None
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status not in RETRYABLE_STATUSES and status < 500:
            return None
        asked = retry_after(exc.response.headers)
        if asked is not None:
            return asked if asked <= settings.max_wait else None
    delay = settings.backoff * math.pow(2, attempt_number)
    return min(settings.max_wait, delay * (0.75 + random.random() / 4))


def summary(exc: Exception) -> str:
    """A failed upstream request in a few words, for log lines."""
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    if isinstance(exc, openai.APIError):
        return "error event in the stream"
    return "stream broke off"


class _BrokenStream(Exception):
    """The answer stopped before the upstream said it was finished."""


@dataclass
class _Attempt:
    """What one streamed answer has produced so far."""

    relayed: bool = False
    finish: str | None = None
    usage: Usage | None = None
    #: The calls so far: our index -> call ID.
    calls: dict[int, str] = field(default_factory=dict)
    #: The upstream's index -> ours, for the deltas that continue a call.
    slots: dict[int, int] = field(default_factory=dict)
    last: int | None = None

    def slot(self, index: int | None, call_id: str | None) -> tuple[int, bool]:
        """Our index for a tool-call delta, and whether the delta opens a new call.

        OpenAI numbers the calls and sends each ID once. Some compatible servers number every
        call 0 (Ollama) or not at all, and send whole calls, each with its ID: a new ID is a new
        call, and a delta without index or ID continues the last one.
        """
        if call_id is not None and call_id in self.calls.values():
            return next(at for at, known in self.calls.items() if known == call_id), False
        if call_id is None:
            if index is not None and index in self.slots:
                return self.slots[index], False
            if index is None and self.last is not None:
                return self.last, False
        free = max(self.calls, default=-1) + 1
        slot = index if index is not None and index not in self.calls else free
        # Some upstreams leave out the call ID; the driver needs one to match outputs.
        self.calls[slot] = call_id or f"call_{uuid.uuid4().hex[:24]}"
        self.slots[slot if index is None else index] = slot
        self.last = slot
        return slot, True


# The backend -----------------------------------------------------------------------------------


class ChatCompletionsBackend:
    """``ModelBackend`` over any Chat Completions endpoint; one instance serves every run."""

    def __init__(
        self,
        settings: UpstreamSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._client = settings.client()
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._client.close()

    async def answer(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Stream one round; retries happen only before the first event is relayed."""
        if remaining_completion_tokens(request) == 0:
            # The run's completion budget is spent: asking for 0 tokens is an upstream error.
            yield Finished("length", None)
            return
        body = chat_request(
            request, model_map=self.settings.model_map, token_limit_field=self.settings.limit_field
        )
        model = str(body["model"])
        attempt_number = 0
        while True:
            attempt = _Attempt()
            try:
                # aclosing: a consumer that stops early (aclose) closes the HTTP response now.
                async with contextlib.aclosing(self._stream(body, attempt)) as events:
                    async for event in events:
                        yield event
                return
            except (openai.APIError, _BrokenStream) as exc:
                if attempt.relayed:
                    raise self._failure(exc, model, during_stream=True) from None
                delay = self._retry_delay(exc, attempt_number)
                if delay is None:
                    raise self._failure(exc, model, during_stream=False) from None
                attempt_number += 1
                log.warning(
                    "upstream %s: %s; retry %d of %d in %.2f s",
                    self.settings.location,
                    summary(exc),
                    attempt_number,
                    self.settings.max_retries,
                    delay,
                )
                await self._sleep(delay)

    async def _stream(self, body: dict[str, Any], attempt: _Attempt) -> AsyncGenerator[ModelEvent, None]:
        # The SDK's generic POST, not ``chat.completions.create``: the body is already the
        # wire JSON (``translation`` builds it, and the tests check it against the spec), and the
        # typed method's walk over its ~40 parameters sits on every run's first-token path.
        # Auth, headers, timeouts and Azure's deployment paths are the SDK's as before. The
        # chunks come as the JSON they are (``object``): building each as a typed
        # ``ChatCompletionChunk`` cost about 0.1 ms, for the few fields read here.
        stream = await self._client.post(
            "/chat/completions",
            body=body,
            cast_to=object,
            stream=True,
            stream_cls=openai.AsyncStream[object],
        )
        try:
            async for chunk in _chunks(stream):
                usage = _field(chunk, "usage")
                if usage is not None:
                    attempt.usage = Usage(_count(usage, "prompt_tokens"), _count(usage, "completion_tokens"))
                for event in _events(chunk, attempt):
                    attempt.relayed = True
                    yield event
        except (openai.APIConnectionError, _BrokenStream):
            if attempt.finish is None:
                raise
            # The answer is whole; only what follows it (a usage chunk, ``[DONE]``) was lost.
            log.warning("upstream %s: the stream broke off after the answer finished", self.settings.location)
        finally:
            await stream.close()
        if attempt.finish is None:
            raise _BrokenStream("the upstream's stream ended before the model finished its answer")
        yield Finished(_finish_reason(attempt.finish, bool(attempt.calls)), attempt.usage)

    def _retry_delay(self, exc: Exception, attempt_number: int) -> float | None:
        if not isinstance(exc, openai.APIError | _BrokenStream):
            return None
        return retry_delay(self.settings, exc, attempt_number)

    def _failure(self, exc: Exception, model: str, *, during_stream: bool) -> ModelError:
        """The ``ModelError`` a run fails with; the upstream's words are kept, the key never."""
        secrets = (self.settings.api_key,)
        where = f"the upstream at {self.settings.location}"
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = scrub(upstream_detail(exc), secrets)
            said = f"{where} answered HTTP {status} for model {model!r}: {detail}"
            if status == 429:
                return ModelError("rate_limit_exceeded", f"{said} (gave up after {self._tries()})")
            if status >= 500 or status in RETRYABLE_STATUSES:
                return ModelError("server_error", f"{said} (gave up after {self._tries()})")
            return ModelError("invalid_prompt" if status in PROMPT_STATUSES else "server_error", said)
        if during_stream:
            if isinstance(exc, openai.APIConnectionError):
                reason = summary(exc)
            elif isinstance(exc, openai.APIError):
                reason = scrub(upstream_detail(exc), secrets)
            else:
                reason = scrub(str(exc), secrets)
            return ModelError("server_error", f"{where} broke off its answer: {reason}")
        gave_up = f"gave up after {self._tries()}"
        if isinstance(exc, openai.APIConnectionError):
            return ModelError("server_error", f"could not reach {where}: {summary(exc)} ({gave_up})")
        if isinstance(exc, openai.APIError):
            return ModelError(
                "server_error", f"{where} reported an error: {scrub(upstream_detail(exc), secrets)}"
            )
        return ModelError("server_error", f"{where}: {scrub(str(exc), secrets)} ({gave_up})")

    def _tries(self) -> str:
        count = self.settings.max_retries + 1
        return "1 attempt" if count == 1 else f"{count} attempts"


async def _chunks(stream: openai.AsyncStream[object]) -> AsyncIterator[object]:
    """The stream's chunks as JSON values; a chunk that is not JSON breaks the stream like a
    disconnect."""
    iterator = aiter(stream)
    while True:
        try:
            chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        except ValueError as exc:
            raise _BrokenStream(f"the upstream sent a chunk that is not JSON ({exc})") from None
        yield chunk


def _events(chunk: object, attempt: _Attempt) -> list[ModelEvent]:
    """The events in one chunk (only the first choice counts: a run asks for one). A field of
    the wrong type counts as absent (the SDK's typed chunks, built without validation, let such
    a field through to fail later)."""
    events: list[ModelEvent] = []
    for choice in _objects(_field(chunk, "choices")):
        if choice.get("index", 0) != 0:
            continue
        delta = _field(choice, "delta")
        text = _text(delta, "content") + _text(delta, "refusal")
        if text:
            events.append(TextDelta(text))
        for call in _objects(_field(delta, "tool_calls")):
            upstream_index = call.get("index")  # absent when an upstream leaves it out
            call_id = call.get("id")
            index, opens = attempt.slot(
                upstream_index if isinstance(upstream_index, int) else None,
                call_id if isinstance(call_id, str) else None,
            )
            function = _field(call, "function")
            arguments = _text(function, "arguments")
            if opens:
                name = _field(function, "name")
                name = name if isinstance(name, str) else None
                events.append(ToolCallDelta(index, arguments, id=attempt.calls[index], name=name))
            elif arguments:
                events.append(ToolCallDelta(index, arguments))
        finish = choice.get("finish_reason")
        if isinstance(finish, str):
            attempt.finish = finish
    return events


def _field(value: object, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else None


def _objects(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: object, name: str) -> str:
    found = _field(value, name)
    return found if isinstance(found, str) else ""


def _count(value: object, name: str) -> int:
    found = _field(value, name)
    return found if isinstance(found, int) else 0


def _finish_reason(reason: str, made_calls: bool) -> FinishReason:
    """The upstream's finish reason in the protocol's terms.

    What the model did decides between the two normal endings: some OpenAI-compatible servers
    finish a tool-calling answer with ``stop``, and a ``tool_calls`` finish without a call would
    leave a run waiting for outputs of nothing. ``function_call`` is the legacy ``tool_calls``.
    """
    if reason in ("tool_calls", "function_call", "stop"):
        return "tool_calls" if made_calls else "stop"
    if reason in ("length", "content_filter"):
        return cast(FinishReason, reason)
    return "stop"


__all__ = [
    "ChatCompletionsBackend",
    "UpstreamConfigError",
    "UpstreamSettings",
    "parse_model_map",
    "retry_after",
    "scrub",
]
