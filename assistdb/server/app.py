"""The ASGI application: the ``/v1`` request pipeline and the ``/_assistdb`` extensions.

Every ``/v1`` request goes through the same steps, in the real API's order of refusals: route
(404/405), API key (401), injected fault or latency, ``OpenAI-Beta`` header (400), JSON body
(400), then the operation. Whatever goes wrong, the client gets an OpenAI-shaped error.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from assistdb.server import routes
from assistdb.server.backends.base import ModelBackend
from assistdb.server.backends.scripted import ScriptedBackend
from assistdb.server.body import read_body
from assistdb.server.config import ServerConfig
from assistdb.server.embeddings import until_known
from assistdb.server.errors import HttpError, internal_error, invalid
from assistdb.server.faults import FaultInjector
from assistdb.server.operations import Api, Call, Reply, Result, StreamReply
from assistdb.server.request_models import SeedThread
from assistdb.server.run_driver import Runtime
from assistdb.server.seeding import seed_thread
from assistdb.server.state import ServerState
from assistdb.server.stats import RequestStats
from assistdb.server.storage import open_state
from assistdb.server.validation import parse_body

if TYPE_CHECKING:
    from assistdb.server.backends.embeddings import Embedder

log = logging.getLogger("assistdb.server")

ResponseHook = Callable[[str, int, object], None]

MAX_BODY_BYTES = 32 * 1024 * 1024
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
BETA_HEADER_MESSAGE = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. "
    "Please try again by setting the header 'OpenAI-Beta: assistants=v2'."
)
BAD_JSON_MESSAGE = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
)


class AssistantsApp:
    """An Assistants v2 server in one ASGI callable; its state lives on the serving event loop."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        on_response: ResponseHook | None = None,
        clock: Callable[[], float] = time.time,
        backend: ModelBackend | None = None,
    ) -> None:
        """Open (and migrate) the database; ``backend`` answers runs (the scripted model if None)."""
        self.config = config
        self.on_response = on_response
        self.clock = clock
        self.stats = RequestStats()
        self.store: ServerState = open_state(config)
        self.backend: ModelBackend = backend or _backend_for(config, self.store)
        self.embedder = _embedder_for(config)
        self.store.embedding_model = self.embedder.model if self.embedder is not None else None
        self.runtime = Runtime(self.store, config, self.backend, clock, self.embedder)
        self.api = Api(self.store, self.runtime, config, clock)
        self.faults = FaultInjector(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path = request.url.path
        if path.startswith("/_assistdb/"):
            response = await self._extension(request)
        elif path == "/v1" or path.startswith("/v1/"):
            response = await self._api(request)
        else:
            response = _error_response(HttpError(404, f"Invalid URL ({request.method} {path})"))
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.runtime.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.runtime.stop()
                if self.embedder is not None:
                    await self.embedder.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def stop_streams(self) -> None:
        """End open event streams now, so that shutting down does not wait for runs to rest."""
        self.runtime.stopping = True
        for run_id in list(self.runtime.waiting_runs()):
            self.runtime.notify(run_id)

    def close(self) -> None:
        """Release the database (after the server stopped; runs were handed over by then)."""
        self.store.database.dispose()

    # /v1 ------------------------------------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            found = routes.match(request.method, request.url.path)
        except HttpError as exc:
            self.stats.count(None)
            return _error_response(exc)
        route = found.route
        self.stats.count(route.key)
        try:
            self._authorize(request)
            disruption = self.faults.draw()
            if disruption.delay > 0:
                await asyncio.sleep(disruption.delay)
            if disruption.fault is not None:
                self.stats.count_fault()
                raise disruption.fault
            if route.beta:
                _check_beta_header(request)
            body = await _read_json(request) if route.takes_body else {}
            call = Call(params=found.params, query=_query(request), body=body, request=request)
            result: Result = await self._handle(route.handler, call)
        except HttpError as exc:
            result = Reply(exc.body(), exc.status, exc.headers)
        except ClientDisconnect:
            # The client hung up before its request's body arrived (it timed out, say): nothing
            # was done, nothing went wrong here, and nobody is left to answer.
            return Response(status_code=499)
        except Exception:
            log.exception("internal error in %s", route.operation_id)
            error = internal_error()
            result = Reply(error.body(), error.status)
        if isinstance(result, StreamReply):
            return StreamingResponse(
                result.events,
                media_type=result.media_type,
                headers={**result.headers, "x-request-id": _request_id()},
            )
        try:
            content = _encode(result.body)
        except (TypeError, ValueError):
            log.exception("cannot encode the response of %s", route.operation_id)
            result = Reply(internal_error().body(), 500)
            content = _encode(result.body)
        self._notify(route.operation_id, result.status, result.body)
        headers = {
            "openai-version": "2020-10-01",
            "openai-processing-ms": str(int((time.perf_counter() - started) * 1000)),
            "x-request-id": _request_id(),
            **result.headers,
        }
        return Response(content, result.status, headers, media_type="application/json")

    async def _handle(self, handler: routes.Handler, call: Call) -> Result:
        """Run the operation; one that needs embeddings not computed yet was rolled back
        (``NeedEmbeddings``) and runs again once they are (``server.embeddings``)."""

        async def attempt() -> Result:
            outcome = handler(self.api, call)
            return await outcome if inspect.isawaitable(outcome) else outcome

        return await until_known(attempt, self.embedder.embed if self.embedder is not None else None, {})

    def _authorize(self, request: Request) -> None:
        expected = self.config.api_key
        if expected is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code="invalid_api_key",
            )
        if not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise HttpError(
                401,
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def _notify(self, operation_id: str, status: int, body: object) -> None:
        hook = self.on_response
        if hook is None:
            return
        try:
            hook(operation_id, status, body)
        except Exception:
            log.exception("on_response hook failed")

    # /_assistdb -----------------------------------------------------------------------------

    async def _extension(self, request: Request) -> Response:
        """Server extensions outside the API: no faults or latency, and the API key applies
        except to the health check (load balancers probe it without credentials; it tells nothing)."""
        method, path = request.method, request.url.path
        try:
            if path == "/_assistdb/health" and method == "GET":
                return self._health()
            self._authorize(request)
            if path == "/_assistdb/stats" and method == "GET":
                return _json(self.stats.snapshot())
            if path == "/_assistdb/stats/reset" and method == "POST":
                self.stats.reset()
                return _json(self.stats.snapshot())
            if path == "/_assistdb/seed" and method == "POST":
                seed = parse_body(SeedThread, await _read_json(request))
                thread_id = self.seed(seed.messages, seed.runs, seed.metadata, seed.assistant_id)
                return _json({"thread_id": thread_id})
            raise HttpError(404, f"Invalid URL ({method} {path})")
        except HttpError as exc:
            return _error_response(exc)

    def _health(self) -> Response:
        """For load balancers: 200 if this process can reach the database and is not stopping."""
        if self.runtime.stopping:
            return _json({"status": "stopping"}, 503)
        try:
            with self.store.reading() as tx:
                tx.event_count("")
        except Exception as exc:
            log.warning("health check: the database is unreachable (%s)", type(exc).__name__)
            return _json({"status": "database unreachable"}, 503)
        return _json({"status": "ok"})

    def seed(
        self, messages: int, runs: int, metadata: dict[str, str] | None, assistant_id: str | None
    ) -> str:
        """Seed a thread straight into the database."""
        return seed_thread(
            self.store, self.clock, messages=messages, runs=runs, metadata=metadata, assistant_id=assistant_id
        )


def _backend_for(config: ServerConfig, store: ServerState) -> ModelBackend:
    """The model the configuration names: a Chat Completions endpoint, or the scripted model."""
    if config.upstream is not None:
        from assistdb.server.backends.chat_completions import ChatCompletionsBackend

        return ChatCompletionsBackend(config.upstream)
    return ScriptedBackend(config, store.new_id)


def _embedder_for(config: ServerConfig) -> Embedder | None:
    """The upstream's embeddings for hybrid file search, if its settings name a model."""
    if config.upstream is None or config.upstream.embedding_model is None:
        return None
    from assistdb.server.backends.embeddings import Embedder

    return Embedder(config.upstream)


def _check_beta_header(request: Request) -> None:
    values = [part.strip() for part in request.headers.get("openai-beta", "").split(",")]
    if "assistants=v2" not in values:
        raise HttpError(400, BETA_HEADER_MESSAGE, code="invalid_beta")


async def _read_json(request: Request) -> object:
    raw = await read_body(request, MAX_BODY_BYTES)
    if not raw.strip():
        return {}
    try:
        decoded: object = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
        if _ESCAPED_SURROGATE.search(raw):
            _encode(decoded)  # a lone surrogate (half of an escaped pair) cannot be stored or sent back
    except (ValueError, RecursionError):
        raise invalid(BAD_JSON_MESSAGE) from None
    return decoded


def _refuse_constant(name: str) -> object:
    """``NaN`` and ``Infinity`` are not JSON; Python's parser accepts them unless told otherwise."""
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """Refuse numbers too large for a double (``1e400``), which could not be sent back as JSON."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _query(request: Request) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        query.setdefault(name, []).append(value)
    return query


def _encode(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _json(body: Any, status: int = 200) -> Response:
    return Response(_encode(body), status, media_type="application/json")


def _error_response(error: HttpError) -> Response:
    return Response(_encode(error.body()), error.status, error.headers, media_type="application/json")


def _request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def create_app(
    config: ServerConfig | None = None, *, on_response: ResponseHook | None = None
) -> AssistantsApp:
    """Build the ASGI app (serve it with any ASGI server; ``LocalServer`` uses uvicorn)."""
    return AssistantsApp(config or ServerConfig(), on_response=on_response)
