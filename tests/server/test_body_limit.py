"""The 32 MiB request body limit holds however a body arrives, against ``assistdb serve`` as a real
process over raw sockets: a declared length over the limit is refused before a byte is read, and
a chunked body is counted while it streams in, so a client cannot make the server buffer more."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.server.test_cli import Served

LIMIT = 32 * 1024 * 1024
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    process = Served()
    try:
        yield process
    finally:
        process.end()


def _connect(served: Served) -> socket.socket:
    parts = urlsplit(served.base_url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=30)
    return connection


def _request_head(served: Served, framing: str) -> bytes:
    host = urlsplit(served.base_url).netloc
    return (
        f"POST /v1/threads HTTP/1.1\r\nHost: {host}\r\nOpenAI-Beta: assistants=v2\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    ).encode()


def _status_and_body(connection: socket.socket) -> tuple[int, bytes]:
    """The status and body of one response (which has a ``Content-Length``)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {received!r}")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(headers["content-length"]):
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split(" ", 2)[1]), body


def _peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_chunked_body_past_the_limit_is_refused_while_it_streams(served: Served) -> None:
    peak_before = _peak_rss_bytes(served.process.pid)
    connection = _connect(served)
    connection.sendall(_request_head(served, "Transfer-Encoding: chunked"))
    sent = 0
    chunk = f"{MIB:x}\r\n".encode() + b"x" * MIB + b"\r\n"

    def send_eight_times_the_limit() -> None:
        nonlocal sent
        try:
            while sent < 8 * LIMIT:
                connection.sendall(chunk)
                sent += MIB
            connection.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed the connection: the rest is never read
            pass

    sender = threading.Thread(target=send_eight_times_the_limit)
    sender.start()
    try:
        status, body = _status_and_body(connection)
    finally:
        sender.join(timeout=60)
        connection.close()

    assert status == 413 and b"Request body too large" in body
    assert sent < 2 * LIMIT, f"the server read {sent // MIB} MiB before refusing"
    growth = _peak_rss_bytes(served.process.pid) - peak_before
    assert growth < 4 * LIMIT, f"the server grew by {growth // MIB} MiB"


def test_a_declared_length_past_the_limit_is_refused_before_the_body_is_sent(served: Served) -> None:
    with _connect(served) as connection:
        connection.settimeout(10)
        connection.sendall(_request_head(served, f"Content-Length: {LIMIT + 1}"))
        status, body = _status_and_body(connection)  # no body sent at all: it must not wait for one

    assert status == 413 and b"at most 33554432 bytes" in body


def test_a_chunked_body_within_the_limit_is_read_whole(served: Served) -> None:
    payload = b'{"metadata": {"framing": "chunked"}}'
    pieces = [payload[:10], payload[10:]]
    encoded = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"
    with _connect(served) as connection:
        connection.sendall(_request_head(served, "Transfer-Encoding: chunked") + encoded)
        status, body = _status_and_body(connection)

    assert status == 200 and b'"framing":"chunked"' in body
