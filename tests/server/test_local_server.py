"""``LocalServer``, the pytest fixtures, the ``/_assistdb`` extensions and seeding."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import openai
import pytest

from assistdb.server import LocalServer, ServerConfig, create_app


def test_context_manager_starts_and_stops_cleanly() -> None:
    before = set(threading.enumerate())
    with LocalServer(run_latency=0.05) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.url == f"http://127.0.0.1:{server.port}"
        with server.client() as client:
            client.beta.assistants.list()
    started = time.monotonic()
    while set(threading.enumerate()) - before and time.monotonic() - started < 2:
        time.sleep(0.01)
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/_assistdb/health")


def test_start_stop_is_quick_and_idempotent() -> None:
    server = LocalServer()
    server.start()
    with pytest.raises(RuntimeError):
        server.start()
    stopping = time.monotonic()
    server.stop()
    server.stop()
    # Stopping does not sit out uvicorn's polling or graceful-shutdown intervals (a bound this
    # loose only catches that, not a slow machine).
    assert time.monotonic() - stopping < 2
    with pytest.raises(RuntimeError):
        server.stats()


def test_plugin_fixtures(assistdb_server: LocalServer, assistdb_server_factory: Any) -> None:
    assert assistdb_server.config.run_latency == 0.05 and assistdb_server.config.poll_after_ms == 50
    other = assistdb_server_factory(api_key="sk-test", run_latency=0.2)
    assert other.port != assistdb_server.port and other.config.run_latency == 0.2
    with other.client() as client:
        assert client.api_key == "sk-test"
        assert client.beta.assistants.list().data == []


def test_stats_count_routes_and_reset(server: LocalServer) -> None:
    with server.client() as client:
        thread = client.beta.threads.create()
        for _ in range(3):
            client.beta.threads.messages.list(thread_id=thread.id)
        client.beta.threads.retrieve(thread.id)
    stats = server.stats()
    assert stats["total"] == 5
    assert stats["by_route"] == {
        "POST /v1/threads": 1,
        "GET /v1/threads/{thread_id}/messages": 3,
        "GET /v1/threads/{thread_id}": 1,
    }
    with httpx.Client(verify=False) as raw:
        assert raw.get(f"{server.url}/_assistdb/stats").json()["total"] == 5
        assert raw.post(f"{server.url}/_assistdb/stats/reset").json()["total"] == 0
        assert raw.get(f"{server.url}/_assistdb/health").json() == {"status": "ok"}
        assert raw.get(f"{server.url}/_assistdb/nothing").status_code == 404
    server.reset_stats()
    assert server.stats() == {"total": 0, "faults": 0, "by_route": {}}


def test_on_response_sees_every_json_response(server: LocalServer) -> None:
    seen: list[tuple[str, int]] = []
    server.on_response = lambda operation, status, body: seen.append((operation, status))
    with server.client() as client:
        client.beta.assistants.create(model="gpt-4o")
        with pytest.raises(openai.NotFoundError):
            client.beta.threads.retrieve("thread_nope")
    assert seen == [("createAssistant", 200), ("getThread", 404)]


def test_seed_thread_builds_api_identical_objects(server: LocalServer) -> None:
    thread_id = server.seed_thread(messages=10, runs=3, metadata={"kind": "seeded"})
    with server.client() as client:
        thread = client.beta.threads.retrieve(thread_id)
        assert thread.metadata == {"kind": "seeded"}
        messages = client.beta.threads.messages.list(thread_id=thread_id, order="asc").data
        assert len(messages) == 10
        replies = [m for m in messages if m.role == "assistant"]
        assert len(replies) == 3
        assert [m.created_at for m in messages] == sorted(m.created_at for m in messages)
        runs = client.beta.threads.runs.list(thread_id=thread_id).data
        assert len(runs) == 3 and all(run.status == "completed" and run.usage is not None for run in runs)
        for reply in replies:
            assert reply.run_id is not None and reply.assistant_id is not None and reply.status == "completed"
            (step,) = client.beta.threads.runs.steps.list(run_id=reply.run_id, thread_id=thread_id).data
            assert step.status == "completed" and step.step_details.message_creation.message_id == reply.id
            assert step.usage is not None
            assert reply.content[0].text.value.startswith("You said: Seeded message")
        assistant = client.beta.assistants.retrieve(runs[0].assistant_id)
        assert assistant.model == "gpt-4o"
        # a seeded thread behaves like any other
        client.beta.threads.messages.create(thread_id=thread_id, role="user", content="and now?")
        run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant.id)
        assert run.status == "completed"
        assert run.usage.prompt_tokens > runs[0].usage.prompt_tokens


def test_seed_over_http(server: LocalServer) -> None:
    with server.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4.1")
    with httpx.Client(verify=False) as raw:
        answer = raw.post(
            f"{server.url}/_assistdb/seed", json={"messages": 4, "runs": 2, "assistant_id": assistant.id}
        )
        assert answer.status_code == 200
        thread_id = answer.json()["thread_id"]
        bad = raw.post(f"{server.url}/_assistdb/seed", json={"messages": 1, "runs": 2})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "runs"
        unknown = raw.post(f"{server.url}/_assistdb/seed", json={"messages": 1, "assistant_id": "asst_nope"})
        assert unknown.status_code == 404
        wrong = raw.post(f"{server.url}/_assistdb/seed", json={"messages": "many"})
        assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "messages"
    with server.client() as client:
        runs = client.beta.threads.runs.list(thread_id=thread_id).data
        assert {run.assistant_id for run in runs} == {assistant.id} and runs[0].model == "gpt-4.1"
    with pytest.raises(ValueError, match="cannot exceed"):
        server.seed_thread(messages=1, runs=5)


def test_seeding_a_large_thread_stores_every_message_in_order(make_server: Any) -> None:
    """How fast seeding is belongs to benchmarks/bench_server.py; here, that it is complete."""
    server = make_server(on_response=None)
    thread_id = server.seed_thread(messages=20_000, runs=200)
    with server.client() as client:
        newest = client.beta.threads.messages.list(thread_id=thread_id, limit=1).data[0]
        oldest = client.beta.threads.messages.list(thread_id=thread_id, limit=1, order="asc").data[0]
        page = client.beta.threads.messages.list(thread_id=thread_id, limit=100, after=oldest.id, order="asc")
        assert newest.role == "assistant" and oldest.role == "user"
        assert len(page.data) == 100 and page.has_more
        assert len(client.beta.threads.runs.list(thread_id=thread_id, limit=100).data) == 100


def test_create_app_is_a_plain_asgi_app() -> None:
    app = create_app(ServerConfig(run_latency=0.1))
    assert callable(app) and app.config.run_latency == 0.1
    with pytest.raises(ValueError, match="rate_limit_share"):
        ServerConfig(rate_limit_share=2)
