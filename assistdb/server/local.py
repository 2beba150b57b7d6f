"""``LocalServer``: the Assistants server in a background thread, for tests and benchmarks."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import openai

from assistdb.server.app import AssistantsApp, ResponseHook
from assistdb.server.backends.chat_completions import UpstreamSettings
from assistdb.server.config import ServerConfig
from assistdb.server.errors import HttpError
from assistdb.server.serving import ServingServer, bind_socket, serve_in_thread

T = TypeVar("T")

#: The key clients send when the server was started without one (any key is accepted then).
DUMMY_API_KEY = "sk-assistdb-local"


class LocalServer:
    """An in-process Assistants v2 server on a free port; use as a context manager or start/stop."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        run_latency: float = 0.5,
        poll_after_ms: int = 1000,
        run_expiry: float = 600.0,
        fault_rate: float = 0.0,
        rate_limit_share: float = 1 / 3,
        latency: float = 0.0,
        spike_rate: float = 0.0,
        spike: float = 1.0,
        seed: int | None = None,
        database_url: str | None = None,
        lease_seconds: float = 10.0,
        sweep_interval: float = 1.0,
        max_runs: int | None = None,
        upstream: UpstreamSettings | None = None,
        on_response: ResponseHook | None = None,
    ) -> None:
        self.config = ServerConfig(
            host=host,
            port=port,
            api_key=api_key,
            run_latency=run_latency,
            poll_after_ms=poll_after_ms,
            run_expiry=run_expiry,
            fault_rate=fault_rate,
            rate_limit_share=rate_limit_share,
            latency=latency,
            spike_rate=spike_rate,
            spike=spike,
            seed=seed,
            database_url=database_url,
            lease_seconds=lease_seconds,
            sweep_interval=sweep_interval,
            max_runs=max_runs,
            upstream=upstream,
        )
        self._on_response = on_response
        self._app: AssistantsApp | None = None
        self._server: ServingServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # lifecycle --------------------------------------------------------------------------------

    def start(self) -> LocalServer:
        """Start serving and return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("LocalServer is already running")
        app = AssistantsApp(self.config, on_response=self._on_response)
        sock = bind_socket(self.config.host, self.config.port)
        self._port = int(sock.getsockname()[1])
        started = threading.Event()
        server = ServingServer(app, on_started=started.set)
        try:
            thread = serve_in_thread(server, sock, f"assistdb-server-{self._port}", started.is_set)
        except RuntimeError:
            app.close()
            raise
        self._app, self._server, self._thread = app, server, thread
        return self

    def stop(self) -> None:
        """Stop serving, end open streams, and wait for the server thread to finish."""
        server, thread, app = self._server, self._thread, self._app
        self._server = self._thread = None
        if server is not None:
            server.request_stop()
        if thread is not None:
            thread.join(timeout=10)
        if app is not None:
            app.close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # addresses and clients --------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalServer has not been started")
        return self._port

    @property
    def url(self) -> str:
        host = self.config.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def api_key(self) -> str:
        return self.config.api_key or DUMMY_API_KEY

    def client(self, **kwargs: Any) -> openai.OpenAI:
        """An ``openai.OpenAI`` client pointed at this server (kwargs are passed through).

        The server speaks plain HTTP, so the default HTTP client skips loading CA certificates,
        which otherwise costs tens of milliseconds per client.
        """
        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("http_client", openai.DefaultHttpxClient(verify=False))
        return openai.OpenAI(base_url=self.base_url, **kwargs)

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` client pointed at this server (kwargs are passed through)."""
        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("http_client", openai.DefaultAsyncHttpxClient(verify=False))
        return openai.AsyncOpenAI(base_url=self.base_url, **kwargs)

    # runtime controls -------------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change fault, latency and run pacing settings while running (see ``RUNTIME_SETTINGS``)."""
        self.config.update(**changes)

    @property
    def on_response(self) -> ResponseHook | None:
        return self._on_response

    @on_response.setter
    def on_response(self, hook: ResponseHook | None) -> None:
        self._on_response = hook
        if self._app is not None:
            self._app.on_response = hook

    def stats(self) -> dict[str, Any]:
        """``{"total": N, "faults": F, "by_route": {"GET /v1/threads/{thread_id}": n, ...}}``."""
        return self._running_app().stats.snapshot()

    def reset_stats(self) -> None:
        self._running_app().stats.reset()

    def seed_thread(
        self,
        messages: int,
        runs: int = 0,
        metadata: dict[str, str] | None = None,
        assistant_id: str | None = None,
    ) -> str:
        """Create a realistic thread directly in the server's state; return its ID."""
        app = self._running_app()
        try:
            return self._on_loop(lambda: app.seed(messages, runs, metadata, assistant_id))
        except HttpError as exc:
            raise ValueError(exc.message) from None

    def _running_app(self) -> AssistantsApp:
        if self._app is None or self._thread is None:
            raise RuntimeError("LocalServer is not running")
        return self._app

    def _on_loop(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the server's event loop thread, where the state lives."""
        server = self._server
        loop = server.loop if server is not None else None
        if loop is None:
            raise RuntimeError("LocalServer is not running")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                future.set_result(work())
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(call)
        return future.result(timeout=300)
