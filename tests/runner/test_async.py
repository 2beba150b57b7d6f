"""The asyncio engine: the same rules, with ``AsyncOpenAI`` and the archive off the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import openai
import pytest

from assistdb import AsyncAssistDB, RunTimeoutError, ToolRegistry, tool
from assistdb.repositories import api
from assistdb.server import LocalServer
from tests.runner.slow_link import SlowLink


@tool
async def fetch(key: str) -> str:
    await asyncio.sleep(0.05)
    return f"value of {key}"


@tool(timeout=0.2)
def blocking(n: int) -> int:
    time.sleep(0.01 if n else 5)
    return n


@pytest.fixture
async def adb(database_url: str, assistdb_server: LocalServer) -> AsyncIterator[AsyncAssistDB]:
    async with AsyncAssistDB(database_url, client=assistdb_server.async_client()) as opened:
        yield opened


async def assistant(adb: AsyncAssistDB, registry: ToolRegistry | None = None) -> str:
    tools = registry.definitions() if registry else []
    created = await api.acall(adb.client.beta.assistants.create, model="gpt-4o", tools=tools)
    return str(created.id)


async def reply(adb: AsyncAssistDB, thread_id: str, run_id: str) -> str:
    found = await asyncio.to_thread(adb.store.reader.find, "message")
    texts = [
        version.body["content"][0]["text"]["value"]
        for version in found
        if version.body.get("run_id") == run_id and version.thread_id == thread_id
    ]
    assert len(texts) == 1
    return str(texts[0])


@pytest.mark.parametrize("stream", [False, True])
async def test_async_tools_and_blocking_tools_answer_a_run(adb: AsyncAssistDB, stream: bool) -> None:
    registry = ToolRegistry([fetch, blocking])
    thread = await adb.threads.create()
    await adb.messages.create(
        thread.id, content='/tool fetch {"key": "a"}\n/tool blocking {"n": 3}\n/then\n/tool blocking {"n": 0}'
    )
    run = await adb.runs.create_and_wait(
        thread.id, assistant_id=await assistant(adb, registry), tools=registry, stream=stream
    )
    assert run.status == "completed"
    assert await reply(adb, thread.id, run.id) == (
        'fetch -> value of a\nblocking -> 3\nblocking -> {"error": "blocking did not finish within 0.2 s", '
        '"type": "timeout"}'
    )
    history = await asyncio.to_thread(adb.store.reader.history, run.id)
    assert [v.body["status"] for v in history][-1] == "completed"
    steps = await asyncio.to_thread(lambda: adb.store.reader.count("run_step"))
    assert steps == 3
    states = await asyncio.to_thread(adb.store.tools.calls_of_run, run.id)
    assert [state.events for state in states.values()] == [["started", "finished", "submitted"]] * 3


async def test_async_wait_on_a_created_run(adb: AsyncAssistDB) -> None:
    thread = await adb.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = await adb.runs.create(thread.id, assistant_id=await assistant(adb))
    assert (await adb.runs.retrieve(run.id)).id == run.id
    finished = await adb.runs.wait(run.id)
    assert finished.status == "completed"
    assert await reply(adb, thread.id, run.id) == "You said: hi"


async def test_async_timeout_cancels_the_run(adb: AsyncAssistDB) -> None:
    thread = await adb.threads.create(messages=[{"role": "user", "content": "/sleep 30\nslow"}])
    with pytest.raises(RunTimeoutError, match="it was cancelled") as raised:
        await adb.runs.create_and_wait(thread.id, assistant_id=await assistant(adb), timeout=0.3)
    assert raised.value.run.status == "cancelling"  # type: ignore[attr-defined]


async def test_cancelling_the_waiting_task_cancels_the_run(adb: AsyncAssistDB) -> None:
    thread = await adb.threads.create(messages=[{"role": "user", "content": "/sleep 30\nslow"}])
    run = await adb.runs.create(thread.id, assistant_id=await assistant(adb))
    waiting = asyncio.create_task(adb.runs.wait(run.id))
    await asyncio.sleep(0.3)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert (await adb.runs.retrieve(run.id)).status in ("cancelling", "cancelled")
    history = await asyncio.to_thread(adb.store.reader.history, run.id)
    assert "cancelling" in [version.body["status"] for version in history]


async def test_async_create_answered_after_the_timeout_finds_its_run_and_cancels_it(
    sqlite_url: str, assistdb_server: LocalServer
) -> None:
    """As on the blocking face (see test_timeouts): the late create's run is found and cancelled."""
    async with AsyncAssistDB(sqlite_url, client=assistdb_server.async_client()) as direct:
        thread = await direct.threads.create(messages=[{"role": "user", "content": "/sleep 30\nslow"}])
        assistant_id = await assistant(direct)
    with SlowLink("127.0.0.1", assistdb_server.port, delay=0.6) as link:
        url = f"http://127.0.0.1:{link.port}/v1"
        slow = openai.AsyncOpenAI(base_url=url, api_key=assistdb_server.api_key)
        async with AsyncAssistDB(sqlite_url, client=slow) as adb:
            with pytest.raises(RunTimeoutError, match="it was cancelled") as raised:
                await adb.runs.create_and_wait(thread.id, assistant_id=assistant_id, timeout=0.3, stream=True)
    async with AsyncAssistDB(sqlite_url, client=assistdb_server.async_client()) as direct:
        runs = [run async for run in direct.runs.list(thread.id)]
        assert [run.id for run in runs] == [raised.value.run.id]  # type: ignore[attr-defined]
