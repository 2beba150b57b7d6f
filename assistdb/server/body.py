"""Reading a request body without letting a client decide how much memory the server spends.

A body arrives with a ``Content-Length`` (refused at once when it is over the limit, before a
byte is read) or chunked (``Transfer-Encoding: chunked``, with no length known in advance: the
bytes are counted as they stream in, and reading stops at the first chunk past the limit). The
rest of an over-long body is never read: the server answers 413 and closes the connection, where
keeping it open would make the server receive (and discard) whatever the client still sends.
"""

from __future__ import annotations

from starlette.requests import Request

from assistdb.server.errors import HttpError


def too_large(limit: int) -> HttpError:
    """A 413 that also closes the connection: the unread rest of the body is never received."""
    return HttpError(
        413,
        f"Request body too large: at most {limit} bytes are accepted.",
        code="request_too_large",
        headers={"connection": "close"},
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or a 413 :class:`HttpError` as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
