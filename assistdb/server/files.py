"""Files and Uploads: multipart upload, list, retrieve, download, delete; uploads in parts.

A file's bytes stream from the request into a temporary file (starlette's multipart parser keeps
1 MiB in memory at most), are counted as they arrive (a request past the size limit is cut off
and refused), and are stored once per SHA-256 digest (``blobs``). Downloads stream them back a
piece at a time. Unlike the real API, files of purpose ``assistants`` can be downloaded.
Deleting a file removes it from every vector store that holds it (as the spec says).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import IO, Any

from sqlalchemy import select, update
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

from assistdb.server import blobs, file_tables
from assistdb.server.errors import HttpError, invalid, not_found
from assistdb.server.objects import Obj
from assistdb.server.operations import Api, Call, Reply, StreamReply
from assistdb.server.pagination import list_object
from assistdb.server.state import Tx, decode, encode
from assistdb.server.validation import page_request, parse_body
from assistdb.server.vector_store_models import CompleteUpload, CreateUpload

#: The real API's limit for one file (512 MB); tests lower it to try the refusal.
MAX_FILE_BYTES = 512 * 1024 * 1024
#: What an Upload may hold in total (8 GB), as the real API said.
MAX_UPLOAD_BYTES = 8 * 1024**3
#: What one part of an Upload may hold (64 MB), as the real API said.
MAX_PART_BYTES = 64 * 1024 * 1024
#: Room for the multipart envelope (boundaries, headers, the other fields) around the file.
ENVELOPE_BYTES = 64 * 1024
FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
UPLOAD_SECONDS = 3600


# objects ----------------------------------------------------------------------------------------


def file_object(
    file_id: str, size: int, created_at: int, filename: str, purpose: str, expires_at: int | None
) -> Obj:
    obj: Obj = {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": created_at,
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
    }
    if expires_at is not None:
        obj["expires_at"] = expires_at
    return obj


def find_file(tx: Tx, file_id: str, now: float) -> tuple[Obj, str]:
    """A live file and its content digest, or the API's 404 (an expired file is gone)."""
    table = file_tables.files
    row = tx.connection.execute(
        select(table.c.body, table.c.sha256).where(table.c.id == file_id, table.c.deleted == False)  # noqa: E712
    ).first()
    if row is None:
        raise not_found("file", file_id)
    obj: Obj = decode(row.body)
    expires_at = obj.get("expires_at")
    if expires_at is not None and now >= expires_at:
        raise not_found("file", file_id)
    return obj, str(row.sha256)


def _insert_file(tx: Tx, obj: Obj, sha256: str) -> None:
    tx.connection.execute(
        file_tables.files.insert().values(
            id=obj["id"], purpose=obj["purpose"], sha256=sha256, body=encode(obj)
        )
    )


# multipart -------------------------------------------------------------------------------------


def _limited(request: Request, limit: int) -> Request:
    """The request with a body that is refused (and the connection closed) past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + ENVELOPE_BYTES:
        raise _too_large(int(declared), limit)
    receive = request.receive
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit + ENVELOPE_BYTES:
            raise _too_large(seen, limit)
        return message

    return Request(request.scope, counting)


def _too_large(size: int, limit: int) -> HttpError:
    return HttpError(
        400,
        f"File is too large: more than {limit} bytes ({limit // (1024 * 1024)} MB), "
        "the most one file may hold. Split it, or send it through the Uploads API in parts.",
        param="file",
        code="file_too_large",
        headers={"connection": "close"},
    )


async def _form(request: Request | None, limit: int, file_field: str) -> tuple[dict[str, str], UploadFile]:
    """Parse a multipart body: the text fields, and the one file under ``file_field``."""
    if request is None:
        raise invalid("This operation takes a multipart/form-data body.")
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise invalid(
            "Expected a multipart/form-data body (Content-Type: multipart/form-data).",
            code="invalid_content_type",
        )
    try:
        form = await _limited(request, limit).form(max_files=1, max_fields=16)
    except HttpError:
        raise
    except Exception as exc:  # the parser's errors (malformed body, too many parts)
        raise invalid(f"Could not parse the multipart body: {exc}") from None
    fields: dict[str, str] = {}
    upload: UploadFile | None = None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name != file_field:
                await form.close()
                raise invalid(f"Unexpected file field '{name}'; send the file as '{file_field}'.", param=name)
            upload = value
        else:
            fields[name] = value
    if upload is None:
        await form.close()
        raise invalid(
            f"Missing required parameter: '{file_field}'.",
            param=file_field,
            code="missing_required_parameter",
        )
    return fields, upload


def _spooled(upload: UploadFile) -> IO[bytes]:
    return upload.file


def _file_expiry(fields: dict[str, str], created_at: int) -> int | None:
    anchor = fields.pop("expires_after[anchor]", None)
    seconds = fields.pop("expires_after[seconds]", None)
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise invalid(
            f"Invalid value: '{anchor}'. Supported values are: 'created_at'.",
            param="expires_after.anchor",
            code="invalid_value",
        )
    if seconds is None or not seconds.isdigit() or not 3600 <= int(seconds) <= 2592000:
        raise invalid(
            "Invalid 'expires_after.seconds': expected an integer between 3600 and 2592000.",
            param="expires_after.seconds",
            code="invalid_value",
        )
    return created_at + int(seconds)


def _purpose(fields: dict[str, str], allowed: tuple[str, ...]) -> str:
    purpose = fields.pop("purpose", None)
    if purpose is None:
        raise invalid(
            "Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter"
        )
    if purpose not in allowed:
        listed = ", ".join(f"'{item}'" for item in allowed)
        raise invalid(
            f"Invalid value: '{purpose}'. Supported values are: {listed}.",
            param="purpose",
            code="invalid_value",
        )
    return purpose


# files -------------------------------------------------------------------------------------------


def list_files(api: Api, call: Call) -> Reply:
    page = page_request(call.query, max_limit=10000, default_limit=10000)
    table = file_tables.files
    purpose = call.query.get("purpose", [""])[-1]
    scope: list[Any] = [table.c.purpose == purpose] if purpose else []
    with api.store.reading() as tx:
        data, more = tx.page(table, scope, [], page)
    now = api.clock()
    data = [obj for obj in data if obj.get("expires_at") is None or now < obj["expires_at"]]
    return Reply(list_object(data, more))


async def create_file(api: Api, call: Call) -> Reply:
    fields, upload = await _form(call.request, MAX_FILE_BYTES, "file")
    try:
        purpose = _purpose(fields, FILE_PURPOSES)
        created_at = int(api.clock())
        expires_at = _file_expiry(fields, created_at)
        if fields:
            name = sorted(fields)[0]
            raise invalid(
                f"Unrecognized request argument supplied: {name}", param=name, code="unknown_parameter"
            )
        source = _spooled(upload)
        sha256, size = blobs.digest_of(source)
        if size == 0:
            raise invalid("File is empty: upload a file with content.", param="file", code="empty_file")
        if size > MAX_FILE_BYTES:
            raise _too_large(size, MAX_FILE_BYTES)
        filename = (upload.filename or "upload").rsplit("/", 1)[-1] or "upload"
        with api.store.writing() as tx:
            source.seek(0)
            blobs.put_pieces(tx.connection, sha256, size, iter(lambda: source.read(blobs.PIECE), b""))
            obj = file_object(tx.new_id("file-"), size, created_at, filename, purpose, expires_at)
            _insert_file(tx, obj, sha256)
    finally:
        await upload.close()
    return Reply(obj)


def get_file(api: Api, call: Call) -> Reply:
    with api.store.reading() as tx:
        obj, _ = find_file(tx, call.params["file_id"], api.clock())
    return Reply(obj)


def download_file(api: Api, call: Call) -> StreamReply:
    with api.store.reading() as tx:
        obj, sha256 = find_file(tx, call.params["file_id"], api.clock())
    return StreamReply(
        blobs.stream(api.store, sha256),
        media_type="application/octet-stream",
        headers={
            "content-length": str(obj["bytes"]),
            "content-disposition": f"attachment; filename*=UTF-8''{_quote(obj['filename'])}",
        },
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


#: Set by ``vector_stores`` (which imports this module): remove a deleted file from every store.
on_file_deleted: list[Callable[[Tx, str, float], None]] = []


def delete_file(api: Api, call: Call) -> Reply:
    now = api.clock()
    with api.store.writing() as tx:
        obj, sha256 = find_file(tx, call.params["file_id"], now)
        table = file_tables.files
        tx.connection.execute(update(table).where(table.c.id == obj["id"]).values(deleted=True))
        for hook in on_file_deleted:
            hook(tx, obj["id"], now)
        blobs.release(tx.connection, sha256)
    return Reply({"id": obj["id"], "object": "file", "deleted": True})


# uploads -----------------------------------------------------------------------------------------


def _upload(tx: Tx, upload_id: str) -> Obj:
    table = file_tables.uploads
    found = tx.connection.execute(select(table.c.body).where(table.c.id == upload_id)).scalar()
    if found is None:
        raise not_found("upload", upload_id)
    obj: Obj = decode(found)
    return obj


def _pending(obj: Obj, now: float) -> None:
    if obj["status"] == "pending" and now >= obj["expires_at"]:
        obj["status"] = "expired"
    if obj["status"] != "pending":
        raise invalid(f"Upload {obj['id']} is {obj['status']}; only a pending upload can take this request.")


def _save_upload(tx: Tx, obj: Obj) -> None:
    table = file_tables.uploads
    tx.connection.execute(update(table).where(table.c.id == obj["id"]).values(body=encode(obj)))


def create_upload(api: Api, call: Call) -> Reply:
    request = parse_body(CreateUpload, call.body)
    created_at = int(api.clock())
    with api.store.writing() as tx:
        obj: Obj = {
            "id": tx.new_id("upload_"),
            "object": "upload",
            "bytes": request.bytes,
            "created_at": created_at,
            "filename": request.filename,
            "purpose": request.purpose,
            "status": "pending",
            "expires_at": created_at + UPLOAD_SECONDS,
            "file": None,
        }
        if request.expires_after is not None:
            obj["file_expires_at"] = request.expires_after.seconds
        tx.connection.execute(file_tables.uploads.insert().values(id=obj["id"], body=encode(obj)))
    return Reply(_public_upload(obj))


def _public_upload(obj: Obj) -> Obj:
    return {key: value for key, value in obj.items() if key != "file_expires_at"}


async def add_upload_part(api: Api, call: Call) -> Reply:
    upload_id = call.params["upload_id"]
    with api.store.reading() as tx:
        _pending(_upload(tx, upload_id), api.clock())
    fields, upload = await _form(call.request, MAX_PART_BYTES, "data")
    try:
        if fields:
            name = sorted(fields)[0]
            raise invalid(
                f"Unrecognized request argument supplied: {name}", param=name, code="unknown_parameter"
            )
        created_at = int(api.clock())
        with api.store.writing() as tx:
            _pending(_upload(tx, upload_id), api.clock())
            sha256, size = blobs.put_file(tx.connection, _spooled(upload))
            part: Obj = {
                "id": tx.new_id("part_"),
                "object": "upload.part",
                "created_at": created_at,
                "upload_id": upload_id,
            }
            tx.connection.execute(
                file_tables.upload_parts.insert().values(
                    id=part["id"], upload_id=upload_id, sha256=sha256, bytes=size, body=encode(part)
                )
            )
    finally:
        await upload.close()
    return Reply(part)


def complete_upload(api: Api, call: Call) -> Reply:
    request = parse_body(CompleteUpload, call.body)
    upload_id = call.params["upload_id"]
    now = api.clock()
    parts_table = file_tables.upload_parts
    with api.store.writing() as tx:
        obj = _upload(tx, upload_id)
        _pending(obj, now)
        rows = {
            row.id: row
            for row in tx.connection.execute(
                select(parts_table.c.id, parts_table.c.sha256, parts_table.c.bytes).where(
                    parts_table.c.upload_id == upload_id
                )
            )
        }
        order = []
        for index, part_id in enumerate(request.part_ids):
            if part_id not in rows:
                raise invalid(
                    f"Part {part_id} does not belong to upload {upload_id}.", param=f"part_ids[{index}]"
                )
            order.append(rows[part_id])
        total = sum(int(row.bytes) for row in order)
        if total != obj["bytes"]:
            raise invalid(
                f"The parts hold {total} bytes, but the upload was created for {obj['bytes']} bytes.",
                param="part_ids",
            )
        sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        for row in order:
            for piece in blobs.pieces_of(tx.connection, row.sha256):
                sha.update(piece)
                md5.update(piece)
        if request.md5 is not None and request.md5.lower() != md5.hexdigest():
            raise invalid("The md5 checksum does not match the parts' content.", param="md5")
        digest = sha.hexdigest()
        blobs.put_pieces(
            tx.connection,
            digest,
            total,
            (piece for row in order for piece in blobs.pieces_of(tx.connection, row.sha256)),
        )
        expiry = obj.get("file_expires_at")
        file_obj = file_object(
            tx.new_id("file-"),
            total,
            int(now),
            obj["filename"],
            obj["purpose"],
            int(now) + int(expiry) if expiry is not None else None,
        )
        _insert_file(tx, file_obj, digest)
        _drop_parts(tx, upload_id)
        obj["status"] = "completed"
        obj["file"] = file_obj
        _save_upload(tx, obj)
    return Reply(_public_upload(obj))


def _drop_parts(tx: Tx, upload_id: str) -> None:
    table = file_tables.upload_parts
    digests = set(
        tx.connection.execute(select(table.c.sha256).where(table.c.upload_id == upload_id)).scalars()
    )
    tx.connection.execute(table.delete().where(table.c.upload_id == upload_id))
    for digest in digests:
        blobs.release(tx.connection, digest)


def cancel_upload(api: Api, call: Call) -> Reply:
    with api.store.writing() as tx:
        obj = _upload(tx, call.params["upload_id"])
        _pending(obj, api.clock())
        _drop_parts(tx, obj["id"])
        obj["status"] = "cancelled"
        _save_upload(tx, obj)
    return Reply(_public_upload(obj))


Handler = Callable[[Api, Call], Reply | StreamReply | Awaitable[Reply]]
