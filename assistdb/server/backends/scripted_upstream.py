"""``ScriptedUpstream``: a Chat Completions server that answers from a script, for tests.

A real HTTP server (starlette under uvicorn, in a background thread) on a free loopback port.
Tests queue behaviours with ``script(...)``; each ``POST /v1/chat/completions`` takes the next
one. With the queue empty it follows the scripted model's commands in the last user message
(``/tool NAME {json}``, ``/then``, ``/fail``, ``/incomplete``, ``/sleep``; see docs/server.md), so
tests written for the scripted model can run against an upstream too, and otherwise replies
as the scripted model does (``You said: TEXT``, or ``NAME -> OUTPUT`` per tool output):

- ``Reply(text=..., calls=(Call(...), ...))``: text and/or parallel tool calls, streamed in
  small deltas (or one JSON answer without ``stream``), with ``finish_reason`` ``stop`` or
  ``tool_calls`` unless given; a ``max_completion_tokens``/``max_tokens`` below the reply's
  length cuts it with ``length``, as a model would. ``chunk_delay`` slows each chunk,
  ``disconnect_after`` drops the connection after that many chunks, ``usage`` picks where the
  usage goes (``final``: the ``include_usage`` chunk, ``inline``: on the finishing chunk,
  ``none``: nowhere); ``error_after`` sends an error event in place of the rest.
- ``Failure(status, ...)``: an OpenAI-style error body, with ``Retry-After`` if given.

``POST /v1/embeddings`` answers deterministic vectors (``embedding``): each word and each run of
four characters in it (its ends marked) is hashed into one of 256 dimensions (or
``embedding_dimensions``) with a hashed sign, the sum scaled to unit length; texts that share
words or spellings (``photosynthesis``, ``fotosynthesys``) are close, unrelated ones near
orthogonal.
``script_embeddings(Failure(...), ...)`` makes the next embeddings requests fail instead.
With ``embedding_context`` set, a request with a longer input (in tokens, counted as below) is
refused with a 400, as a real model refuses input beyond its context.

Every request is recorded (``requests``) with what was answered, so tests can check both sides
against the OpenAPI description. Counting: a completion token is one streamed text piece (a word
with its trailing space) plus a quarter of the tool-call argument characters; prompt tokens are
a quarter of the characters of the request's messages as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import math
import re
import signal
import struct
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from assistdb.server.scripted_model import read_script, reply_text
from assistdb.server.serving import bind_socket, serve_in_thread

Obj = dict[str, Any]
UsagePlacement = Literal["final", "inline", "none"]


@dataclass(frozen=True)
class Call:
    """One tool call of a scripted reply; ``id`` is generated when not given."""

    name: str
    arguments: str = "{}"
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """A scripted answer (see the module docstring)."""

    text: str = ""
    calls: tuple[Call, ...] = ()
    finish_reason: str | None = None
    usage: UsagePlacement = "final"
    chunk_delay: float = 0.0
    #: Seconds to wait before answering at all (the response starts after it).
    delay: float = 0.0
    disconnect_after: int | None = None
    #: After this many chunks send an ``{"error": ...}`` event instead of the rest (as OpenAI does).
    error_after: int | None = None
    error_message: str = "The server had an error while processing your request."
    #: Characters of tool-call arguments per delta.
    argument_piece: int = 8
    #: Leave the call IDs out of the stream (some OpenAI-compatible servers do).
    omit_call_ids: bool = False
    #: How streamed calls are numbered: ``openai`` (0, 1, ...), ``zero`` (every call 0, as
    #: Ollama does) or ``missing`` (no ``index``, which the spec requires).
    call_indexes: Literal["openai", "zero", "missing"] = "openai"


@dataclass(frozen=True)
class Failure:
    """An error answer: ``status`` with an OpenAI-style ``{"error": {...}}`` body."""

    status: int
    message: str = "The scripted upstream was told to fail."
    type: str = "invalid_request_error"
    code: str | None = None
    retry_after: str | None = None
    #: Repeat the request's ``Authorization`` header in the message (as careless servers do).
    echo_authorization: bool = False


Behaviour = Reply | Failure


@dataclass
class Exchange:
    """One request the double received and everything it answered."""

    body: Obj
    headers: dict[str, str]
    path: str = "/v1/chat/completions"
    query: dict[str, str] = field(default_factory=dict)
    status: int = 200
    #: The JSON answer, or each streamed chunk in order (``[DONE]`` not included).
    answers: list[Obj] = field(default_factory=list)
    streamed: bool = False
    #: The ``{"error": ...}`` event sent in place of the rest of a stream, if any.
    stream_error: Obj | None = None
    #: The client went away before the answer was complete; when (``time.monotonic()``).
    disconnected_at: float | None = None
    finished: bool = False


#: Dimensions of the double's embeddings unless told otherwise (``embedding_dimensions``).
EMBEDDING_DIMENSIONS = 256


def embedding(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """The double's vector of a text: hashed words and character 4-grams, unit length."""
    vector = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower()):
        marked = f"#{word}#"
        for feature in [word, *(marked[at : at + 4] for at in range(len(marked) - 3))]:
            digest = hashlib.blake2b(feature.encode(), digest_size=4).digest()
            slot = int.from_bytes(digest[:2], "little") % dimensions
            vector[slot] += 1.0 if digest[2] & 1 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector] if norm else vector


def pieces(text: str) -> list[str]:
    """A text as streamed pieces: each word with the whitespace after it."""
    return re.findall(r"\s*\S+\s*|\s+", text)


def _tokens(text: str) -> int:
    return (len(text) + 3) // 4


class ScriptedUpstream:
    """The double, running in a thread; a context manager, or ``start()`` / ``stop()``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str | None = None,
        latency: float = 0.0,
        embedding_dimensions: int = EMBEDDING_DIMENSIONS,
    ) -> None:
        self.host = host
        self._requested_port = port
        #: The model name answered (default: the name the request asked for).
        self.model = model
        #: Seconds every request waits before it is answered (like a remote model's queue).
        self.latency = latency
        #: Dimensions of the vectors ``/embeddings`` answers (1,536 measures a large model's cost).
        self.embedding_dimensions = embedding_dimensions
        #: Tokens an embeddings input may have (``None``: any number).
        self.embedding_context: int | None = None
        self.requests: list[Exchange] = []
        self._script: deque[Behaviour] = deque()
        self._embedding_script: deque[Failure] = deque()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # script ----------------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next requests, in order."""
        with self._lock:
            self._script.extend(behaviours)

    def script_embeddings(self, *failures: Failure) -> None:
        """Queue failures for the next ``/embeddings`` requests, in order (then they succeed)."""
        with self._lock:
            self._embedding_script.extend(failures)

    @property
    def pending(self) -> int:
        """Scripted behaviours not used yet."""
        with self._lock:
            return len(self._script)

    def _next(self, body: Obj) -> Behaviour:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return commanded(body)

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> ScriptedUpstream:
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._completions, methods=["POST"]),
                # Azure OpenAI's form: the deployment in the path, ``api-version`` in the query.
                Route(
                    "/openai/deployments/{deployment}/chat/completions", self._completions, methods=["POST"]
                ),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/openai/deployments/{deployment}/embeddings", self._embeddings, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(
            app,
            log_config=None,
            lifespan="off",
            loop="asyncio",
            http="h11",
            ws="none",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        sock = bind_socket(self.host, self._requested_port)
        self._port = int(sock.getsockname()[1])
        thread = serve_in_thread(server, sock, f"scripted-upstream-{self._port}", lambda: server.started)
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> ScriptedUpstream:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the scripted upstream has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        """The URL to give an OpenAI client (``.../v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    # answering -------------------------------------------------------------------------------

    async def _record(self, request: Request) -> tuple[Exchange, object]:
        """The request as an ``Exchange`` (recorded only once the whole request has arrived) and
        its decoded body (``None`` if it is not JSON)."""
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        exchange = Exchange(
            body=body if isinstance(body, dict) else {},
            headers={name.lower(): value for name, value in request.headers.items()},
            path=request.url.path,
            query=dict(request.query_params),
        )
        self.requests.append(exchange)
        return exchange, body

    async def _completions(self, request: Request) -> Response:
        exchange, body = await self._record(request)
        if not isinstance(body, dict):
            return _error(exchange, Failure(400, "We could not parse the JSON body of your request."))
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        behaviour = self._next(body)
        if isinstance(behaviour, Failure):
            return _error(exchange, behaviour)
        if behaviour.delay > 0:
            await asyncio.sleep(behaviour.delay)
        answer = _Answer(self, body, behaviour)
        if body.get("stream"):
            exchange.streamed = True
            return _StreamResponse(exchange, answer)
        exchange.answers.append(answer.completion())
        exchange.finished = True
        return JSONResponse(exchange.answers[0])

    async def _embeddings(self, request: Request) -> Response:
        exchange, body = await self._record(request)
        with self._lock:
            scripted = self._embedding_script.popleft() if self._embedding_script else None
        problem = _embedding_problem(body, self.embedding_dimensions, self.embedding_context)
        if problem is not None:
            return _error(exchange, Failure(400, problem))
        if scripted is not None:
            return _error(exchange, scripted)
        assert isinstance(body, dict)
        inputs = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(inputs):
            vector = embedding(text, self.embedding_dimensions)
            encoded: list[float] | str = (
                base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(_tokens(text) for text in inputs)
        answer = {
            "object": "list",
            "data": data,
            "model": self.model or body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        exchange.answers.append(answer)
        exchange.finished = True
        return JSONResponse(answer)


def _embedding_problem(body: object, dimensions: int, context: int | None) -> str | None:
    """Why an embeddings request is refused (as OpenAI would, 400), or ``None``."""
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    given = body.get("input")
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or not texts or not all(isinstance(text, str) and text for text in texts):
        return "'input' must be a non-empty string or a non-empty array of non-empty strings"
    if body.get("encoding_format", "float") not in ("float", "base64"):
        return "'encoding_format' must be 'float' or 'base64'"
    if body.get("dimensions") is not None:
        return f"'dimensions' is not supported: the scripted upstream's vectors have {dimensions}"
    longest = max(_tokens(text) for text in texts)
    if context is not None and longest > context:
        return (
            f"This model's maximum context length is {context} tokens, "
            f"however you requested {longest} tokens in one input."
        )
    return None


def commanded(body: Obj) -> Behaviour:
    """What the scripted model would answer to this request, as an upstream's behaviour.

    The round is the number of tool rounds after the last user message. ``/fail`` is a 500 with
    the message, ``/incomplete`` half the reply with ``length``, ``/sleep`` a wait before the
    first round; ``/expire`` means nothing to a model and is ignored.
    """
    messages = [message for message in body.get("messages") or [] if isinstance(message, dict)]
    users = [at for at, message in enumerate(messages) if message.get("role") == "user"]
    user_text = _text(messages[users[-1]]) if users else None
    since = messages[users[-1] + 1 :] if users else messages
    script = read_script(user_text)
    rounds = [list(calls) for calls in script.rounds]
    if body.get("tool_choice") == "none" or not body.get("tools"):
        rounds = []
    elif body.get("parallel_tool_calls") is False:
        rounds = [[call] for calls in rounds for call in calls]
    phase = sum(1 for message in since if message.get("role") == "assistant" and message.get("tool_calls"))
    if phase < len(rounds):
        calls = tuple(Call(call.name, call.arguments) for call in rounds[phase])
        return Reply(calls=calls, delay=script.sleep if phase == 0 else 0.0)
    if script.ending == "fail":
        return Failure(500, script.fail_message, type="server_error")
    names = {
        call["id"]: call["function"]["name"]
        for message in since
        for call in message.get("tool_calls") or []
        if isinstance(call, dict)
    }
    outputs = [
        (names.get(str(message.get("tool_call_id")), "?"), _text(message))
        for message in since
        if message.get("role") == "tool"
    ]
    text = reply_text(user_text, outputs)
    delay = script.sleep if not rounds else 0.0
    if script.ending == "incomplete":
        return Reply(text=text[: len(text) // 2], finish_reason="length", delay=delay)
    return Reply(text=text, delay=delay)


def _text(message: Obj) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and "text" in part
        )
    return ""


def _error(exchange: Exchange, failure: Failure) -> Response:
    message = failure.message
    if failure.echo_authorization:
        message = f"{message} (you sent: {exchange.headers.get('authorization', '')})"
    body = {"error": {"message": message, "type": failure.type, "param": None, "code": failure.code}}
    exchange.status = failure.status
    exchange.answers.append(body)
    exchange.finished = True
    headers = {"retry-after": failure.retry_after} if failure.retry_after is not None else None
    return JSONResponse(body, status_code=failure.status, headers=headers)


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _function(name: str, arguments: str) -> Obj:
    return {"name": name, "arguments": arguments}


def _choice(delta: Obj, finish_reason: str | None) -> Obj:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


class _Answer:
    """A reply worked out for one request: pieces, calls, finish reason and usage."""

    def __init__(self, upstream: ScriptedUpstream, body: Obj, reply: Reply) -> None:
        self.reply = reply
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = upstream.model or str(body.get("model", ""))
        self.calls = [Call(call.name, call.arguments, call.id or _call_id()) for call in reply.calls]
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        self.pieces = pieces(reply.text)
        cut = isinstance(limit, int) and len(self.pieces) > limit
        if isinstance(limit, int) and cut:
            self.pieces = self.pieces[:limit]
        self.finish_reason = reply.finish_reason or (
            "length" if cut else "tool_calls" if self.calls else "stop"
        )
        self.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        completion = len(self.pieces) + sum(_tokens(call.arguments) for call in self.calls)
        prompt = _tokens(json.dumps(body.get("messages", []), separators=(",", ":")))
        self.usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def completion(self) -> Obj:
        message: Obj = {"role": "assistant", "content": "".join(self.pieces) or None, "refusal": None}
        if self.calls:
            message["tool_calls"] = [
                {"id": call.id, "type": "function", "function": _function(call.name, call.arguments)}
                for call in self.calls
            ]
        answer: Obj = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}
            ],
        }
        if self.reply.usage != "none":
            answer["usage"] = self.usage
        return answer

    def chunks(self) -> list[Obj]:
        deltas: list[Obj] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": piece} for piece in self.pieces]
        size = max(1, self.reply.argument_piece)
        for index, call in enumerate(self.calls):
            number = {"openai": {"index": index}, "zero": {"index": 0}, "missing": {}}[
                self.reply.call_indexes
            ]
            first: Obj = {**number, "type": "function", "function": _function(call.name, "")}
            if not self.reply.omit_call_ids:
                first["id"] = call.id
            deltas.append({"tool_calls": [first]})
            for at in range(0, len(call.arguments), size):
                piece = call.arguments[at : at + size]
                deltas.append({"tool_calls": [{**number, "function": {"arguments": piece}}]})
        chunks = [self._chunk([_choice(delta, None)]) for delta in deltas]
        finishing = self._chunk([_choice({}, self.finish_reason)])
        if self.reply.usage == "inline":
            finishing["usage"] = self.usage
        chunks.append(finishing)
        if self.reply.usage == "final" and self.include_usage:
            chunks.append(self._chunk([], usage=self.usage))
        return chunks

    def _chunk(self, choices: list[Obj], usage: Obj | None = None) -> Obj:
        chunk: Obj = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = usage
        return chunk


class _StreamResponse(Response):
    """Server-sent chunks, paced and possibly cut off; notes when the client goes away."""

    def __init__(self, exchange: Exchange, answer: _Answer) -> None:
        super().__init__(media_type="text/event-stream")
        self.exchange = exchange
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                continue
            if not self.exchange.finished:
                self.exchange.disconnected_at = time.monotonic()
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            await self._send(send, gone)
        finally:
            watcher.cancel()

    async def _send(self, send: Send, gone: asyncio.Event) -> None:
        reply = self.answer.reply
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )
        for sent, chunk in enumerate(self.answer.chunks()):
            if reply.disconnect_after is not None and sent >= reply.disconnect_after:
                return  # uvicorn closes a connection whose response was left unfinished
            if reply.error_after is not None and sent >= reply.error_after:
                error = {
                    "error": {
                        "message": reply.error_message,
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                }
                self.exchange.stream_error = error
                self.exchange.finished = True
                data = f"data: {json.dumps(error)}\n\n".encode()
                await send({"type": "http.response.body", "body": data, "more_body": False})
                return
            if reply.chunk_delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), reply.chunk_delay)
            if gone.is_set():
                return
            self.exchange.answers.append(chunk)
            data = f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()
            await send({"type": "http.response.body", "body": data, "more_body": True})
        self.exchange.finished = True
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


def main(argv: list[str] | None = None) -> int:
    """Serve the double on its own (it then follows the commands in user messages) until stopped."""
    parser = argparse.ArgumentParser(
        prog="python -m assistdb.server.backends.scripted_upstream",
        description="A scripted Chat Completions server for tests and benchmarks (see docs/server.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: 0, a free one)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        double = ScriptedUpstream(host=args.host, port=args.port, latency=args.latency).start()
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"scripted upstream listening on {double.base_url}", flush=True)
    stop.wait()
    double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
