"""Planning a thread's conversation from archived bodies: order, mapping and lossy parts."""

from __future__ import annotations

from typing import Any

from assistdb.migration.planning import SOURCE_KEY, plan_thread
from tests import factories


def step(step_id: str, run_id: str, created_at: int, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": step_id,
        "object": "thread.run.step",
        "run_id": run_id,
        "thread_id": "thread_a",
        "created_at": created_at,
        "type": details["type"],
        "status": "completed",
        "step_details": details,
    }


def function_call(call_id: str, output: str | None) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}", "output": output}}


def test_a_run_that_wrote_no_message_keeps_its_calls_where_they_happened() -> None:
    messages = [
        factories.message("msg_1", text="first", created_at=10),
        factories.message("msg_2", text="second", created_at=30),
    ]
    failed = factories.run("run_1", status="failed", created_at=20)
    steps = [
        step("step_1", "run_1", 21, {"type": "tool_calls", "tool_calls": [function_call("call_1", "out")]})
    ]

    plan = plan_thread(factories.thread(), messages, [failed], steps)

    assert [(i["type"], i.get("call_id")) for i in plan.items] == [
        ("message", None),
        ("function_call", "call_1"),
        ("function_call_output", "call_1"),
        ("message", None),
    ]
    assert plan.metadata == {SOURCE_KEY: "thread_a"} and plan.lossy == []


def test_calls_come_before_the_reply_of_their_run_and_lossy_parts_are_named() -> None:
    reply = factories.message("msg_2", role="assistant", run_id="run_1", created_at=12)
    reply["content"][0]["text"]["annotations"] = [{"type": "file_citation", "text": "[1]"}]
    question = factories.message("msg_1", text="q", created_at=10)
    question["attachments"] = [{"file_id": "file-1", "tools": [{"type": "file_search"}]}]
    steps = [
        step(
            "step_1",
            "run_1",
            11,
            {
                "type": "tool_calls",
                "tool_calls": [
                    function_call("call_1", None),
                    {
                        "id": "call_2",
                        "type": "code_interpreter",
                        "code_interpreter": {"input": "1+1", "outputs": []},
                    },
                    {
                        "id": "call_3",
                        "type": "file_search",
                        "file_search": {
                            "results": [
                                {
                                    "file_id": "file-1",
                                    "file_name": "a.txt",
                                    "score": 0.5,
                                    "content": [{"type": "text", "text": "hit"}],
                                }
                            ]
                        },
                    },
                ],
            },
        ),
        step(
            "step_2", "run_1", 12, {"type": "message_creation", "message_creation": {"message_id": "msg_2"}}
        ),
    ]

    plan = plan_thread(factories.thread(), [question, reply], [factories.run("run_1", created_at=11)], steps)

    assert [i["type"] for i in plan.items] == ["message", "function_call", "file_search_call", "message"]
    assert plan.items[2]["results"] == [
        {"file_id": "file-1", "filename": "a.txt", "score": 0.5, "text": "hit"}
    ]
    assert plan.items[3] == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "hello", "annotations": []}],
    }
    assert plan.lossy == [
        "message msg_1: 1 attachment(s) not carried over",
        "step step_1: a code_interpreter call has no item form here; left out",
        "message msg_2: 1 text annotation(s) dropped",
    ]
    assert plan.notes == ["step step_1: call call_1 never got an output"]
    assert [len(batch) for batch in plan.batches()] == [4]
