"""Injected faults and latency: reproducible with a seed, survivable with the SDK's retries."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

BETA = {"OpenAI-Beta": "assistants=v2"}


def statuses(server: Any, count: int) -> list[int]:
    with httpx.Client(verify=False, headers=BETA) as raw:
        return [raw.get(f"{server.base_url}/assistants").status_code for _ in range(count)]


def test_seeded_faults_are_reproducible(make_server: Any) -> None:
    first = statuses(make_server(fault_rate=0.5, seed=7), 40)
    second = statuses(make_server(fault_rate=0.5, seed=7), 40)
    other = statuses(make_server(fault_rate=0.5, seed=8), 40)
    assert first == second
    assert first != other
    assert set(first) <= {200, 429, 500, 502, 503} and 200 in first and len(set(first)) > 2


def test_fault_shapes_and_headers(make_server: Any) -> None:
    limited = make_server(fault_rate=1.0, rate_limit_share=1.0, seed=1)
    with httpx.Client(verify=False, headers=BETA) as raw:
        response = raw.get(f"{limited.base_url}/assistants")
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1" and response.headers["retry-after-ms"] == "100"
        assert response.json()["error"]["code"] == "rate_limit_exceeded"
        broken = make_server(fault_rate=1.0, rate_limit_share=0.0, seed=1)
        codes = set()
        for _ in range(20):
            failed = raw.get(f"{broken.base_url}/assistants")
            codes.add(failed.status_code)
            assert failed.json()["error"]["type"] == "server_error"
        assert codes <= {500, 502, 503} and len(codes) > 1


def test_faults_change_no_state(make_server: Any) -> None:
    server = make_server(fault_rate=1.0, seed=3)
    with server.client(max_retries=0) as client:
        with pytest.raises(openai.APIStatusError):
            client.beta.assistants.create(model="gpt-4o")
        server.configure(fault_rate=0.0)
        assert client.beta.assistants.list().data == []
    assert server.stats()["faults"] == 1


def test_sdk_retries_get_through(make_server: Any) -> None:
    server = make_server(fault_rate=0.3, rate_limit_share=1.0, seed=11)
    with server.client(max_retries=10) as client:
        assistant = client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "/tool f {}"}])
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        run = client.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "x"}]
        )
        assert run.status == "completed"
        assert len(client.beta.threads.messages.list(thread_id=thread.id).data) == 2
        assert len(client.beta.assistants.list().data) == 1
    stats = server.stats()
    assert stats["faults"] > 0 and stats["total"] > stats["faults"]


def test_streams_fault_only_before_they_start(make_server: Any) -> None:
    server = make_server(fault_rate=1.0, rate_limit_share=0.0, seed=5)
    with server.client(max_retries=0) as client:
        server.configure(fault_rate=0.0)
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        server.configure(fault_rate=1.0)
        with pytest.raises(openai.InternalServerError):
            client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True)
        server.configure(fault_rate=0.0)
        assert client.beta.threads.runs.list(thread_id=thread.id).data == []


def test_latency_and_spikes(make_server: Any) -> None:
    server = make_server(latency=0.2)
    with server.client() as client:
        client.beta.assistants.list()
        started = time.monotonic()
        client.beta.assistants.list()
        assert time.monotonic() - started >= 0.2
        server.configure(latency=0.0, spike_rate=1.0, spike=0.3)
        started = time.monotonic()
        client.beta.assistants.list()
        assert time.monotonic() - started >= 0.3
        server.configure(spike_rate=0.0)
        started = time.monotonic()
        with httpx.Client(verify=False) as raw:
            server.configure(latency=5.0)
            assert raw.get(f"{server.url}/_assistdb/health").json() == {"status": "ok"}
        assert time.monotonic() - started < 1.0


def test_configure_refuses_bad_settings(make_server: Any) -> None:
    server = make_server()
    with pytest.raises(ValueError, match="fault_rate"):
        server.configure(fault_rate=1.5)
    with pytest.raises(TypeError, match="api_key"):
        server.configure(api_key="x")
    assert server.config.fault_rate == 0.0
