"""A hostile API for tests: a real HTTP proxy in front of the local server that rewrites the JSON
it answers, to send clients what no faithful server would (unstorable IDs, odd text)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

#: ``rewrite(method, path, body)`` returns the body to send instead (or ``body`` itself).
Rewrite = Callable[[str, str, Any], Any]
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "content-encoding"}


@contextmanager
def hostile_api(upstream_base_url: str, rewrite: Rewrite) -> Iterator[str]:
    """Serve a proxy of ``upstream_base_url`` (``http://host:port/v1``); yield its own base URL."""
    upstream = upstream_base_url.removesuffix("/v1")
    client = httpx.Client(base_url=upstream, timeout=30)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | {"host"}}
            answer = client.request(self.command, self.path, content=body, headers=headers)
            content = answer.content
            if answer.headers.get("content-type", "").startswith("application/json"):
                rewritten = rewrite(self.command, self.path.partition("?")[0], answer.json())
                content = json.dumps(rewritten).encode()
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_DELETE = _forward

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        client.close()
