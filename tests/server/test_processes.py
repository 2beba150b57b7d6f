"""Many ``assistdb serve`` processes on one database, and processes killed with SIGKILL mid-run.

Every run ends in a true state or carries on under another process; no assistant message is
written twice or lost; the database keeps one active run per thread across processes; a stream
can be read from a process that does not drive the run.
"""

from __future__ import annotations

import concurrent.futures
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import create_postgres_database, drop_postgres_database, postgres_admin_url

LISTENING = re.compile(r"^assistdb server listening on (http://127\.0\.0\.1:\d+/v1)$")
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}


class Serve:
    """An ``assistdb serve`` subprocess on a shared database, with fast leases and sweeps."""

    def __init__(self, database_url: str, *args: str) -> None:
        command = [sys.executable, "-m", "assistdb", "serve", "--port", "0", "--database-url", database_url]
        command += ["--lease-seconds", "1", "--sweep-interval", "0.1", "--poll-after-ms", "50", *args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().rstrip("\n")
        found = LISTENING.match(line)
        if found is None:
            self.process.kill()
            raise AssertionError(f"unexpected first line {line!r}: {self.process.communicate()[1]}")
        self.base_url = found.group(1)

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key="sk-any", max_retries=0)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.communicate()

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        self.process.communicate(timeout=15)
        return self.process.returncode

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[Serve] = []

    def start(database_url: str, *args: str) -> Serve:
        started.append(Serve(database_url, *args))
        return started[-1]

    yield start
    for process in started:
        process.end()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not postgres_admin_url():
        pytest.skip("PostgreSQL tests need ASSISTDB_TEST_POSTGRES_URL")
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def wait_for(
    client: openai.OpenAI, thread_id: str, run_id: str, statuses: set[str], timeout: float = 20
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        if run.status in statuses or time.monotonic() > deadline:
            return run
        time.sleep(0.05)


def assistant_messages(client: openai.OpenAI, thread_id: str) -> list[Any]:
    listed = client.beta.threads.messages.list(thread_id=thread_id, limit=100).data
    return [message for message in listed if message.role == "assistant"]


def test_kill_9_mid_reply_and_restart_on_sqlite(serve: Any, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    first = serve(url, "--run-latency", "0.3")
    with first.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "/sleep 2\nhello"}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        assert wait_for(client, thread.id, run.id, {"in_progress"}).status == "in_progress"
        assert [m.status for m in assistant_messages(client, thread.id)] == ["in_progress"]
    first.kill()

    second = serve(url, "--run-latency", "0.3")
    with second.client() as client:
        done = wait_for(client, thread.id, run.id, TERMINAL)
        assert done.status == "completed"
        replies = assistant_messages(client, thread.id)
        assert [(m.status, m.content[0].text.value) for m in replies] == [
            ("completed", "You said: /sleep 2\nhello")
        ]
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data
        assert [(s.type, s.status) for s in steps] == [("message_creation", "completed")]
        assert steps[0].step_details.message_creation.message_id == replies[0].id


def test_kill_9_while_waiting_for_tools_and_after_a_submission(serve: Any, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    first = serve(url, "--run-latency", "0.5")
    with first.client() as client:
        assistant = client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "/tool f {}"}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        waiting = wait_for(client, thread.id, run.id, {"requires_action"})
        assert waiting.status == "requires_action"
    first.kill()

    second = serve(url, "--run-latency", "0.5")
    with second.client() as client:
        still = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert still.status == "requires_action"
        call = still.required_action.submit_tool_outputs.tool_calls[0]
        queued = client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "out"}]
        )
        assert queued.status == "queued"
    second.kill()

    third = serve(url, "--run-latency", "0.5")
    with third.client() as client:
        done = wait_for(client, thread.id, run.id, TERMINAL)
        assert done.status == "completed"
        assert [m.content[0].text.value for m in assistant_messages(client, thread.id)] == ["f -> out"]
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
        assert [(s.type, s.status) for s in steps] == [
            ("tool_calls", "completed"),
            ("message_creation", "completed"),
        ]
        assert httpx.get(third.base_url.replace("/v1", "/_assistdb/health")).json() == {"status": "ok"}


@pytest.mark.slow
def test_three_processes_on_postgres(serve: Any, postgres_url: str) -> None:
    processes = [serve(postgres_url, "--run-latency", "0.3") for _ in range(3)]
    clients = [process.client() for process in processes]
    assistant = clients[0].beta.assistants.create(model="gpt-4o")

    # Concurrent clients on all three processes: the database admits one active run per thread.
    contested = clients[1].beta.threads.create(messages=[{"role": "user", "content": "/sleep 1\nonly one"}])

    def create(index: int) -> str | None:
        try:
            return (
                clients[index % 3]
                .beta.threads.runs.create(thread_id=contested.id, assistant_id=assistant.id)
                .id
            )
        except openai.BadRequestError as exc:
            assert "already has an active run" in str(exc)
            return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        winners = [run_id for run_id in pool.map(create, range(12)) if run_id is not None]
    assert len(winners) == 1

    # Runs driven by the first process carry on elsewhere once it is killed mid-reply.
    threads = [
        clients[0].beta.threads.create(messages=[{"role": "user", "content": f"/sleep 1.5\nnumber {i}"}])
        for i in range(4)
    ]
    runs = [clients[0].beta.threads.runs.create(thread_id=t.id, assistant_id=assistant.id) for t in threads]
    for thread, run in zip(threads, runs, strict=True):
        assert wait_for(clients[0], thread.id, run.id, {"in_progress"}).status == "in_progress"
    clients[0].close()
    processes[0].kill()
    # The second process stops gracefully while driving: its runs are handed over, not lost.
    handed = clients[1].beta.threads.create(messages=[{"role": "user", "content": "/sleep 1\nhanded over"}])
    handed_run = clients[1].beta.threads.runs.create(thread_id=handed.id, assistant_id=assistant.id)
    assert wait_for(clients[1], handed.id, handed_run.id, {"in_progress"}).status == "in_progress"
    clients[1].close()
    assert processes[1].terminate() == 0

    survivor = clients[2]
    for thread, run in [*zip(threads, runs, strict=True), (handed, handed_run)]:
        done = wait_for(survivor, thread.id, run.id, TERMINAL)
        assert done.status == "completed", done.status
        texts = [m.content[0].text.value for m in assistant_messages(survivor, thread.id)]
        user_text = survivor.beta.threads.messages.list(thread_id=thread.id, order="asc").data[0]
        assert texts == [f"You said: {user_text.content[0].text.value}"]
    assert wait_for(survivor, contested.id, winners[0], TERMINAL).status == "completed"
    survivor.close()


def test_a_stream_read_from_a_process_that_does_not_drive_the_run(
    make_server: Any, database_url: str
) -> None:
    front = make_server(database_url=database_url, max_runs=0)
    make_server(database_url=database_url, sweep_interval=0.05)
    with front.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "from the front"}])
        events: list[str] = []
        with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
            for event in stream:
                events.append(event.event)
            text = "".join(
                part.text.value for message in stream.get_final_messages() for part in message.content
            )
        assert [e for e in events if not e.endswith(".delta")] == [
            "thread.run.created",
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.step.created",
            "thread.run.step.in_progress",
            "thread.message.created",
            "thread.message.in_progress",
            "thread.message.completed",
            "thread.run.step.completed",
            "thread.run.completed",
        ]
        assert text == "You said: from the front"
        assert client.beta.threads.runs.list(thread_id=thread.id).data[0].status == "completed"


def test_health_answers_for_load_balancers_without_a_key(make_server: Any) -> None:
    server = make_server(api_key="sk-health-check")
    response = httpx.get(f"{server.url}/_assistdb/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/_assistdb/stats").status_code == 401


def test_kill_9_during_an_upstream_stream(serve: Any, tmp_path: Any) -> None:
    from assistdb.server.backends.scripted_upstream import Reply, ScriptedUpstream

    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    with ScriptedUpstream() as upstream:
        upstream.script(Reply(text="words that arrive slowly and are never finished", chunk_delay=0.3))
        first = serve(url, "--upstream-url", upstream.base_url)
        with first.client() as client:
            assistant = client.beta.assistants.create(model="gpt-4o")
            thread = client.beta.threads.create(messages=[{"role": "user", "content": "tell me"}])
            run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
            deadline = time.monotonic() + 15
            while len(upstream.requests[0].answers if upstream.requests else []) < 3:
                assert time.monotonic() < deadline
                time.sleep(0.02)
        first.kill()

        second = serve(url, "--upstream-url", upstream.base_url)
        with second.client() as client:
            done = wait_for(client, thread.id, run.id, TERMINAL)
            assert done.status == "completed"
            replies = assistant_messages(client, thread.id)
            assert [(m.status, m.content[0].text.value) for m in replies] == [
                ("completed", "You said: tell me")
            ]
            steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data
            assert [(s.type, s.status) for s in steps] == [("message_creation", "completed")]
        assert len(upstream.requests) == 2


def test_kill_9_around_tool_outputs_on_postgres(serve: Any, postgres_url: str) -> None:
    first, second = (serve(postgres_url, "--run-latency", "0.3") for _ in range(2))
    with first.client() as client:
        assistant = client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": "/tool f {}\n/then\n/tool f {}"}]
        )
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        assert wait_for(client, thread.id, run.id, {"requires_action"}).status == "requires_action"
    first.kill()  # while the run waits for tool outputs

    with second.client() as client:
        waiting = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        call = waiting.required_action.submit_tool_outputs.tool_calls[0]
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "one"}]
        )
    second.kill()  # right after a submission, while the second round is being driven

    third = serve(postgres_url, "--run-latency", "0.3")
    with third.client() as client:
        again = wait_for(client, thread.id, run.id, {"requires_action"} | TERMINAL)
        assert again.status == "requires_action"
        call = again.required_action.submit_tool_outputs.tool_calls[0]
        done = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "two"}]
        )
        assert done.status == "completed"
        assert [m.content[0].text.value for m in assistant_messages(client, thread.id)] == [
            "f -> one\nf -> two"
        ]
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
        assert [(s.type, s.status) for s in steps] == [
            ("tool_calls", "completed"),
            ("tool_calls", "completed"),
            ("message_creation", "completed"),
        ]


def test_kill_9_while_the_model_is_calling_tools(serve: Any, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    first = serve(url, "--run-latency", "0.3")
    with first.client() as client:
        assistant = client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "/sleep 2\n/tool f {}"}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        assert wait_for(client, thread.id, run.id, {"in_progress"}).status == "in_progress"
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data
        assert [(s.type, s.status) for s in steps] == [("tool_calls", "in_progress")]
    first.kill()

    second = serve(url, "--run-latency", "0.3")
    with second.client() as client:
        waiting = wait_for(client, thread.id, run.id, {"requires_action"} | TERMINAL)
        assert waiting.status == "requires_action"
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data
        assert [(s.id, s.type) for s in steps] == [(steps[0].id, "tool_calls")] and len(steps) == 1
        call = waiting.required_action.submit_tool_outputs.tool_calls[0]
        assert steps[0].step_details.tool_calls[0].id == call.id
        done = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "x"}]
        )
        assert done.status == "completed"
        assert [m.content[0].text.value for m in assistant_messages(client, thread.id)] == ["f -> x"]
