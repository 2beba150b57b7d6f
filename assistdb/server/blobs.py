"""File content in the server's database, stored once per SHA-256 digest and moved a piece at a time.

A file arrives spooled to a temporary file (the multipart parser keeps at most 1 MiB in memory),
is hashed, and is copied into ``server_blob_pieces`` in 1 MiB pieces unless the same content is
already there; downloads read it back piece by piece. Memory stays flat whatever the file's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable
from typing import IO

from sqlalchemy import Connection, delete, exists, func, insert, select

from assistdb.server import file_tables
from assistdb.server.state import ServerState

PIECE = file_tables.PIECE_BYTES


def digest_of(source: IO[bytes]) -> tuple[str, int]:
    """The SHA-256 and size of a seekable file, read from its start in pieces."""
    source.seek(0)
    sha, size = hashlib.sha256(), 0
    while piece := source.read(PIECE):
        sha.update(piece)
        size += len(piece)
    return sha.hexdigest(), size


def has_blob(connection: Connection, sha256: str) -> bool:
    table = file_tables.blobs
    return connection.execute(select(table.c.sha256).where(table.c.sha256 == sha256)).first() is not None


def put_pieces(connection: Connection, sha256: str, size: int, pieces: Iterable[bytes]) -> None:
    """Store content under its digest (the caller computed it); nothing if it is there already."""
    if has_blob(connection, sha256):
        return
    connection.execute(insert(file_tables.blobs).values(sha256=sha256, bytes=size))
    for n, piece in enumerate(pieces):
        connection.execute(insert(file_tables.blob_pieces).values(sha256=sha256, n=n, data=piece))


def put_file(connection: Connection, source: IO[bytes]) -> tuple[str, int]:
    """Store a spooled file's content; return its digest and size."""
    sha256, size = digest_of(source)
    source.seek(0)
    put_pieces(connection, sha256, size, iter(lambda: source.read(PIECE), b""))
    return sha256, size


def pieces_of(connection: Connection, sha256: str) -> Iterable[bytes]:
    """The content's pieces in order, each read by its own query (one piece in memory at a time)."""
    table = file_tables.blob_pieces
    count = connection.execute(select(func.count()).where(table.c.sha256 == sha256)).scalar_one()
    for n in range(int(count)):
        yield connection.execute(
            select(table.c.data).where(table.c.sha256 == sha256, table.c.n == n)
        ).scalar_one()


def read_all(connection: Connection, sha256: str) -> bytes:
    """The whole content (for text extraction, which needs it whole)."""
    return b"".join(pieces_of(connection, sha256))


async def stream(store: ServerState, sha256: str) -> AsyncIterator[bytes]:
    """The content for a response body, one piece per short read transaction."""
    table = file_tables.blob_pieces
    n = 0
    while True:
        with store.reading() as tx:
            piece = tx.connection.execute(
                select(table.c.data).where(table.c.sha256 == sha256, table.c.n == n)
            ).scalar()
        if piece is None:
            return
        yield bytes(piece)
        n += 1


def release(connection: Connection, sha256: str) -> None:
    """Delete content no live file or upload part refers to any more."""
    files, parts = file_tables.files, file_tables.upload_parts
    used = connection.execute(
        select(
            exists().where(files.c.sha256 == sha256, files.c.deleted == False)  # noqa: E712
            | exists().where(parts.c.sha256 == sha256)
        )
    ).scalar()
    if used:
        return
    connection.execute(delete(file_tables.blob_pieces).where(file_tables.blob_pieces.c.sha256 == sha256))
    connection.execute(delete(file_tables.blobs).where(file_tables.blobs.c.sha256 == sha256))
