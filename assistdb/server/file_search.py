"""Chunking files into a vector store's full-text index, and searching it.

Tokens are approximated as words and single punctuation marks (no tokenizer is bundled); a
chunk is ``max_chunk_size_tokens`` of them, the next one starting ``chunk_overlap_tokens``
before the previous one ended, and keeps the original text between its first and last token.
``auto`` is 800 tokens with 400 overlap, as the real API documented. Ranking is lexical: FTS5's
BM25 (Porter stemming) on SQLite, ``ts_rank_cd`` (English stemming) on PostgreSQL; a chunk
matches if it holds any query word, and scores are relative to the best match of the search.

With embeddings on (``hybrid``), every chunk with a vector is a candidate as well, ranked by
cosine similarity to the query, and the two rankings are fused by reciprocal rank (see
``fuse``). Similarity is computed by brute force over the searched stores' vectors (a numpy
matrix product): no index, so a search costs one read of them (fine up to tens of thousands of
chunks).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, text

from assistdb.server import file_tables
from assistdb.store.database import upsert_insert

#: What ``auto`` chunking means, as the real API documented it.
AUTO_MAX_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400
_TOKEN = re.compile(r"\w+|[^\w\s]")
_TERM = re.compile(r"\w+")
MAX_TERMS = 64
CANDIDATES = 1000
#: Chunks without a vector that one hybrid search embeds before it ranks (see ``unembedded``).
BACKFILL_CHUNKS = 1024
#: Vectors read and multiplied at a time by a similarity pass.
_BLOCK = 512
#: Reciprocal rank fusion's constant: a rank r in either list counts 1 / (RRF_K + r).
RRF_K = 60


class UnsupportedFile(Exception):
    """The file's content is not text this server can index."""


def extract_text(content: bytes) -> str:
    """The text of a file: UTF-8 (a BOM is dropped); binary content is refused."""
    if b"\x00" in content:
        raise UnsupportedFile("the file is binary; only UTF-8 text files can be searched")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnsupportedFile("the file is not UTF-8 text; only UTF-8 text files can be searched") from None


def chunk(text_: str, max_tokens: int, overlap: int) -> list[str]:
    """Split text into overlapping windows of approximate tokens."""
    spans = [match.span() for match in _TOKEN.finditer(text_)]
    if not spans:
        return []
    step = max(1, max_tokens - overlap)
    pieces: list[str] = []
    for start in range(0, len(spans), step):
        end = min(start + max_tokens, len(spans))
        pieces.append(text_[spans[start][0] : spans[end - 1][1]])
        if end == len(spans):
            break
    return pieces


def index_file(
    connection: Connection,
    vector_store_id: str,
    file_id: str,
    pieces: Sequence[str],
    vectors: tuple[str, Sequence[bytes]] | None = None,
) -> None:
    """Replace the file's chunks in the store's index; ``vectors``: the model and each piece's vector."""
    unindex_file(connection, vector_store_id, file_id)
    if not pieces:
        return
    table = file_tables.chunks
    connection.execute(
        insert(table),
        [
            {"vector_store_id": vector_store_id, "file_id": file_id, "n": n, "text": piece}
            for n, piece in enumerate(pieces)
        ],
    )
    if vectors is None:
        return
    model, values = vectors
    seqs = connection.execute(
        select(table.c.seq)
        .where(table.c.vector_store_id == vector_store_id, table.c.file_id == file_id)
        .order_by(table.c.n)
    ).scalars()
    add_vectors(
        connection,
        model,
        [(seq, vector_store_id, file_id, vector) for seq, vector in zip(seqs, values, strict=True)],
    )


def add_vectors(connection: Connection, model: str, rows: Sequence[tuple[int, str, str, bytes]]) -> None:
    """Store each (chunk seq, store, file, vector) as the chunk's vector from ``model``, replacing
    any vector it had (from another model, or from a concurrent search that gave it one first: a
    chunk keeps one)."""
    if not rows:
        return
    table = file_tables.chunk_embeddings
    statement = upsert_insert(connection)(table)
    replaced = ("vector_store_id", "file_id", "model", "dimensions", "vector")
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.chunk_seq], set_={name: statement.excluded[name] for name in replaced}
    )
    connection.execute(
        statement,
        [
            {
                "chunk_seq": seq,
                "vector_store_id": store_id,
                "file_id": file_id,
                "model": model,
                "dimensions": len(vector) // 4,
                "vector": vector,
            }
            for seq, store_id, file_id, vector in rows
        ],
    )


def unembedded(
    connection: Connection, store_ids: Sequence[str], model: str, limit: int, *, skip: Sequence[int] = ()
) -> list[tuple[int, str, str, str]]:
    """(seq, store, file, text) of up to ``limit`` of the stores' chunks that have no vector from
    ``model`` (indexed while embeddings were off or by another model, or rebuilt by a restore),
    oldest first, but for the chunks ``skip`` names."""
    chunks, vectors = file_tables.chunks, file_tables.chunk_embeddings
    embedded = (
        select(vectors.c.chunk_seq)
        .where(vectors.c.chunk_seq == chunks.c.seq, vectors.c.model == model)
        .exists()
    )
    rows = connection.execute(
        select(chunks.c.seq, chunks.c.vector_store_id, chunks.c.file_id, chunks.c.text)
        .where(
            chunks.c.vector_store_id.in_(list(store_ids)),
            ~embedded,
            *([chunks.c.seq.not_in(list(skip))] if skip else []),
        )
        .order_by(chunks.c.seq)
        .limit(limit)
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def unindex_file(connection: Connection, vector_store_id: str | None, file_id: str) -> None:
    for table in (file_tables.chunks, file_tables.chunk_embeddings):
        conditions = [table.c.file_id == file_id]
        if vector_store_id is not None:
            conditions.append(table.c.vector_store_id == vector_store_id)
        connection.execute(delete(table).where(*conditions))


def unindex_store(connection: Connection, vector_store_id: str) -> None:
    for table in (file_tables.chunks, file_tables.chunk_embeddings):
        connection.execute(delete(table).where(table.c.vector_store_id == vector_store_id))


@dataclass(frozen=True)
class Hit:
    vector_store_id: str
    file_id: str
    text: str
    score: float


def terms(queries: Sequence[str]) -> list[str]:
    """The distinct lower-cased words of the queries (any of them may match)."""
    found: dict[str, None] = {}
    for query in queries:
        for term in _TERM.findall(query.lower()):
            found.setdefault(term, None)
    return list(found)[:MAX_TERMS]


def search(
    connection: Connection,
    store_ids: Sequence[str],
    queries: Sequence[str],
    hybrid: tuple[str, Sequence[bytes]] | None = None,
) -> list[Hit]:
    """The best chunks of the given stores for the queries (at most ``CANDIDATES``), best first.

    Lexical alone: the chunks holding any query word. ``hybrid`` (the embedding model and the
    queries' vectors) adds every chunk with a vector from that model, fused by ``fuse``.
    """
    if not store_ids:
        return []
    lexical = _lexical(connection, store_ids, queries)
    if hybrid is None or not hybrid[1]:
        return _relative(
            [Hit(vs, file_id, chunk_text, score) for _, vs, file_id, chunk_text, score in lexical]
        )
    similar = _similar(connection, store_ids, *hybrid)
    fused = fuse([row[0] for row in lexical], similar)[:CANDIDATES]
    found = {row[0]: row[1:4] for row in lexical}
    wanted = [seq for seq, _ in fused if seq not in found]
    table = file_tables.chunks
    for start in range(0, len(wanted), 500):
        for row in connection.execute(
            select(table.c.seq, table.c.vector_store_id, table.c.file_id, table.c.text).where(
                table.c.seq.in_(wanted[start : start + 500])
            )
        ):
            found[row[0]] = (row[1], row[2], row[3])
    return _relative([Hit(*found[seq], score) for seq, score in fused if seq in found])


def _lexical(
    connection: Connection, store_ids: Sequence[str], queries: Sequence[str]
) -> list[tuple[int, str, str, str, float]]:
    """(seq, store, file, text, rank) of the chunks holding any query word, best first."""
    words = terms(queries)
    if not words:
        return []
    if connection.dialect.name == "postgresql":
        statement = text(
            "SELECT c.seq, c.vector_store_id, c.file_id, c.text, "
            "ts_rank_cd(c.tsv, q, 32) AS rank "
            "FROM server_vector_store_chunks c, to_tsquery('english', :q) q "
            "WHERE c.vector_store_id IN :stores AND c.tsv @@ q "
            "ORDER BY rank DESC, c.seq LIMIT :n"
        ).bindparams(bindparam("stores", expanding=True))
        query = " | ".join(words)
        rows = connection.execute(statement, {"q": query, "stores": list(store_ids), "n": CANDIDATES})
        return [(row[0], row[1], row[2], row[3], float(row[4])) for row in rows]
    statement = text(
        "SELECT c.seq, c.vector_store_id, c.file_id, c.text, bm25(server_vector_store_chunks_fts) AS rank "
        "FROM server_vector_store_chunks_fts JOIN server_vector_store_chunks c "
        "ON c.seq = server_vector_store_chunks_fts.rowid "
        "WHERE server_vector_store_chunks_fts MATCH :q AND c.vector_store_id IN :stores "
        "ORDER BY rank, c.seq LIMIT :n"
    ).bindparams(bindparam("stores", expanding=True))
    query = " OR ".join(f'"{word}"' for word in words)
    rows = connection.execute(statement, {"q": query, "stores": list(store_ids), "n": CANDIDATES})
    return [(row[0], row[1], row[2], row[3], max(0.0, -float(row[4]))) for row in rows]


def _similar(
    connection: Connection, store_ids: Sequence[str], model: str, query_vectors: Sequence[bytes]
) -> list[int]:
    """Seqs of the chunks most similar to any query (cosine above 0), best first (ties by seq),
    at most ``CANDIDATES``: one pass over the stores' vectors of ``model`` (unit length: a dot
    product), as one matrix product per dimension (a vector of another dimension than every
    query's is skipped)."""
    import numpy  # here, not at the top: only hybrid searches need it, and it is slow to import

    queries: dict[int, list[bytes]] = {}
    for vector in query_vectors:
        queries.setdefault(len(vector) // 4, []).append(vector)
    wanted = {
        size: numpy.frombuffer(b"".join(vectors), dtype="<f4").reshape(-1, size).T.astype(numpy.float64)
        for size, vectors in queries.items()
    }
    found_seqs, found_similarities = [], []
    for block in _vector_blocks(connection, store_ids, model, list(queries)):
        by_size: dict[int, tuple[list[int], list[bytes]]] = {}
        for seq, size, data in block:
            seqs, vectors = by_size.setdefault(size, ([], []))
            seqs.append(seq)
            vectors.append(data)
        for size, (seqs, vectors) in by_size.items():
            # In double precision, as one float32 product summed in another order could swap
            # two chunks whose similarities differ in the last float32 digit.
            matrix = numpy.frombuffer(b"".join(vectors), dtype="<f4").reshape(len(seqs), size)
            matrix = matrix.astype(numpy.float64)
            found_seqs.append(numpy.asarray(seqs, dtype=numpy.int64))
            found_similarities.append((matrix @ wanted[size]).max(axis=1))
    if not found_seqs:
        return []
    seq_array = numpy.concatenate(found_seqs)
    similarities = numpy.concatenate(found_similarities)
    positive = similarities > 0
    seq_array, similarities = seq_array[positive], similarities[positive]
    if len(similarities) > CANDIDATES:
        # The CANDIDATES-th best similarity; every chunk at least as similar stays, so that a
        # tie across the cut is broken by seq below rather than by where the partition put it.
        cut = numpy.partition(similarities, len(similarities) - CANDIDATES)[len(similarities) - CANDIDATES]
        kept = similarities >= cut
        seq_array, similarities = seq_array[kept], similarities[kept]
    order = numpy.lexsort((seq_array, -similarities))[:CANDIDATES]
    return [int(seq) for seq in seq_array[order]]


def _vector_blocks(
    connection: Connection, store_ids: Sequence[str], model: str, sizes: list[int]
) -> Iterator[Sequence[Any]]:
    """(seq, dimensions, vector) of the stores' vectors of ``model`` and these sizes, ``_BLOCK``
    at a time: each block is multiplied while in cache, and (on SQLite) memory holds one block.
    PostgreSQL's rows come in binary format, through the driver's cursor: in text format
    ``bytea`` travels, and is parsed, as hex, which took over half of a pass at 1,536 dimensions
    (libpq then holds the whole result, in binary, until the pass is over)."""
    if connection.dialect.name == "postgresql":
        driver: Any = connection.connection.driver_connection
        with driver.cursor(binary=True) as cursor:
            cursor.execute(
                "SELECT chunk_seq, dimensions, vector FROM server_vector_store_chunk_embeddings "
                "WHERE vector_store_id = ANY(%s) AND model = %s AND dimensions = ANY(%s)",
                (list(store_ids), model, sizes),
            )
            while block := cursor.fetchmany(_BLOCK):
                yield block
        return
    table = file_tables.chunk_embeddings
    statement = select(table.c.chunk_seq, table.c.dimensions, table.c.vector).where(
        table.c.vector_store_id.in_(list(store_ids)), table.c.model == model, table.c.dimensions.in_(sizes)
    )
    yield from connection.execute(statement.execution_options(yield_per=_BLOCK)).partitions()


def fuse(lexical: Sequence[int], similar: Sequence[int]) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: each chunk scores the sum of 1 / (``RRF_K`` + rank) over the
    rankings it appears in (rank 1 first). It needs no calibration between BM25 or ``ts_rank_cd``
    values (unbounded, corpus-dependent) and cosines (whose spread depends on the model)."""
    scores: dict[int, float] = {}
    for ranking in (lexical, similar):
        for rank, seq in enumerate(ranking, start=1):
            scores[seq] = scores.get(seq, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def _relative(hits: list[Hit]) -> list[Hit]:
    """Scores in 0..1 relative to the best hit (1.0): raw BM25, ``ts_rank_cd`` and fused values
    depend on the corpus and mean nothing on their own."""
    best = max((hit.score for hit in hits), default=0.0)
    if best <= 0:
        return [Hit(hit.vector_store_id, hit.file_id, hit.text, 1.0) for hit in hits]
    return [Hit(hit.vector_store_id, hit.file_id, hit.text, hit.score / best) for hit in hits]


def matches(filters: dict[str, Any] | None, attributes: dict[str, Any]) -> bool:
    """Whether a file's attributes pass a comparison or compound filter (as dumped from the request)."""
    if filters is None:
        return True
    kind = filters["type"]
    if kind in ("and", "or"):
        results = (matches(inner, attributes) for inner in filters["filters"])
        return all(results) if kind == "and" else any(results)
    key, wanted = filters["key"], filters["value"]
    if key not in attributes:
        return kind in ("ne", "nin")
    value = attributes[key]
    if kind == "eq":
        return bool(value == wanted)
    if kind == "ne":
        return bool(value != wanted)
    if kind in ("in", "nin"):
        inside = isinstance(wanted, list) and value in wanted
        return inside if kind == "in" else not inside
    try:
        if kind == "gt":
            return bool(value > wanted)
        if kind == "gte":
            return bool(value >= wanted)
        if kind == "lt":
            return bool(value < wanted)
        return bool(value <= wanted)
    except TypeError:
        return False
