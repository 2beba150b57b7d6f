"""Run lifecycle through the SDK: every outcome of the scripted model, tool rounds, conflicts."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from assistdb.server import LocalServer


def start_thread(client: openai.OpenAI, text: str) -> Any:
    return client.beta.threads.create(messages=[{"role": "user", "content": text}])


def run_to_rest(client: openai.OpenAI, thread_id: str, assistant_id: str, **kwargs: Any) -> Any:
    return client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id, **kwargs)


def answer_all(client: openai.OpenAI, run: Any, output: str = "ok") -> Any:
    calls = run.required_action.submit_tool_outputs.tool_calls
    return client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=run.thread_id,
        run_id=run.id,
        tool_outputs=[
            {"tool_call_id": call.id, "output": f"{output}-{call.function.name}"} for call in calls
        ],
    )


def test_plain_message_completes_with_echo_reply_and_usage(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "Hello there")
    created = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert created.status == "queued"
    assert created.usage is None and created.started_at is None
    assert created.expires_at == created.created_at + 600
    run = client.beta.threads.runs.poll(run_id=created.id, thread_id=thread.id)
    assert run.status == "completed"
    assert run.completed_at is not None and run.started_at is not None and run.expires_at is None
    assert run.model == "gpt-4o" and run.instructions == "Be brief."
    assert [tool.function.name for tool in run.tools if tool.type == "function"] == [
        "lookup",
        "weather",
        "time",
    ]
    reply = client.beta.threads.messages.list(thread_id=thread.id).data[0]
    assert reply.role == "assistant" and reply.status == "completed"
    assert reply.content[0].text.value == "You said: Hello there"
    assert reply.assistant_id == assistant.id and reply.run_id == run.id and reply.completed_at is not None
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data
    assert len(steps) == 1
    step = steps[0]
    assert step.type == "message_creation" and step.status == "completed"
    assert step.step_details.message_creation.message_id == reply.id
    # tokens(text) = ceil(len/4): instructions "Be brief." = 3, user message 11 chars = 3
    assert step.usage.prompt_tokens == 3 + 3
    assert step.usage.completion_tokens == (len("You said: Hello there") + 3) // 4
    assert run.usage.model_dump() == step.usage.model_dump()
    assert client.beta.threads.runs.steps.retrieve(step.id, thread_id=thread.id, run_id=run.id) == step


def test_run_passes_through_queued_and_in_progress(make_server: Any) -> None:
    server = make_server(run_latency=0.6)
    with server.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = start_thread(client, "slow")
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        seen: list[str] = []
        while run.status in ("queued", "in_progress"):
            if run.status == "in_progress" and "in_progress" not in seen:
                # first sighting, ~0.1 s into a 0.6 s phase: the reply is being written
                message = client.beta.threads.messages.list(thread_id=thread.id).data[0]
                assert message.status == "in_progress" and message.content == []
            seen.append(run.status)
            time.sleep(0.05)
            run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert set(seen) == {"queued", "in_progress"}
        assert run.status == "completed"
        assert run.completed_at - run.created_at <= 1


def test_poll_header_carries_poll_after_ms(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "hi")
    raw = client.beta.threads.runs.with_raw_response.create(thread_id=thread.id, assistant_id=assistant.id)
    assert raw.headers["openai-poll-after-ms"] == "50"
    run = raw.parse()
    retrieved = client.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=thread.id)
    assert retrieved.headers["openai-poll-after-ms"] == "50"


def test_single_tool_call_round(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, '/tool lookup {"q": "cats"}')
    run = run_to_rest(client, thread.id, assistant.id)
    assert run.status == "requires_action"
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(call.function.name, call.function.arguments) for call in calls] == [("lookup", '{"q": "cats"}')]
    assert calls[0].id.startswith("call_") and len(calls[0].id) == 29
    step = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data[0]
    assert step.type == "tool_calls" and step.status == "in_progress" and step.usage is None
    assert step.step_details.tool_calls[0].function.output is None
    done = answer_all(client, run, "found")
    assert done.status == "completed" and done.required_action is None
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    assert (
        steps[0].status == "completed"
        and steps[0].step_details.tool_calls[0].function.output == "found-lookup"
    )
    reply = client.beta.threads.messages.list(thread_id=thread.id).data[0]
    assert reply.content[0].text.value == "lookup -> found-lookup"
    total = steps[0].usage.total_tokens + steps[1].usage.total_tokens
    assert done.usage.total_tokens == total
    # the second step's prompt also counts the tool output it saw
    assert steps[1].usage.prompt_tokens == steps[0].usage.prompt_tokens + (len("found-lookup") + 3) // 4


def test_three_parallel_calls_in_one_round(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, '/tool lookup {}\n/tool weather {"city": "Oslo"}\n/tool time')
    run = run_to_rest(client, thread.id, assistant.id)
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [call.function.name for call in calls] == ["lookup", "weather", "time"]
    assert calls[2].function.arguments == "{}"
    done = answer_all(client, run)
    assert done.status == "completed"
    text = client.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value
    assert text == "lookup -> ok-lookup\nweather -> ok-weather\ntime -> ok-time"


def test_two_rounds_need_two_submissions(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/tool lookup {}\n/then\n/tool weather {}")
    run = run_to_rest(client, thread.id, assistant.id)
    assert [c.function.name for c in run.required_action.submit_tool_outputs.tool_calls] == ["lookup"]
    second = answer_all(client, run)
    assert second.status == "requires_action"
    assert [c.function.name for c in second.required_action.submit_tool_outputs.tool_calls] == ["weather"]
    done = answer_all(client, second)
    assert done.status == "completed"
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
    assert [s.type for s in steps] == ["tool_calls", "tool_calls", "message_creation"]


def test_parallel_tool_calls_false_asks_one_call_per_round(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/tool lookup {}\n/tool weather {}")
    run = run_to_rest(client, thread.id, assistant.id, parallel_tool_calls=False)
    assert run.parallel_tool_calls is False
    assert len(run.required_action.submit_tool_outputs.tool_calls) == 1
    assert answer_all(client, run).status == "requires_action"


def test_tool_choice_none_skips_tools(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/tool lookup {}")
    run = run_to_rest(client, thread.id, assistant.id, tool_choice="none")
    assert run.status == "completed" and run.tool_choice == "none"


def test_invalid_json_arguments_are_passed_verbatim(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/tool lookup {not json")
    run = run_to_rest(client, thread.id, assistant.id)
    assert run.required_action.submit_tool_outputs.tool_calls[0].function.arguments == "{not json"


def test_unknown_function_fails_the_run(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/tool launch_rockets {}")
    run = run_to_rest(client, thread.id, assistant.id)
    assert run.status == "failed" and run.failed_at is not None
    assert run.last_error.code == "invalid_prompt"
    assert "launch_rockets" in run.last_error.message
    assert client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data == []


def test_fail_after_a_tool_round(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/tool lookup {}\n/then\n/fail the disk is on fire")
    run = run_to_rest(client, thread.id, assistant.id)
    assert run.status == "requires_action"
    failed = answer_all(client, run)
    assert failed.status == "failed"
    assert failed.last_error.model_dump() == {"code": "server_error", "message": "the disk is on fire"}
    assert failed.usage is not None and failed.usage.total_tokens > 0


def test_incomplete_command(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/incomplete")
    run = run_to_rest(client, thread.id, assistant.id)
    assert run.status == "incomplete"
    assert run.incomplete_details.reason == "max_completion_tokens"
    message = client.beta.threads.messages.list(thread_id=thread.id).data[0]
    assert message.status == "incomplete" and message.incomplete_details.reason == "max_tokens"
    assert message.incomplete_at is not None
    full = "You said: /incomplete"
    assert message.content[0].text.value == full[: len(full) // 2]


def test_max_completion_tokens_truncates_the_reply(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "x" * 2000)
    run = run_to_rest(client, thread.id, assistant.id, max_completion_tokens=256)
    assert run.status == "incomplete" and run.max_completion_tokens == 256
    assert run.incomplete_details.reason == "max_completion_tokens"
    assert run.usage.completion_tokens == 256
    message = client.beta.threads.messages.list(thread_id=thread.id).data[0]
    assert len(message.content[0].text.value) == 1024


def test_max_prompt_tokens_ends_incomplete(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "y" * 4000)
    run = run_to_rest(client, thread.id, assistant.id, max_prompt_tokens=256)
    assert run.status == "incomplete" and run.incomplete_details.reason == "max_prompt_tokens"


def test_truncation_last_messages_limits_prompt(client: openai.OpenAI, assistant: Any) -> None:
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "z" * 4000}, {"role": "user", "content": "short"}]
    )
    run = run_to_rest(
        client,
        thread.id,
        assistant.id,
        max_prompt_tokens=256,
        truncation_strategy={"type": "last_messages", "last_messages": 1},
    )
    assert run.status == "completed"
    assert run.truncation_strategy.model_dump() == {"type": "last_messages", "last_messages": 1}
    assert run.usage.prompt_tokens == 3 + 2


def test_expire_command(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/expire")
    run = run_to_rest(client, thread.id, assistant.id)
    assert run.status == "expired"
    assert run.expires_at is not None and run.expires_at <= int(time.time())


def test_waiting_run_expires_after_run_expiry(make_server: Any) -> None:
    server = make_server(run_expiry=1.0)
    with server.client() as client:
        assistant = client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        thread = start_thread(client, "/tool f {}")
        run = run_to_rest(client, thread.id, assistant.id)
        assert run.status == "requires_action"
        time.sleep(1.0)
        expired = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert expired.status == "expired" and expired.required_action is None
        step = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data[0]
        assert step.status == "expired" and step.expired_at is not None
        with pytest.raises(openai.BadRequestError, match='status "expired" do not accept tool outputs'):
            answer_all(client, run)


def test_cancel_goes_through_cancelling(make_server: Any) -> None:
    server = make_server(run_latency=0.4)
    with server.client() as client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = start_thread(client, "please take your time")
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        time.sleep(0.1)
        cancelling = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
        assert cancelling.status == "cancelling"
        cancelled = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
        assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
        message = client.beta.threads.messages.list(thread_id=thread.id).data[0]
        assert message.role == "assistant" and message.status == "incomplete"
        assert message.incomplete_details.reason == "run_cancelled"
        step = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data[0]
        assert step.status == "cancelled" and step.cancelled_at is not None
        with pytest.raises(openai.BadRequestError, match="Cannot cancel run with status 'cancelled'"):
            client.beta.threads.runs.cancel(run.id, thread_id=thread.id)


def test_cancel_while_requires_action(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/tool lookup {}")
    run = run_to_rest(client, thread.id, assistant.id)
    client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert client.beta.threads.runs.poll(run.id, thread_id=thread.id).status == "cancelled"


def test_cancelling_a_completed_run_is_refused(client: openai.OpenAI, assistant: Any) -> None:
    run = run_to_rest(client, start_thread(client, "hi").id, assistant.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
    assert caught.value.body["message"] == "Cannot cancel run with status 'completed'."


def test_sleep_extends_the_first_phase(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/sleep 0.8\nhello")
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    time.sleep(0.2)
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "in_progress"
    done = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    assert done.status == "completed"
    text = client.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value
    assert text == "You said: /sleep 0.8\nhello"


def test_one_active_run_per_thread(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/tool lookup {}")
    run = run_to_rest(client, thread.id, assistant.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert caught.value.body["message"] == f"Thread {thread.id} already has an active run {run.id}."
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="more")
    assert (
        caught.value.body["message"] == f"Can't add messages to {thread.id} while a run {run.id} is active."
    )
    answer_all(client, run)
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="more")


def test_submit_tool_outputs_validation(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "/tool lookup {}\n/tool weather {}")
    run = run_to_rest(client, thread.id, assistant.id)
    first, second = run.required_action.submit_tool_outputs.tool_calls
    submit = client.beta.threads.runs.submit_tool_outputs
    with pytest.raises(openai.BadRequestError, match="Expected tool outputs for call_ids"):
        submit(run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": first.id, "output": "a"}])
    with pytest.raises(openai.BadRequestError, match="Expected tool outputs for call_ids"):
        submit(
            run.id,
            thread_id=thread.id,
            tool_outputs=[
                {"tool_call_id": first.id, "output": "a"},
                {"tool_call_id": second.id, "output": "b"},
                {"tool_call_id": "call_unknown", "output": "c"},
            ],
        )
    with pytest.raises(openai.BadRequestError) as caught:
        submit(run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": first.id}])  # type: ignore[typeddict-item]
    assert caught.value.body["param"] == "tool_outputs[0].output"
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "requires_action"
    done = answer_all(client, run)
    assert done.status == "completed"
    with pytest.raises(openai.BadRequestError, match='Runs in status "completed" do not accept tool outputs'):
        submit(run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": first.id, "output": "a"}])


def test_run_overrides_and_additional_messages(client: openai.OpenAI, assistant: Any) -> None:
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        model="gpt-4.1-mini",
        instructions="Override.",
        additional_instructions="Also this.",
        additional_messages=[
            {"role": "assistant", "content": "Earlier answer"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "part two"}],
            },
        ],
        tools=[{"type": "code_interpreter"}, {"type": "function", "function": {"name": "only_this"}}],
        metadata={"purpose": "test"},
        temperature=0.3,
        top_p=0.9,
        response_format={"type": "json_object"},
        tool_choice={"type": "function", "function": {"name": "only_this"}},
        reasoning_effort="low",
    )
    assert run.status == "completed"
    assert run.model == "gpt-4.1-mini"
    assert run.instructions == "Override.\nAlso this."
    assert [tool.type for tool in run.tools] == ["code_interpreter", "function"]
    assert run.metadata == {"purpose": "test"}
    assert run.temperature == 0.3 and run.top_p == 0.9
    assert run.response_format.type == "json_object"
    assert run.tool_choice.function.name == "only_this"
    messages = client.beta.threads.messages.list(thread_id=thread.id, order="asc").data
    assert [m.role for m in messages] == ["assistant", "user", "assistant"]
    assert messages[0].assistant_id is None and messages[0].run_id is None
    assert messages[1].assistant_id is None and messages[1].run_id is None
    assert messages[2].content[0].text.value == "You said: part one\npart two"
    assistant_after = client.beta.assistants.retrieve(assistant.id)
    assert assistant_after.model == "gpt-4o" and len(assistant_after.tools) == 3


def test_run_without_user_message_greets(client: openai.OpenAI, assistant: Any) -> None:
    run = run_to_rest(client, client.beta.threads.create().id, assistant.id)
    text = client.beta.threads.messages.list(thread_id=run.thread_id).data[0].content[0].text.value
    assert text == "Hello! How can I assist you today?"


def test_create_thread_and_run(client: openai.OpenAI, assistant: Any) -> None:
    file_id = client.files.create(file=("data.csv", b"1,2"), purpose="assistants").id
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "from a new thread"}], "metadata": {"k": "v"}},
        tool_resources={"code_interpreter": {"file_ids": [file_id]}},
    )
    assert run.status == "completed"
    thread = client.beta.threads.retrieve(run.thread_id)
    assert thread.metadata == {"k": "v"}
    assert thread.tool_resources.code_interpreter.file_ids == [file_id]
    messages = client.beta.threads.messages.list(thread_id=thread.id, order="asc").data
    assert [m.content[0].text.value for m in messages] == ["from a new thread", "You said: from a new thread"]
    empty = client.beta.threads.create_and_run_poll(assistant_id=assistant.id)
    assert empty.status == "completed" and empty.thread_id != thread.id


def test_modify_run_metadata_and_list_runs(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "one")
    first = run_to_rest(client, thread.id, assistant.id)
    second = run_to_rest(client, thread.id, assistant.id)
    updated = client.beta.threads.runs.update(first.id, thread_id=thread.id, metadata={"seen": "yes"})
    assert updated.metadata == {"seen": "yes"} and updated.status == "completed"
    listed = client.beta.threads.runs.list(thread_id=thread.id)
    assert [run.id for run in listed.data] == [second.id, first.id]
    assert listed.data[1].metadata == {"seen": "yes"}


def test_messages_filtered_by_run(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "a")
    first = run_to_rest(client, thread.id, assistant.id)
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="b")
    second = run_to_rest(client, thread.id, assistant.id)
    only_first = client.beta.threads.messages.list(thread_id=thread.id, run_id=first.id).data
    assert [m.run_id for m in only_first] == [first.id]
    assert (
        client.beta.threads.messages.list(thread_id=thread.id, run_id=second.id).data[0].run_id == second.id
    )
    assert client.beta.threads.messages.list(thread_id=thread.id, run_id="run_nope").data == []


def test_unknown_run_and_step_are_404(client: openai.OpenAI, assistant: Any) -> None:
    run = run_to_rest(client, start_thread(client, "x").id, assistant.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.threads.runs.retrieve("run_missing", thread_id=run.thread_id)
    assert caught.value.body["message"] == "No run found with id 'run_missing'."
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.steps.retrieve("step_missing", thread_id=run.thread_id, run_id=run.id)
    other = client.beta.threads.create()
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.retrieve(run.id, thread_id=other.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.threads.runs.create(thread_id=other.id, assistant_id="asst_missing")
    assert caught.value.body["message"] == "No assistant found with id 'asst_missing'."


def test_deleting_the_assistant_leaves_threads_and_runs(client: openai.OpenAI, assistant: Any) -> None:
    run = run_to_rest(client, start_thread(client, "x").id, assistant.id)
    client.beta.assistants.delete(assistant.id)
    assert client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id).assistant_id == assistant.id
    assert len(client.beta.threads.messages.list(thread_id=run.thread_id).data) == 2


def test_include_query_is_validated(client: openai.OpenAI, assistant: Any) -> None:
    thread = start_thread(client, "x")
    run = client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        include=["step_details.tool_calls[*].file_search.results[*].content"],
    )
    client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, include=["nope"])  # type: ignore[list-item]
    assert caught.value.body["param"] == "include"


async def test_async_client_runs(server: LocalServer) -> None:
    async with server.async_client() as client:
        assistant = await client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "/tool f {}"}])
        run = await client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        assert run.status == "requires_action"
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        done = await client.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "1"}]
        )
        assert done.status == "completed"
        steps = await client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id)
        assert len(steps.data) == 2
        page = await client.beta.threads.messages.list(thread_id=thread.id)
        assert page.data[0].content[0].text.value == "f -> 1"
