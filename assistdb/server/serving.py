"""Running the app under uvicorn, shared by ``LocalServer`` (a thread) and ``assistdb serve``.

The stock ``uvicorn.Server`` polls for shutdown every tenth of a second and, in the main thread,
re-raises SIGTERM/SIGINT after shutting down (so the process dies by the signal). This subclass
stops as soon as it is asked to and exits normally after a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Generator
from types import FrameType

import uvicorn

from assistdb.server.app import AssistantsApp


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind (but do not yet listen on) a TCP socket; port 0 picks a free port.

    The protocol is given explicitly: asyncio disables Nagle's algorithm only on sockets whose
    ``proto`` is TCP, and without that every response waits ~40 ms for a delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve_in_thread(
    server: uvicorn.Server, sock: socket.socket, name: str, ready: Callable[[], bool], timeout: float = 15.0
) -> threading.Thread:
    """Serve on ``sock`` in a daemon thread and return it once ``ready()`` holds (in-process
    servers: ``LocalServer`` and the scripted upstream). Raises ``RuntimeError``, with the
    thread stopped and the socket closed, if the server dies or is not ready in ``timeout`` s."""
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not ready():
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.005)
    return thread


def uvicorn_config(app: AssistantsApp) -> uvicorn.Config:
    """uvicorn settings; ``log_config=None`` leaves the process's logging setup alone."""
    return uvicorn.Config(
        app,
        log_config=None,
        lifespan="on",
        loop="asyncio",
        http="h11",
        ws="none",
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )


class ServingServer(uvicorn.Server):
    """A uvicorn server that stops promptly on ``request_stop()`` or SIGTERM/SIGINT."""

    def __init__(self, app: AssistantsApp, on_started: Callable[[], None] | None = None) -> None:
        super().__init__(uvicorn_config(app))
        self.app = app
        self.on_started = on_started
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self.on_started is not None:
            self.on_started()
        while not self.should_exit:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=0.5)

    def request_stop(self) -> None:
        """Ask the server to shut down; safe to call from any thread."""
        self.should_exit = True
        loop, stop = self.loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's graceful shutdown, polling every few milliseconds instead of sleeping 0.1 s."""
        self.app.stop_streams()
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.config.timeout_graceful_shutdown or 0)
        state = self.server_state
        while (state.connections or state.tasks) and not self.force_exit and loop.time() < deadline:
            await asyncio.sleep(0.005)
        for task in state.tasks:
            task.cancel()
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(signum: int, frame: FrameType | None) -> None:
            if self.should_exit:
                self.force_exit = True
            self.request_stop()

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
