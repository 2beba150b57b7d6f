"""Vector stores, their files and file batches, and search.

Adding a file to a store reads its text, chunks it and indexes the chunks (with their vectors,
when embeddings are on) in the same transaction that records the vector store file, so a file is
``completed`` (or ``failed``, with ``last_error``, when it is not UTF-8 text or the upstream
could not embed it) by the time the request returns, and a crash leaves either all of it or none.
Batches are therefore complete when created; pollers see it at once.
A store's ``file_counts`` and ``usage_bytes`` are recounted whenever its files change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update

from assistdb.server import blobs, file_search, file_tables, files
from assistdb.server.embeddings import EmbeddingFailure
from assistdb.server.errors import invalid, not_found
from assistdb.server.objects import Obj
from assistdb.server.operations import Api, Call, Reply
from assistdb.server.pagination import list_object
from assistdb.server.request_models import AutoChunking, StaticChunking
from assistdb.server.state import Tx, decode, encode
from assistdb.server.validation import page_request, parse_body
from assistdb.server.vector_store_models import (
    CreateFileBatch,
    CreateVectorStore,
    CreateVectorStoreFile,
    ModifyVectorStore,
    SearchVectorStore,
    UpdateAttributes,
)

DAY = 86400
STATUSES = ("in_progress", "completed", "failed", "cancelled")


# stores ------------------------------------------------------------------------------------------


def _counts(values: list[str]) -> Obj:
    counts = {status: values.count(status) for status in STATUSES}
    return {**counts, "total": len(values)}


def _store_row(tx: Tx, store_id: str) -> Obj:
    table = file_tables.vector_stores
    found = tx.connection.execute(
        select(table.c.body).where(table.c.id == store_id, table.c.deleted == False)  # noqa: E712
    ).scalar()
    if found is None:
        raise not_found("vector store", store_id)
    obj: Obj = decode(found)
    return obj


def present(obj: Obj, now: float) -> Obj:
    """The store as answered: ``expired`` once its expiry passed."""
    expires_at = obj.get("expires_at")
    if expires_at is not None and now >= expires_at:
        return {**obj, "status": "expired"}
    return obj


def _save_store(tx: Tx, obj: Obj) -> None:
    table = file_tables.vector_stores
    tx.connection.execute(update(table).where(table.c.id == obj["id"]).values(body=encode(obj)))


def _recount(tx: Tx, obj: Obj) -> None:
    table = file_tables.vector_store_files
    bodies = [
        decode(body)
        for body in tx.connection.execute(
            select(table.c.body).where(table.c.vector_store_id == obj["id"])
        ).scalars()
    ]
    tally(obj, bodies)


def recount(tx: Tx, store_id: str) -> None:
    """Recount a store's files and save it (a restore gave it files)."""
    obj = _store_row(tx, store_id)
    _recount(tx, obj)
    _save_store(tx, obj)


def tally(obj: Obj, links: list[Obj]) -> None:
    """Set a store's ``file_counts``, ``usage_bytes`` and status from its files' bodies."""
    obj["file_counts"] = _counts([body["status"] for body in links])
    obj["usage_bytes"] = sum(int(body["usage_bytes"]) for body in links)
    obj["status"] = "in_progress" if obj["file_counts"]["in_progress"] else "completed"


def _touch(obj: Obj, now: float) -> None:
    obj["last_active_at"] = int(now)
    expiry = obj.get("expires_after")
    obj["expires_at"] = int(now) + expiry["days"] * DAY if expiry else None


def create_store(
    tx: Tx,
    now: float,
    *,
    name: str | None = None,
    file_ids: list[str] | None = None,
    chunking: AutoChunking | StaticChunking | None = None,
    expires_after: Obj | None = None,
    metadata: dict[str, str] | None = None,
) -> Obj:
    """A new vector store with its files indexed (also used for tool resources created inline)."""
    obj: Obj = {
        "id": tx.new_id("vs_"),
        "object": "vector_store",
        "created_at": int(now),
        "name": name or "",
        "usage_bytes": 0,
        "file_counts": _counts([]),
        "status": "completed",
        "last_active_at": int(now),
        "metadata": dict(metadata or {}),
        "expires_at": None,
    }
    if expires_after is not None:
        obj["expires_after"] = expires_after
    _touch(obj, now)
    tx.connection.execute(file_tables.vector_stores.insert().values(id=obj["id"], body=encode(obj)))
    for file_id in file_ids or []:
        add_file(tx, obj["id"], file_id, chunking, None, None, now)
    _recount(tx, obj)
    _save_store(tx, obj)
    return obj


def check_stores(tx: Tx, store_ids: list[str]) -> None:
    """Refuse vector store IDs that do not exist (tool resources name them)."""
    for store_id in store_ids:
        _store_row(tx, store_id)


def list_vector_stores(api: Api, call: Call) -> Reply:
    page = page_request(call.query)
    with api.store.reading() as tx:
        data, more = tx.page(file_tables.vector_stores, [], [], page)
    now = api.clock()
    return Reply(list_object([present(obj, now) for obj in data], more))


def create_vector_store(api: Api, call: Call) -> Reply:
    request = parse_body(CreateVectorStore, call.body)
    now = api.clock()
    expiry = request.expires_after.model_dump() if request.expires_after is not None else None
    with api.store.writing() as tx:
        obj = create_store(
            tx,
            now,
            name=request.name,
            file_ids=request.file_ids,
            chunking=request.chunking_strategy,
            expires_after=expiry,
            metadata=request.metadata,
        )
    return Reply(obj)


def get_vector_store(api: Api, call: Call) -> Reply:
    with api.store.reading() as tx:
        obj = _store_row(tx, call.params["vector_store_id"])
    return Reply(present(obj, api.clock()))


def modify_vector_store(api: Api, call: Call) -> Reply:
    request = parse_body(ModifyVectorStore, call.body)
    given = request.model_fields_set
    now = api.clock()
    with api.store.writing() as tx:
        obj = _store_row(tx, call.params["vector_store_id"])
        if "name" in given:
            obj["name"] = request.name or ""
        if "metadata" in given:
            obj["metadata"] = dict(request.metadata or {})
        if "expires_after" in given:
            if request.expires_after is None:
                obj.pop("expires_after", None)
            else:
                obj["expires_after"] = request.expires_after.model_dump()
            _touch(obj, now)
        _save_store(tx, obj)
    return Reply(present(obj, now))


def delete_vector_store(api: Api, call: Call) -> Reply:
    with api.store.writing() as tx:
        store_id = _store_row(tx, call.params["vector_store_id"])["id"]
        table = file_tables.vector_stores
        tx.connection.execute(update(table).where(table.c.id == store_id).values(deleted=True))
        files_table = file_tables.vector_store_files
        tx.connection.execute(delete(files_table).where(files_table.c.vector_store_id == store_id))
        batches = file_tables.file_batches
        tx.connection.execute(delete(batches).where(batches.c.vector_store_id == store_id))
        file_search.unindex_store(tx.connection, store_id)
    return Reply({"id": store_id, "object": "vector_store.deleted", "deleted": True})


# vector store files ----------------------------------------------------------------------------


def _strategy(chunking: AutoChunking | StaticChunking | None) -> Obj:
    if isinstance(chunking, StaticChunking):
        return {"type": "static", "static": chunking.static.model_dump()}
    return {
        "type": "static",
        "static": {
            "max_chunk_size_tokens": file_search.AUTO_MAX_TOKENS,
            "chunk_overlap_tokens": file_search.AUTO_OVERLAP_TOKENS,
        },
    }


def add_file(
    tx: Tx,
    store_id: str,
    file_id: str,
    chunking: AutoChunking | StaticChunking | None,
    attributes: dict[str, Any] | None,
    batch_id: str | None,
    now: float,
) -> Obj:
    """Add (or re-add) a file to a store: extract, chunk and index it now; the file must exist."""
    file_obj, sha256 = files.find_file(tx, file_id, now)
    strategy = _strategy(chunking)
    obj: Obj = {
        "id": file_id,
        "object": "vector_store.file",
        "usage_bytes": 0,
        "created_at": int(now),
        "vector_store_id": store_id,
        "status": "completed",
        "last_error": None,
        "chunking_strategy": strategy,
        "attributes": dict(attributes or {}),
    }
    try:
        text = file_search.extract_text(blobs.read_all(tx.connection, sha256))
    except file_search.UnsupportedFile as exc:
        obj["status"] = "failed"
        obj["last_error"] = {"code": "unsupported_file", "message": f"{file_obj['filename']}: {exc}"}
        file_search.unindex_file(tx.connection, store_id, file_id)
    else:
        settings = strategy["static"]
        pieces = file_search.chunk(text, settings["max_chunk_size_tokens"], settings["chunk_overlap_tokens"])
        vectors = _chunk_vectors(tx, pieces)
        if isinstance(vectors, EmbeddingFailure):
            obj["status"] = "failed"
            obj["last_error"] = {
                "code": "server_error",
                "message": f"{file_obj['filename']}: no embeddings: {vectors.message}",
            }
            file_search.unindex_file(tx.connection, store_id, file_id)
        else:
            if vectors is not None or tx.embeddings is None:  # else this pass is rolled back
                file_search.index_file(tx.connection, store_id, file_id, pieces, vectors)
            obj["usage_bytes"] = sum(len(piece.encode()) for piece in pieces)
    table = file_tables.vector_store_files
    tx.connection.execute(delete(table).where(table.c.vector_store_id == store_id, table.c.id == file_id))
    tx.connection.execute(
        table.insert().values(
            id=file_id, vector_store_id=store_id, batch_id=batch_id, status=obj["status"], body=encode(obj)
        )
    )
    return obj


def restore_link(tx: Tx, body: Obj) -> None:
    """Put an archived vector store file back with its body unchanged; a ``completed`` one has
    its chunks indexed again from its file's content (already in the server), by its own
    chunking strategy. Its chunks get no vectors: a restore asks no upstream for embeddings."""
    store_id, file_id = body["vector_store_id"], body["id"]
    if body["status"] == "completed":
        sha256 = tx.connection.execute(
            select(file_tables.files.c.sha256).where(file_tables.files.c.id == file_id)
        ).scalar_one()
        settings = (body.get("chunking_strategy") or {}).get("static") or {}
        try:
            text = file_search.extract_text(blobs.read_all(tx.connection, sha256))
        except file_search.UnsupportedFile:
            pieces: list[str] = []  # archived as completed elsewhere; nothing here to search
        else:
            pieces = file_search.chunk(
                text,
                int(settings.get("max_chunk_size_tokens", file_search.AUTO_MAX_TOKENS)),
                int(settings.get("chunk_overlap_tokens", file_search.AUTO_OVERLAP_TOKENS)),
            )
        file_search.index_file(tx.connection, store_id, file_id, pieces)
    tx.connection.execute(
        file_tables.vector_store_files.insert().values(
            id=file_id, vector_store_id=store_id, batch_id=None, status=body["status"], body=encode(body)
        )
    )


def _chunk_vectors(tx: Tx, pieces: list[str]) -> tuple[str, list[bytes]] | EmbeddingFailure | None:
    """The model and each piece's vector when embeddings are on; ``None`` when they are off (or
    not computed yet: the transaction is then rolled back and run again with them)."""
    lookup = tx.embeddings
    if lookup is None:
        return None
    found = [lookup.get(piece) for piece in pieces]
    for item in found:
        if isinstance(item, EmbeddingFailure):
            return item
    vectors = [item for item in found if isinstance(item, bytes)]
    return (lookup.model, vectors) if len(vectors) == len(pieces) else None


def _query_vectors(tx: Tx, queries: list[str]) -> tuple[str, list[bytes]] | None:
    """The model and the queries' vectors; a query the upstream could not embed is ranked lexically."""
    lookup = tx.embeddings
    if lookup is None:
        return None
    vectors = [found for found in map(lookup.get, queries) if isinstance(found, bytes)]
    return lookup.model, vectors


def _backfill(tx: Tx, store_ids: list[str]) -> None:
    """Give vectors to up to ``BACKFILL_CHUNKS`` of the stores' chunks that have none from the
    embedding model (indexed before it was set, or rebuilt by a restore), so that they are not
    ranked by words alone for good: a larger backlog is worked off over the next searches.

    Asked only once the queries' vectors are known, in a pass of its own: a chunk the upstream
    refuses cannot cost a query its vector. A chunk the upstream could not embed stays without
    one: tried again by a later search, or, when the upstream refused its very text, not for a
    while (``Refusals``)."""
    lookup = tx.embeddings
    if lookup is None or lookup.missing or not store_ids:
        return
    pending = file_search.unembedded(
        tx.connection,
        store_ids,
        lookup.model,
        file_search.BACKFILL_CHUNKS,
        skip=lookup.refusals.current(lookup.model),
    )
    found = [(row, lookup.get(row[3])) for row in pending]
    if not lookup.missing:
        rows = [
            (seq, store, file, vector) for (seq, store, file, _), vector in found if isinstance(vector, bytes)
        ]
        file_search.add_vectors(tx.connection, lookup.model, rows)
        refused = [
            seq for (seq, *_), vector in found if isinstance(vector, EmbeddingFailure) and vector.refused
        ]
        lookup.refusals.add(lookup.model, refused)


def _store_file(tx: Tx, store_id: str, file_id: str) -> Obj:
    table = file_tables.vector_store_files
    found = tx.connection.execute(
        select(table.c.body).where(table.c.vector_store_id == store_id, table.c.id == file_id)
    ).scalar()
    if found is None:
        raise not_found("vector store file", file_id)
    obj: Obj = decode(found)
    return obj


def _status_filter(call: Call) -> str | None:
    value = call.query.get("filter", [""])[-1]
    if not value:
        return None
    if value not in STATUSES:
        listed = ", ".join(f"'{status}'" for status in STATUSES)
        raise invalid(
            f"Invalid value: '{value}'. Supported values are: {listed}.", param="filter", code="invalid_value"
        )
    return value


def list_vector_store_files(api: Api, call: Call) -> Reply:
    page = page_request(call.query)
    status = _status_filter(call)
    table = file_tables.vector_store_files
    store_id = call.params["vector_store_id"]
    scope = [table.c.vector_store_id == store_id]
    listed = [*scope, table.c.status == status] if status else scope
    with api.store.reading() as tx:
        _store_row(tx, store_id)
        data, more = tx.page(table, listed, scope, page)
    return Reply(list_object(data, more))


def create_vector_store_file(api: Api, call: Call) -> Reply:
    request = parse_body(CreateVectorStoreFile, call.body)
    now = api.clock()
    with api.store.writing() as tx:
        store = _store_row(tx, call.params["vector_store_id"])
        obj = add_file(
            tx, store["id"], request.file_id, request.chunking_strategy, request.attributes, None, now
        )
        _recount(tx, store)
        _touch(store, now)
        _save_store(tx, store)
    return Reply(obj)


def get_vector_store_file(api: Api, call: Call) -> Reply:
    with api.store.reading() as tx:
        _store_row(tx, call.params["vector_store_id"])
        return Reply(_store_file(tx, call.params["vector_store_id"], call.params["file_id"]))


def update_vector_store_file(api: Api, call: Call) -> Reply:
    request = parse_body(UpdateAttributes, call.body)
    store_id, file_id = call.params["vector_store_id"], call.params["file_id"]
    with api.store.writing() as tx:
        _store_row(tx, store_id)
        obj = _store_file(tx, store_id, file_id)
        obj["attributes"] = dict(request.attributes or {})
        table = file_tables.vector_store_files
        tx.connection.execute(
            update(table)
            .where(table.c.vector_store_id == store_id, table.c.id == file_id)
            .values(body=encode(obj))
        )
    return Reply(obj)


def remove_file(tx: Tx, store_id: str, file_id: str) -> None:
    table = file_tables.vector_store_files
    tx.connection.execute(delete(table).where(table.c.vector_store_id == store_id, table.c.id == file_id))
    file_search.unindex_file(tx.connection, store_id, file_id)


def delete_vector_store_file(api: Api, call: Call) -> Reply:
    store_id, file_id = call.params["vector_store_id"], call.params["file_id"]
    with api.store.writing() as tx:
        store = _store_row(tx, store_id)
        _store_file(tx, store_id, file_id)
        remove_file(tx, store_id, file_id)
        _recount(tx, store)
        _save_store(tx, store)
    return Reply({"id": file_id, "object": "vector_store.file.deleted", "deleted": True})


def vector_store_file_content(api: Api, call: Call) -> Reply:
    store_id, file_id = call.params["vector_store_id"], call.params["file_id"]
    table = file_tables.chunks
    with api.store.reading() as tx:
        _store_row(tx, store_id)
        obj = _store_file(tx, store_id, file_id)
        data: list[Obj] = []
        if obj["status"] == "completed":
            _, sha256 = files.find_file(tx, file_id, api.clock())
            text = file_search.extract_text(blobs.read_all(tx.connection, sha256))
            count = tx.connection.execute(
                select(func.count()).where(table.c.vector_store_id == store_id, table.c.file_id == file_id)
            ).scalar_one()
            data = [{"type": "text", "text": text}] if count else []
    return Reply(
        {"object": "vector_store.file_content.page", "data": data, "has_more": False, "next_page": None}
    )


def _forget_deleted_file(tx: Tx, file_id: str, now: float) -> None:
    """A deleted file leaves every vector store that held it (as the spec says)."""
    table = file_tables.vector_store_files
    store_ids = list(
        tx.connection.execute(select(table.c.vector_store_id).where(table.c.id == file_id)).scalars()
    )
    for store_id in store_ids:
        remove_file(tx, store_id, file_id)
        try:
            store = _store_row(tx, store_id)
        except Exception:
            continue
        _recount(tx, store)
        _save_store(tx, store)


files.on_file_deleted.append(_forget_deleted_file)


# file batches ------------------------------------------------------------------------------------


def _batch(tx: Tx, store_id: str, batch_id: str) -> Obj:
    table = file_tables.file_batches
    found = tx.connection.execute(
        select(table.c.body).where(table.c.id == batch_id, table.c.vector_store_id == store_id)
    ).scalar()
    if found is None:
        raise not_found("vector store file batch", batch_id)
    obj: Obj = decode(found)
    return obj


def create_file_batch(api: Api, call: Call) -> Reply:
    request = parse_body(CreateFileBatch, call.body)
    now = api.clock()
    entries = (
        [CreateVectorStoreFile(file_id=file_id) for file_id in request.file_ids]
        if request.file_ids is not None
        else list(request.files or [])
    )
    with api.store.writing() as tx:
        store = _store_row(tx, call.params["vector_store_id"])
        batch_id = tx.new_id("vsfb_")
        statuses = []
        for entry in entries:
            chunking = entry.chunking_strategy or request.chunking_strategy
            attributes = entry.attributes if entry.attributes is not None else request.attributes
            statuses.append(
                add_file(tx, store["id"], entry.file_id, chunking, attributes, batch_id, now)["status"]
            )
        obj: Obj = {
            "id": batch_id,
            "object": "vector_store.files_batch",
            "created_at": int(now),
            "vector_store_id": store["id"],
            "status": "completed",
            "file_counts": _counts(statuses),
        }
        tx.connection.execute(
            file_tables.file_batches.insert().values(
                id=batch_id, vector_store_id=store["id"], body=encode(obj)
            )
        )
        _recount(tx, store)
        _touch(store, now)
        _save_store(tx, store)
    return Reply(obj)


def get_file_batch(api: Api, call: Call) -> Reply:
    with api.store.reading() as tx:
        _store_row(tx, call.params["vector_store_id"])
        return Reply(_batch(tx, call.params["vector_store_id"], call.params["batch_id"]))


def cancel_file_batch(api: Api, call: Call) -> Reply:
    with api.store.reading() as tx:
        _store_row(tx, call.params["vector_store_id"])
        obj = _batch(tx, call.params["vector_store_id"], call.params["batch_id"])
    if obj["status"] != "in_progress":
        raise invalid(
            f"Batch {obj['id']} is already {obj['status']}; only a batch in progress can be cancelled."
        )
    return Reply(obj)


def list_file_batch_files(api: Api, call: Call) -> Reply:
    page = page_request(call.query)
    status = _status_filter(call)
    table = file_tables.vector_store_files
    store_id, batch_id = call.params["vector_store_id"], call.params["batch_id"]
    scope = [table.c.vector_store_id == store_id, table.c.batch_id == batch_id]
    listed = [*scope, table.c.status == status] if status else scope
    with api.store.reading() as tx:
        _store_row(tx, store_id)
        _batch(tx, store_id, batch_id)
        data, more = tx.page(table, listed, scope, page)
    return Reply(list_object(data, more))


# search ------------------------------------------------------------------------------------------


def search_stores(
    tx: Tx,
    store_ids: list[str],
    queries: list[str],
    *,
    max_num_results: int,
    score_threshold: float,
    filters: dict[str, Any] | None,
) -> list[Obj]:
    """The best chunks of the stores for the queries, as search result items."""
    hybrid = _query_vectors(tx, queries)
    _backfill(tx, store_ids)
    if tx.embeddings is not None and tx.embeddings.missing:
        return []  # not worth searching: this pass is rolled back, and runs again with the vectors
    hits = file_search.search(tx.connection, store_ids, queries, hybrid)
    table = file_tables.vector_store_files
    file_ids = sorted({hit.file_id for hit in hits})
    attributes: dict[tuple[str, str], dict[str, Any]] = {}
    names: dict[str, str] = {}
    if file_ids:
        for row in tx.connection.execute(
            select(table.c.vector_store_id, table.c.id, table.c.body).where(
                table.c.id.in_(file_ids), table.c.vector_store_id.in_(store_ids)
            )
        ):
            attributes[(row.vector_store_id, row.id)] = decode(row.body).get("attributes") or {}
        files_table = file_tables.files
        for file_id, body in tx.connection.execute(
            select(files_table.c.id, files_table.c.body).where(files_table.c.id.in_(file_ids))
        ):
            names[file_id] = decode(body)["filename"]
    results: list[Obj] = []
    for hit in hits:
        attrs = attributes.get((hit.vector_store_id, hit.file_id), {})
        if hit.score < score_threshold or not file_search.matches(filters, attrs):
            continue
        results.append(
            {
                "file_id": hit.file_id,
                "filename": names.get(hit.file_id, ""),
                "score": round(hit.score, 6),
                "attributes": attrs,
                "content": [{"type": "text", "text": hit.text}],
            }
        )
        if len(results) >= max_num_results:
            break
    return results


def search_vector_store(api: Api, call: Call) -> Reply:
    request = parse_body(SearchVectorStore, call.body)
    queries = [request.query] if isinstance(request.query, str) else list(request.query)
    ranking = request.ranking_options
    now = api.clock()
    with api.store.writing() as tx:
        store = _store_row(tx, call.params["vector_store_id"])
        if present(store, now)["status"] == "expired":
            raise invalid(f"Vector store {store['id']} has expired; it can no longer be searched.")
        results = search_stores(
            tx,
            [store["id"]],
            queries,
            max_num_results=request.max_num_results or 10,
            score_threshold=(ranking.score_threshold or 0.0) if ranking else 0.0,
            filters=request.filters.model_dump(mode="json") if request.filters is not None else None,
        )
        _touch(store, now)
        _save_store(tx, store)
    return Reply(
        {
            "object": "vector_store.search_results.page",
            "search_query": queries,
            "data": results,
            "has_more": False,
            "next_page": None,
        }
    )


def attach_file(tx: Tx, store_id: str, file_id: str, now: float) -> Obj:
    """Add a file to a store (message attachments) and recount the store."""
    store = _store_row(tx, store_id)
    obj = add_file(tx, store_id, file_id, None, None, None, now)
    _recount(tx, store)
    _touch(store, now)
    _save_store(tx, store)
    return obj


def usable(tx: Tx, store_ids: list[str], now: float) -> list[str]:
    """The stores a run may search: those that still exist and have not expired."""
    kept = []
    for store_id in store_ids:
        table = file_tables.vector_stores
        found = tx.connection.execute(
            select(table.c.body).where(table.c.id == store_id, table.c.deleted == False)  # noqa: E712
        ).scalar()
        if found is not None and present(decode(found), now)["status"] != "expired":
            kept.append(store_id)
    return kept
