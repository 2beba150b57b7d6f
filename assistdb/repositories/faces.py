"""One I/O protocol, two interpreters: how every repository method and the run engine are
written once and served both blocking (:class:`AssistDB`) and under asyncio (:class:`AsyncAssistDB`).

An operation is a generator that yields *requests* (call the API, do store work, sleep, await
tool coroutines, read an event stream) and gets each result sent back, or the request's
exception thrown in. :class:`BlockingIO` performs requests with an ``OpenAI`` client;
:class:`AsyncIO` with an ``AsyncOpenAI`` client, running store work in a worker thread so the
event loop never blocks. The descriptors :func:`blocking`, :func:`awaitable`, :func:`paged` and
:func:`async_paged` turn an operation into a face's method with the operation's own signature.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, TypeAlias, TypeVar

from assistdb.repositories import api

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M")


@dataclass(frozen=True)
class Api:
    """Call the SDK method ``pick(client)`` (``raw``: through ``.with_raw_response``)."""

    pick: Callable[[Any], Callable[..., Any]]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    raw: bool = False


@dataclass(frozen=True)
class StoreWork:
    """Blocking work on the archive (the asyncio face runs it in a worker thread)."""

    work: Callable[[], Any]


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Gather:
    """Run a coroutine (answering tool calls) to its end."""

    make: Callable[[], Coroutine[Any, Any, Any]]


@dataclass(frozen=True)
class OpenStream:
    """Open the SDK stream manager ``pick(client)``; the result is an :class:`EventStream`."""

    pick: Callable[[Any], Any]


@dataclass(frozen=True)
class NextEvent:
    """The stream's next event, or :data:`END`."""

    stream: EventStream


@dataclass(frozen=True)
class CloseStream:
    stream: EventStream


@dataclass(frozen=True)
class Download:
    """Stream a binary response (``pick(client)(*args)``, a ``with_streaming_response`` method)
    into ``sink`` piece by piece; the result is the number of bytes."""

    pick: Callable[[Any], Callable[..., Any]]
    args: tuple[Any, ...]
    sink: Callable[[bytes], Any]


@dataclass(frozen=True)
class Emit:
    """Items a paged operation hands to its caller."""

    items: list[Any]


@dataclass
class EventStream:
    manager: Any
    events: Any


END = object()  # what NextEvent gives when the stream has no more events

Request: TypeAlias = Api | StoreWork | Pause | Gather | OpenStream | NextEvent | CloseStream | Download
Op: TypeAlias = Generator[Request, Any, T]
Paged: TypeAlias = Generator[Request | Emit, Any, None]


class BlockingIO:
    """Performs requests with a blocking client; ``sleep`` can be replaced in tests."""

    def __init__(self, client: Callable[[], Any], *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._sleep = sleep

    def run(self, op: Op[T]) -> T:
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                request = op.throw(error) if error is not None else op.send(result)
            except StopIteration as done:
                value: T = done.value
                return value
            result, error = None, None
            try:
                result = self._perform(request)
            except BaseException as exc:  # thrown into the operation, which decides
                error = exc

    def iterate(self, op: Paged) -> Iterator[Any]:
        result: Any = None
        while True:
            try:
                request = op.send(result)
            except StopIteration:
                return
            result = None
            if isinstance(request, Emit):
                yield from request.items
            else:
                result = self._perform(request)

    def _perform(self, request: Request) -> Any:
        if isinstance(request, Api):
            method = request.pick(self._client())
            return (api.call_raw if request.raw else api.call)(method, *request.args, **request.kwargs)
        if isinstance(request, StoreWork):
            return request.work()
        if isinstance(request, Pause):
            self._sleep(request.seconds)
            return None
        if isinstance(request, Gather):
            from assistdb.runner.tools.answering import run_sync

            return run_sync(request.make())
        if isinstance(request, OpenStream):
            manager = request.pick(self._client())
            with api.translate_api_errors():
                return EventStream(manager, iter(manager.__enter__()))
        if isinstance(request, NextEvent):
            return next(request.stream.events, END)
        if isinstance(request, CloseStream):
            request.stream.manager.__exit__(None, None, None)
            return None
        if isinstance(request, Download):
            size = 0
            with api.translate_api_errors(), request.pick(self._client())(*request.args) as response:
                for piece in response.iter_bytes():
                    request.sink(piece)
                    size += len(piece)
            return size
        raise TypeError(f"unknown request {request!r}")


class AsyncIO:
    """Performs requests with an ``AsyncOpenAI`` client, off the event loop where they block."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = client

    async def run(self, op: Op[T]) -> T:
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                request = op.throw(error) if error is not None else op.send(result)
            except StopIteration as done:
                value: T = done.value
                return value
            result, error = None, None
            try:
                result = await self._perform(request)
            except BaseException as exc:  # CancelledError too: the run engine cancels the run
                error = exc

    async def iterate(self, op: Paged) -> AsyncIterator[Any]:
        result: Any = None
        while True:
            try:
                request = op.send(result)
            except StopIteration:
                return
            result = None
            if isinstance(request, Emit):
                for item in request.items:
                    yield item
            else:
                result = await self._perform(request)

    async def _perform(self, request: Request) -> Any:
        if isinstance(request, Api):
            method = request.pick(self._client())
            if request.raw:
                method = api.raw_method(method)
            return await api.acall(method, *request.args, **request.kwargs)
        if isinstance(request, StoreWork):
            return await asyncio.to_thread(request.work)
        if isinstance(request, Pause):
            await asyncio.sleep(request.seconds)
            return None
        if isinstance(request, Gather):
            return await request.make()
        if isinstance(request, OpenStream):
            manager = request.pick(self._client())
            with api.translate_api_errors():
                return EventStream(manager, (await manager.__aenter__()).__aiter__())
        if isinstance(request, NextEvent):
            try:
                return await request.stream.events.__anext__()
            except StopAsyncIteration:
                return END
        if isinstance(request, CloseStream):
            await request.stream.manager.__aexit__(None, None, None)
            return None
        if isinstance(request, Download):
            size = 0
            with api.translate_api_errors():
                async with request.pick(self._client())(*request.args) as response:
                    async for piece in response.iter_bytes():
                        request.sink(piece)  # a local spool or file: no network, no archive
                        size += len(piece)
            return size
        raise TypeError(f"unknown request {request!r}")


class Face:
    """A repository as one face shows it: the operations (``_ops``) and the interpreter (``_io``)."""

    def __init__(self, ops: Any, io: Any) -> None:
        self._ops = ops
        self._io = io


class blocking(Generic[P, T]):
    """``name = blocking(Ops.name)``: the operation as a blocking method."""

    def __init__(self, op: Callable[Concatenate[Any, P], Op[T]]) -> None:
        self._op = op

    def __get__(self, face: Face, owner: Any = None) -> Callable[P, T]:
        op, ops, io = self._op, face._ops, face._io

        @functools.wraps(op)
        def method(*args: P.args, **kwargs: P.kwargs) -> T:
            result: T = io.run(op(ops, *args, **kwargs))
            return result

        return method


class awaitable(Generic[P, T]):
    """``name = awaitable(Ops.name)``: the operation as a coroutine method."""

    def __init__(self, op: Callable[Concatenate[Any, P], Op[T]]) -> None:
        self._op = op

    def __get__(self, face: Face, owner: Any = None) -> Callable[P, Coroutine[Any, Any, T]]:
        op, ops, io = self._op, face._ops, face._io

        @functools.wraps(op)
        async def method(*args: P.args, **kwargs: P.kwargs) -> T:
            result: T = await io.run(op(ops, *args, **kwargs))
            return result

        return method


class paged(Generic[P, M]):
    """``list = paged(Ops.list, Model)``: a paged operation as a lazy iterator."""

    def __init__(self, op: Callable[Concatenate[Any, P], Paged], model: type[M]) -> None:
        self._op = op

    def __get__(self, face: Face, owner: Any = None) -> Callable[P, Iterator[M]]:
        op, ops, io = self._op, face._ops, face._io

        @functools.wraps(op)
        def method(*args: P.args, **kwargs: P.kwargs) -> Iterator[M]:
            items: Iterator[M] = io.iterate(op(ops, *args, **kwargs))
            return items

        return method


class async_paged(Generic[P, M]):
    """``list = async_paged(Ops.list, Model)``: a paged operation as an async iterator."""

    def __init__(self, op: Callable[Concatenate[Any, P], Paged], model: type[M]) -> None:
        self._op = op

    def __get__(self, face: Face, owner: Any = None) -> Callable[P, AsyncIterator[M]]:
        op, ops, io = self._op, face._ops, face._io

        @functools.wraps(op)
        def method(*args: P.args, **kwargs: P.kwargs) -> AsyncIterator[M]:
            items: AsyncIterator[M] = io.iterate(op(ops, *args, **kwargs))
            return items

        return method
