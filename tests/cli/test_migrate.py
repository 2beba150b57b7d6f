"""``assistdb threads migrate``: archived threads become conversations, item for item, resumably.

The local server plays both parts: it holds the threads (made through the SDK or seeded), the
archive syncs them, and the same server's Conversations API is the migration's target.
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from assistdb import AssistDB
from assistdb.migration.journal import ITEMS
from assistdb.server import LocalServer
from assistdb.store import Filters, Store
from assistdb.sync import sync_thread
from tests import factories
from tests.cli.conftest import Cli, subprocess_env

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PARALLEL_ROUNDS = (
    '/tool weather {"city": "Oslo"}\n/tool time {}\n/then\n/tool weather {"city": "Rome"}\n/tool time {}'
)
TOOLS: Any = [
    {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "time", "parameters": {"type": "object"}}},
]


def archive(cli: Cli, *thread_ids: str) -> None:
    with AssistDB(cli.database_url, client=cli.server.client()) as db:
        for thread_id in thread_ids:
            assert sync_thread(db, thread_id).error is None


def archived_texts(cli: Cli, thread_id: str) -> list[str]:
    store = Store(cli.database_url)
    try:
        bodies = [v.body for v in store.reader.iter_find("message", Filters(thread_id=thread_id))]
    finally:
        store.close()
    return ["".join(p["text"]["value"] for p in b["content"] if p["type"] == "text") for b in bodies]


def conversation_items(cli: Cli, conversation_id: str) -> list[dict[str, Any]]:
    sdk = cli.server.client()
    return [item.to_dict() for item in sdk.conversations.items.list(conversation_id, order="asc", limit=100)]


def item_text(item: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in item.get("content", []))


def tool_thread(cli: Cli) -> str:
    """A thread whose run called two functions in parallel, twice, then answered."""
    sdk = cli.server.client()
    assistant = sdk.beta.assistants.create(model="gpt-4o", tools=TOOLS)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": PARALLEL_ROUNDS}])
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=20
    )
    while run.status == "requires_action":
        assert run.required_action is not None
        outputs: Any = [
            {"tool_call_id": c.id, "output": f"out {c.function.name}"}
            for c in run.required_action.submit_tool_outputs.tool_calls
        ]
        run = sdk.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=thread.id, run_id=run.id, tool_outputs=outputs, poll_interval_ms=20
        )
    assert run.status == "completed"
    sdk.beta.threads.messages.create(thread.id, role="user", content="thanks")
    return thread.id


def test_threads_of_every_size_become_equal_conversations(run_cli: Cli) -> None:
    server = run_cli.server
    sizes = {n: server.seed_thread(messages=n, runs=n // 3) for n in (0, 1, 20, 21, 1000)}
    limit_metadata = {f"k{n}": f"v{n}" for n in range(16)}
    full = server.seed_thread(messages=3, metadata=limit_metadata)
    roomy = server.seed_thread(messages=2, metadata={f"k{n}": "v" for n in range(15)})
    tools = tool_thread(run_cli)
    archive(run_cli, *sizes.values(), full, roomy, tools)

    plan = run_cli.json("threads", "migrate", *sizes.values(), "--dry-run")
    assert [(p["items"], p["batches"], p["status"]) for p in plan] == [
        (0, 1, "planned"),
        (1, 1, "planned"),
        (20, 1, "planned"),
        (21, 2, "planned"),
        (1000, 50, "planned"),
    ]
    # the dry run sent nothing to the Conversations API
    assert not any("conversations" in route for route in server.stats()["by_route"])

    outcomes = run_cli.json("threads", "migrate", *sizes.values(), full, roomy, tools)
    assert all(o["status"] == "migrated" for o in outcomes), outcomes
    sdk = server.client()
    for outcome, (size, thread_id) in zip(outcomes, sizes.items(), strict=False):
        items = conversation_items(run_cli, outcome["conversation_id"])
        assert len(items) == size == outcome["sent"]
        assert [item_text(i) for i in items] == archived_texts(run_cli, thread_id)
        roles = [i["role"] for i in items]
        assert roles == [
            ("assistant" if (i["content"][0]["type"] == "output_text") else "user") for i in items
        ]
        assert len({i["id"] for i in items}) == size
        conversation = sdk.conversations.retrieve(outcome["conversation_id"])
        assert conversation.metadata == {"assistdb_thread_id": thread_id}

    full_outcome, roomy_outcome, tools_outcome = outcomes[5:]
    assert sdk.conversations.retrieve(full_outcome["conversation_id"]).metadata == limit_metadata
    assert any("16 pairs" in note for note in full_outcome["notes"])
    assert sdk.conversations.retrieve(roomy_outcome["conversation_id"]).metadata == {
        **{f"k{n}": "v" for n in range(15)},
        "assistdb_thread_id": roomy,
    }

    # two rounds of parallel calls: calls, then their outputs, where they happened
    items = conversation_items(run_cli, tools_outcome["conversation_id"])
    assert [i["type"] for i in items] == [
        "message",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "message",
        "message",
    ]
    calls = [i for i in items if i["type"] == "function_call"]
    outputs = [i for i in items if i["type"] == "function_call_output"]
    assert [c["call_id"] for c in calls] == [o["call_id"] for o in outputs]
    assert [json.loads(c["arguments"]).get("city") for c in calls if c["name"] == "weather"] == [
        "Oslo",
        "Rome",
    ]
    assert items[-2]["role"] == "assistant" and item_text(items[-1]) == "thanks"

    # the journal holds each item once, at its position, with the ID the target gave it
    store = Store(run_cli.database_url)
    try:
        with store.database.read() as connection:
            for outcome in outcomes:
                rows = connection.execute(
                    select(ITEMS.c.position, ITEMS.c.item_id)
                    .where(ITEMS.c.conversation_id == outcome["conversation_id"])
                    .order_by(ITEMS.c.position)
                ).all()
                items = conversation_items(run_cli, outcome["conversation_id"])
                assert [(row.position, row.item_id) for row in rows] == list(
                    enumerate(i["id"] for i in items)
                )
    finally:
        store.close()

    # a rerun finds everything done: same conversations, nothing sent
    again = run_cli.json("threads", "migrate", *sizes.values(), full, roomy, tools)
    assert [o["conversation_id"] for o in again] == [o["conversation_id"] for o in outcomes]
    assert all(o["status"] == "migrated" and o["sent"] == 0 for o in again)


def test_lossy_threads_are_refused_unless_allowed_and_bad_ones_fail_alone(run_cli: Cli) -> None:
    sdk = run_cli.server.client()
    # an image file that the thread cites but that is gone from the target by migration time
    picture = sdk.files.create(
        file=("cat.png", b"\x89PNG\r\n\x1a\n not really", "image/png"), purpose="vision"
    )
    images = sdk.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
                    },
                    {"type": "image_file", "image_file": {"file_id": picture.id}},
                ],
            }
        ]
    )
    plain = run_cli.server.seed_thread(messages=25)
    archive(run_cli, images.id, plain)
    sdk.files.delete(picture.id)

    dry = run_cli("threads", "migrate", images.id, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"image file {picture.id} is not on the target" in dry.stderr

    refused = run_cli("threads", "migrate", images.id, plain, "thread_notarchived", "--json")
    assert refused.exit_code == 9, refused.output
    outcomes = {o["thread_id"]: o for o in json.loads(refused.stdout)}
    assert outcomes[images.id]["status"] == "refused" and outcomes[images.id]["conversation_id"] is None
    assert outcomes[plain]["status"] == "migrated"
    assert outcomes["thread_notarchived"]["status"] == "failed"
    assert "the archive has no thread thread_notarchived" in outcomes["thread_notarchived"]["error"]
    assert "error: 2 of 3 thread(s) were not migrated" in refused.stderr

    allowed = run_cli.json("threads", "migrate", images.id, "--allow-lossy")
    items = conversation_items(run_cli, allowed[0]["conversation_id"])
    assert items[0]["content"] == [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "detail": "low", "file_id": None, "image_url": "https://example.com/cat.png"},
        {"type": "input_text", "text": f"[image file {picture.id} not migrated]"},
    ]


def test_a_batch_the_endpoint_rejects_fails_that_thread_only(run_cli: Cli) -> None:
    good = run_cli.server.seed_thread(messages=5)
    archive(run_cli, good)
    # a thread archived from elsewhere whose tool call ID is longer than Conversations allow
    store = Store(run_cli.database_url)
    bad_call = "call_" + "x" * 70
    call = {"id": bad_call, "type": "function", "function": {"name": "f", "arguments": "{}", "output": "1"}}
    step = {
        "id": "step_1",
        "object": "thread.run.step",
        "created_at": 1_700_000_099,
        "run_id": "run_1",
        "thread_id": "thread_bad",
        "assistant_id": "asst_a",
        "type": "tool_calls",
        "status": "completed",
        "step_details": {"type": "tool_calls", "tool_calls": [call]},
    }
    messages = [
        factories.message(f"msg_{n}", "thread_bad", text=f"m{n}", created_at=1_700_000_000 + n)
        for n in range(30)
    ]
    messages.append(
        factories.message(
            "msg_reply", "thread_bad", role="assistant", run_id="run_1", created_at=1_700_000_100
        )
    )
    store.record([factories.thread("thread_bad"), *messages, factories.run("run_1", "thread_bad"), step])
    store.close()

    result = run_cli("threads", "migrate", "thread_bad", good, "--json")
    assert result.exit_code == 9, result.output
    outcomes = {o["thread_id"]: o for o in json.loads(result.stdout)}
    bad = outcomes["thread_bad"]
    assert bad["status"] == "failed" and "the endpoint refused a request: 400" in bad["error"]
    assert "call_id" in bad["error"]
    # its first batch went in; the rejected one did not, and nothing after it
    assert len(conversation_items(run_cli, bad["conversation_id"])) == 20
    assert outcomes[good]["status"] == "migrated"


def test_retries_ride_out_a_flaky_endpoint(run_cli: Cli) -> None:
    thread_id = run_cli.server.seed_thread(messages=120, runs=40)
    archive(run_cli, thread_id)
    server = run_cli.server

    def settle(operation: str, status: int, body: object) -> None:
        if status == 429 or status >= 500:  # the first request failed: from now on, three in ten
            server.configure(fault_rate=0.3)

    # The first request fails for sure (a 30% rate alone left some runs without any fault).
    server.on_response = settle
    server.configure(fault_rate=1.0)
    try:
        outcome = run_cli.json("threads", "migrate", thread_id, "--retries", "20")[0]
    finally:
        server.on_response = None
        server.configure(fault_rate=0.0)
    assert outcome["status"] == "migrated"
    items = conversation_items(run_cli, outcome["conversation_id"])
    assert [item_text(i) for i in items] == archived_texts(run_cli, thread_id)
    assert run_cli.server.stats()["faults"] > 0


def test_kill_9_anywhere_then_rerun_gives_each_item_once(
    assistdb_server_factory: Callable[..., LocalServer], sqlite_url: str, assistdb_process: Any
) -> None:
    server = assistdb_server_factory(latency=0.01)
    cli = Cli(server, sqlite_url)
    big = server.seed_thread(messages=1000, runs=300)
    small = [server.seed_thread(messages=n, runs=n // 2) for n in (1, 21, 45)]
    archive(cli, big, *small)
    env = subprocess_env(OPENAI_API_KEY=server.api_key)
    args = ("--db", sqlite_url, "--base-url", server.base_url, "threads", "migrate", big, *small)
    rng = random.Random(14)
    route = "POST /v1/conversations/{conversation_id}/items"
    kills = 0
    while kills < 10:
        before = server.stats()["by_route"].get(route, 0)
        process = assistdb_process(*args, env=env)
        deadline = time.monotonic() + 30
        wanted = before + rng.randint(1, 4)
        while server.stats()["by_route"].get(route, 0) < wanted and process.poll() is None:
            assert time.monotonic() < deadline, "the migration made no progress"
            time.sleep(0.002)
        time.sleep(rng.random() * 0.02)
        if process.poll() is not None:
            break  # it finished before this kill
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    assert kills >= 5, "too few kills landed mid-migration"
    final = assistdb_process(*args, "--json", env=env)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    outcomes = json.loads(out)
    assert [o["status"] for o in outcomes] == ["migrated"] * 4
    for outcome in outcomes:
        items = conversation_items(cli, outcome["conversation_id"])
        assert [item_text(i) for i in items] == archived_texts(cli, outcome["thread_id"])
    # no conversation twice either: kills only landed after the big thread's conversation existed
    from assistdb.server import tables

    app = server._running_app()
    with app.store.reading() as tx:
        bodies = [json.loads(b) for b in tx.connection.execute(select(tables.conversations.c.body)).scalars()]
    per_thread = [b["metadata"].get("assistdb_thread_id") for b in bodies]
    assert per_thread.count(big) == 1
