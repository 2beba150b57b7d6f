"""Hybrid (lexical + embedding) file search with the upstream's ``/embeddings``, on both databases.

Through the official SDK over HTTP, against the scripted double (whose vectors put
``fotosynthesys`` next to ``photosynthesis``; see its docstring), and against the real upstream
when ``ASSISTDB_TEST_UPSTREAM_URL`` answers ``/embeddings``.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from typing import Any

import openai
import pytest
import sqlalchemy as sa

from assistdb.server import LocalServer, file_search
from assistdb.server.backends.chat_completions import UpstreamSettings
from assistdb.server.backends.scripted_upstream import (
    EMBEDDING_DIMENSIONS,
    Call,
    Failure,
    Reply,
    ScriptedUpstream,
)
from assistdb.server.embeddings import Refusals
from tests.server.backends.conftest import SECRET_KEY, settings_for

MODEL = "emb-test"
DOCS = {
    "bio.txt": b"Photosynthesis turns light into sugar in the chloroplasts of leaves.",
    "port.txt": b"The harbour master logs every ship that docks at the pier.",
    "geo.txt": b"Volcanic eruptions release ash and sulfur dioxide into the sky.",
}
#: Shares no word with any document; its spelling is close to bio.txt's first word.
MISSPELT = "fotosynthesys"


def _store(client: openai.OpenAI) -> tuple[Any, dict[str, str]]:
    ids = {
        name: client.files.create(file=(name, io.BytesIO(content)), purpose="assistants").id
        for name, content in DOCS.items()
    }
    return client.vector_stores.create(file_ids=list(ids.values())), ids


def _embedding_requests(upstream: ScriptedUpstream) -> list[Any]:
    return [exchange for exchange in upstream.requests if exchange.path.endswith("/embeddings")]


def _rows(database_url: str, table: str) -> list[Any]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text(f"SELECT * FROM {table}")))
    finally:
        engine.dispose()


def _everything_stored(database_url: str) -> str:
    """Every row of every table of the server's database, as text."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            names = sa.inspect(connection).get_table_names()
            return "\n".join(
                repr(row) for name in names for row in connection.execute(sa.text(f'SELECT * FROM "{name}"'))
            )
    finally:
        engine.dispose()


def test_a_query_sharing_no_word_finds_the_close_chunk(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> None:
    server = make_server(database_url=database_url, upstream=settings_for(upstream, embedding_model=MODEL))
    with server.client() as client:
        store, ids = _store(client)
        listed = client.vector_stores.files.list(store.id).data
        assert {item.status for item in listed} == {"completed"}

        found = client.vector_stores.search(store.id, query=MISSPELT).data
        assert [item.file_id for item in found][:1] == [ids["bio.txt"]]
        assert found[0].score == 1.0 and found[0].content[0].text == DOCS["bio.txt"].decode()
        lexical = client.vector_stores.search(store.id, query="harbour ships").data
        assert lexical[0].file_id == ids["port.txt"] and lexical[0].score == 1.0

        vectors = _rows(database_url, "server_vector_store_chunk_embeddings")
        assert len(vectors) == 3
        assert {(row.model, row.dimensions, len(row.vector)) for row in vectors} == {
            (MODEL, EMBEDDING_DIMENSIONS, 4 * EMBEDDING_DIMENSIONS)
        }
        client.files.delete(ids["geo.txt"])
        assert len(_rows(database_url, "server_vector_store_chunk_embeddings")) == 2

    requests = _embedding_requests(upstream)
    # One batch for the three chunks, then one request per search.
    assert [len(exchange.body["input"]) for exchange in requests] == [3, 1, 1]
    assert {exchange.body["model"] for exchange in requests} == {MODEL}
    assert requests[1].body["input"] == [MISSPELT]


def _searching_server(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> LocalServer:
    """A server with embeddings on whose model searches the files for ``MISSPELT``, then cites bio.txt."""
    upstream.script(
        Reply(calls=(Call("file_search", json.dumps({"query": MISSPELT})),)),
        Reply(text="Leaves make sugar 【0†bio.txt】."),
    )
    return make_server(
        database_url=database_url, upstream=settings_for(upstream, embedding_model=MODEL), poll_after_ms=20
    )


def _assistant_and_thread(client: openai.OpenAI, store_id: str) -> tuple[str, str]:
    """An assistant searching the store, and a thread asking it something."""
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store_id]}},
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "How do leaves eat?"}])
    return assistant.id, thread.id


def test_file_search_in_a_run_ranks_with_embeddings(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> None:
    server = _searching_server(upstream, make_server, database_url)
    with server.client() as client:
        store, ids = _store(client)
        assistant_id, thread_id = _assistant_and_thread(client, store.id)
        run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
        assert run.status == "completed", run.last_error
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread_id, order="asc").data
        details: Any = steps[0].step_details
        assert details.tool_calls[0].type == "file_search"
        results = details.tool_calls[0].file_search.results
        assert results[0].file_id == ids["bio.txt"] and results[0].score == 1.0

    tool_message = next(
        exchange.body["messages"][-1]
        for exchange in upstream.requests
        if exchange.path.endswith("/chat/completions") and exchange.body["messages"][-1]["role"] == "tool"
    )
    assert json.loads(tool_message["content"])["results"][0]["filename"] == "bio.txt"
    assert [exchange.body["input"] for exchange in _embedding_requests(upstream)][1:] == [[MISSPELT]]


def test_without_an_embedding_model_search_stays_lexical(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> None:
    server = make_server(database_url=database_url, upstream=settings_for(upstream))
    with server.client() as client:
        store, ids = _store(client)
        assert client.vector_stores.search(store.id, query=MISSPELT).data == []
        found = client.vector_stores.search(store.id, query="harbour leaves").data
        # Only chunks holding a query word, ranked by BM25 / ts_rank_cd as before.
        assert {item.file_id for item in found} == {ids["port.txt"], ids["bio.txt"]}
        assert found[0].score == 1.0 and 0 < found[1].score <= 1.0

    assert _embedding_requests(upstream) == []
    assert _rows(database_url, "server_vector_store_chunk_embeddings") == []


def test_a_failing_embeddings_upstream_fails_the_file_and_never_shows_the_key(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> None:
    settings = settings_for(upstream, embedding_model=MODEL, max_retries=1)
    server = make_server(database_url=database_url, upstream=settings)
    with server.client() as client:
        file = client.files.create(file=("bio.txt", io.BytesIO(DOCS["bio.txt"])), purpose="assistants")

        # A 500 is retried (max_retries=1), then given up: the file fails, nothing is indexed.
        upstream.script_embeddings(Failure(500, "embedder down", type="server_error"), Failure(503))
        store = client.vector_stores.create(file_ids=[file.id])
        failed = client.vector_stores.files.retrieve(file.id, vector_store_id=store.id)
        assert failed.status == "failed" and failed.last_error is not None
        assert failed.last_error.code == "server_error"
        assert "HTTP 503" in failed.last_error.message and MODEL in failed.last_error.message
        assert client.vector_stores.retrieve(store.id).file_counts.failed == 1
        assert client.vector_stores.search(store.id, query="photosynthesis").data == []

        # A 400 is not retried; the upstream echoes the Authorization header, which is scrubbed.
        upstream.script_embeddings(Failure(400, "bad input", echo_authorization=True))
        again = client.vector_stores.files.create(vector_store_id=store.id, file_id=file.id)
        assert again.status == "failed" and again.last_error is not None
        assert "HTTP 400" in again.last_error.message and "bad input" in again.last_error.message
        assert SECRET_KEY not in again.last_error.message and "***" in again.last_error.message

        # One 500 then success: the retry indexes the file.
        upstream.script_embeddings(Failure(500))
        ok = client.vector_stores.files.create(vector_store_id=store.id, file_id=file.id)
        assert ok.status == "completed" and ok.last_error is None

        # A query the upstream cannot embed is searched lexically.
        upstream.script_embeddings(Failure(400, "no", echo_authorization=True))
        assert client.vector_stores.search(store.id, query="photosynthesis").data[0].file_id == file.id
        upstream.script_embeddings(Failure(400, "no"))
        assert client.vector_stores.search(store.id, query=MISSPELT).data == []
        assert upstream.pending == 0

    statuses = [exchange.status for exchange in _embedding_requests(upstream)]
    assert statuses == [500, 503, 200, 400, 500, 200, 400, 400]
    assert SECRET_KEY not in _everything_stored(database_url)


def _indexed_without_embeddings(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> tuple[str, dict[str, str]]:
    """A store of ``DOCS`` indexed by a server with no embedding model (stopped again)."""
    first = make_server(database_url=database_url, upstream=settings_for(upstream))
    with first.client() as client:
        store, ids = _store(client)
    first.stop()
    assert _rows(database_url, "server_vector_store_chunk_embeddings") == []
    return store.id, ids


def test_chunks_indexed_before_embeddings_were_on_get_vectors_when_searched(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> None:
    store_id, ids = _indexed_without_embeddings(upstream, make_server, database_url)
    server = make_server(database_url=database_url, upstream=settings_for(upstream, embedding_model=MODEL))
    with server.client() as client:
        found = client.vector_stores.search(store_id, query=MISSPELT).data
        assert [item.file_id for item in found][:1] == [ids["bio.txt"]]
        assert found[0].score == 1.0
        vectors = _rows(database_url, "server_vector_store_chunk_embeddings")
        assert sorted(row.file_id for row in vectors) == sorted(ids.values())
        assert {row.model for row in vectors} == {MODEL}
        assert client.vector_stores.search(store_id, query=MISSPELT).data[0].file_id == ids["bio.txt"]

    # The query first, on its own; then the three chunks; the second search only its query.
    inputs = [exchange.body["input"] for exchange in _embedding_requests(upstream)]
    assert inputs[0] == [MISSPELT] and sorted(inputs[1]) == sorted(d.decode() for d in DOCS.values())
    assert inputs[2:] == [[MISSPELT]]


def test_after_a_change_of_model_searches_replace_the_old_models_vectors(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> None:
    first = make_server(database_url=database_url, upstream=settings_for(upstream, embedding_model=MODEL))
    with first.client() as client:
        store, ids = _store(client)
    first.stop()
    second = make_server(
        database_url=database_url, upstream=settings_for(upstream, embedding_model="emb-next")
    )
    with second.client() as client:
        assert client.vector_stores.search(store.id, query=MISSPELT).data[0].file_id == ids["bio.txt"]
    vectors = _rows(database_url, "server_vector_store_chunk_embeddings")
    assert sorted(row.file_id for row in vectors) == sorted(ids.values())
    assert {row.model for row in vectors} == {"emb-next"}


def test_one_search_embeds_at_most_backfill_chunks(
    upstream: ScriptedUpstream,
    make_server: Callable[..., LocalServer],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_id, ids = _indexed_without_embeddings(upstream, make_server, database_url)
    monkeypatch.setattr(file_search, "BACKFILL_CHUNKS", 2)
    server = make_server(database_url=database_url, upstream=settings_for(upstream, embedding_model=MODEL))
    with server.client() as client:
        client.vector_stores.search(store_id, query="harbour")
        assert len(_rows(database_url, "server_vector_store_chunk_embeddings")) == 2
        found = client.vector_stores.search(store_id, query=MISSPELT).data
        assert len(_rows(database_url, "server_vector_store_chunk_embeddings")) == 3
        assert found[0].file_id == ids["bio.txt"]
        client.vector_stores.search(store_id, query="harbour")

    sizes = [len(exchange.body["input"]) for exchange in _embedding_requests(upstream)]
    assert sizes == [1, 2, 1, 1, 1]


def test_file_search_in_a_run_gives_vectors_to_chunks_indexed_without(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> None:
    store_id, ids = _indexed_without_embeddings(upstream, make_server, database_url)
    server = _searching_server(upstream, make_server, database_url)
    with server.client() as client:
        assistant_id, thread_id = _assistant_and_thread(client, store_id)
        with client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant_id) as stream:
            events = [event.event for event in stream]
            run = stream.get_final_run()
        assert run.status == "completed", run.last_error
        assert events.count("thread.run.step.completed") == 2 and events[-1] == "thread.run.completed"
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread_id, order="asc").data
        details: Any = steps[0].step_details
        assert details.tool_calls[0].file_search.results[0].file_id == ids["bio.txt"]
        assert len(_rows(database_url, "server_vector_store_chunk_embeddings")) == 3


UPSTREAM_URL = os.environ.get("ASSISTDB_TEST_UPSTREAM_URL")
REAL_MODEL = os.environ.get("ASSISTDB_TEST_EMBEDDING_MODEL", "default")


def _real_upstream_embeds() -> bool:
    if not UPSTREAM_URL:
        return False
    with openai.OpenAI(base_url=UPSTREAM_URL, api_key="no-key", max_retries=0, timeout=30) as client:
        try:
            client.embeddings.create(model=REAL_MODEL, input=["probe"], encoding_format="float")
        except openai.APIError:
            return False
    return True


def test_a_real_upstream_that_answers_embeddings() -> None:
    if not _real_upstream_embeds():
        pytest.skip("ASSISTDB_TEST_UPSTREAM_URL is not set or its server does not answer /embeddings")
    assert UPSTREAM_URL is not None
    settings = UpstreamSettings.from_values(
        {"base_url": UPSTREAM_URL, "timeout": 120.0, "embedding_model": REAL_MODEL}
    )
    with LocalServer(upstream=settings) as server, server.client() as client:
        store, ids = _store(client)
        assert {item.status for item in client.vector_stores.files.list(store.id).data} == {"completed"}
        found = client.vector_stores.search(store.id, query="How do plants make food from sunlight?").data
        assert found and found[0].score == 1.0 and found[0].file_id in ids.values()


def test_embeddings_are_read_as_base64_or_as_floats_and_garbage_fails_the_batch() -> None:
    """The runtime asks for base64 (4 bytes a value, no per-float parsing); an upstream that
    ignores ``encoding_format`` and answers floats is read too, with the same vectors."""
    import base64
    import struct

    from assistdb.server.backends.embeddings import Embedder
    from assistdb.server.embeddings import EmbeddingFailure, pack

    settings = UpstreamSettings.from_values(
        {"base_url": "http://127.0.0.1:9/v1", "api_key": SECRET_KEY, "embedding_model": MODEL}
    )
    embedder = Embedder(settings)
    first, second = [3.0, 4.0, 0.0], [0.0, 0.0, 2.0]

    def answer(*embeddings: object) -> bytes:
        data = [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(embeddings)]
        return json.dumps({"object": "list", "data": list(reversed(data))}).encode()

    as_base64 = [base64.b64encode(struct.pack("<3f", *vector)).decode() for vector in (first, second)]
    assert embedder._vectors(answer(*as_base64), 2) == [pack(first), pack(second)]
    assert embedder._vectors(answer(first, second), 2) == [pack(first), pack(second)]
    for bad in (answer("not base64!", second), answer(["x"], second), b"{}", answer(first, [1.0])):
        assert isinstance(embedder._vectors(bad, 2), EmbeddingFailure)
    assert isinstance(embedder._vectors(answer(first), 2), EmbeddingFailure)  # one answer for two


#: One chunk (under the chunker's 800 tokens) that a model with a 100-token context refuses.
LONG = b"Mitochondria " + b"produce energy in cells by respiration " * 15


def test_a_chunk_the_model_refuses_fails_alone_and_is_left_out_of_later_backfills(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> None:
    first = make_server(database_url=database_url, upstream=settings_for(upstream))
    with first.client() as client:
        contents = {**DOCS, "long.txt": LONG}
        ids = {
            name: client.files.create(file=(name, io.BytesIO(content)), purpose="assistants").id
            for name, content in contents.items()
        }
        store = client.vector_stores.create(file_ids=list(ids.values()))
    first.stop()
    upstream.embedding_context = 100
    server = make_server(database_url=database_url, upstream=settings_for(upstream, embedding_model=MODEL))
    with server.client() as client:
        found = client.vector_stores.search(store.id, query=MISSPELT).data
        assert found[0].file_id == ids["bio.txt"] and found[0].score == 1.0
        vectors = _rows(database_url, "server_vector_store_chunk_embeddings")
        assert sorted(row.file_id for row in vectors) == sorted(ids[name] for name in DOCS)
        assert client.vector_stores.search(store.id, query="harbour").data[0].file_id == ids["port.txt"]

    exchanges = _embedding_requests(upstream)
    # The query; the four chunks, refused; halves, the refused one halved again down to the long
    # chunk; the next search's query alone (the long chunk is not asked for again).
    assert [len(exchange.body["input"]) for exchange in exchanges] == [1, 4, 2, 2, 1, 1, 1]
    assert [exchange.status for exchange in exchanges] == [200, 400, 200, 400, 200, 400, 200]
    assert exchanges[5].body["input"] == [LONG.decode().strip()]


def test_an_upstream_that_refuses_every_input_costs_a_backfill_two_more_requests(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> None:
    store_id, ids = _indexed_without_embeddings(upstream, make_server, database_url)
    upstream.embedding_context = 1  # every text is longer: the cause is not one text
    server = make_server(database_url=database_url, upstream=settings_for(upstream, embedding_model=MODEL))
    with server.client() as client:
        for _ in range(2):  # searched by words; nothing is remembered as refused
            assert (
                client.vector_stores.search(store_id, query="harbour ships").data[0].file_id
                == ids["port.txt"]
            )
    assert _rows(database_url, "server_vector_store_chunk_embeddings") == []
    # Per search: the query, then the three chunks, then both halves refused: no further split.
    sizes = [len(exchange.body["input"]) for exchange in _embedding_requests(upstream)]
    assert sizes == [1, 3, 1, 2] * 2


def test_refusals_expire_and_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    refusals = Refusals(clock=lambda: now[0])
    monkeypatch.setattr(Refusals, "MAX_REFUSALS", 3)
    refusals.add("m", [1, 2])
    refusals.add("other", [1])
    assert refusals.current("m") == [1, 2] and refusals.current("other") == [1]
    refusals.add("m", [1, 3])  # 1 refused again: its wait starts over; the oldest entry goes
    assert sorted(refusals.current("m")) == [1, 3] and refusals.current("other") == [1]
    now[0] = Refusals.RETRY_REFUSED_SECONDS + 1
    assert refusals.current("m") == [] and refusals.current("other") == []


def test_a_lone_chunk_the_model_refuses_is_left_out_once_other_texts_were_embedded(
    upstream: ScriptedUpstream, make_server: Callable[..., LocalServer], database_url: str
) -> None:
    first = make_server(database_url=database_url, upstream=settings_for(upstream))
    with first.client() as client:
        file = client.files.create(file=("long.txt", io.BytesIO(LONG)), purpose="assistants")
        store = client.vector_stores.create(file_ids=[file.id])
    first.stop()
    upstream.embedding_context = 100
    server = make_server(database_url=database_url, upstream=settings_for(upstream, embedding_model=MODEL))
    with server.client() as client:
        for _ in range(2):
            assert client.vector_stores.search(store.id, query="energy").data[0].file_id == file.id
    assert _rows(database_url, "server_vector_store_chunk_embeddings") == []
    # The query is embedded, so the lone chunk's refusal is its own: the second search skips it.
    statuses = [exchange.status for exchange in _embedding_requests(upstream)]
    assert statuses == [200, 400, 200]
