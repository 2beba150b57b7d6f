"""The scripted Chat Completions double itself, driven by the plain SDK (answers checked against the spec)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from assistdb.server.backends.scripted_upstream import Call, Reply, ScriptedUpstream
from assistdb.server.scripted_model import GREETING

TOOLS: list[Any] = [{"type": "function", "function": {"name": name}} for name in ("lookup", "weather")]


@pytest.fixture
def sdk(upstream: ScriptedUpstream) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=upstream.base_url, api_key="sk-double", max_retries=0) as client:
        yield client


def ask(sdk: openai.OpenAI, messages: list[Any], **options: Any) -> Any:
    return sdk.chat.completions.create(model="gpt-4o", messages=messages, **options)


def stream(sdk: openai.OpenAI, messages: list[Any], **options: Any) -> list[Any]:
    chunks = sdk.chat.completions.create(
        model="gpt-4o", messages=messages, stream=True, stream_options={"include_usage": True}, **options
    )
    return list(chunks)


def test_an_empty_queue_answers_like_the_scripted_model(sdk: openai.OpenAI) -> None:
    assert (
        ask(sdk, [{"role": "user", "content": "Hello there"}]).choices[0].message.content
        == "You said: Hello there"
    )
    assert ask(sdk, [{"role": "system", "content": "Be brief."}]).choices[0].message.content == GREETING


def test_tool_commands_make_rounds_of_calls_then_a_reply(sdk: openai.OpenAI) -> None:
    user = {
        "role": "user",
        "content": 'use tools\n/tool lookup {"q": "cats"}\n/tool weather {}\n/then\n/tool lookup {}',
    }
    history: list[Any] = [user]

    first = ask(sdk, history, tools=TOOLS).choices[0]
    assert first.finish_reason == "tool_calls"
    assert [(c.function.name, c.function.arguments) for c in first.message.tool_calls] == [
        ("lookup", '{"q": "cats"}'),
        ("weather", "{}"),
    ]
    history += [first.message.model_dump(exclude_none=True)]
    history += [
        {"role": "tool", "tool_call_id": c.id, "content": f"out-{c.function.name}"}
        for c in first.message.tool_calls
    ]

    second = ask(sdk, history, tools=TOOLS).choices[0]
    assert [c.function.name for c in second.message.tool_calls] == ["lookup"]
    history += [second.message.model_dump(exclude_none=True)]
    history += [{"role": "tool", "tool_call_id": second.message.tool_calls[0].id, "content": "3"}]

    third = ask(sdk, history, tools=TOOLS).choices[0]
    assert third.finish_reason == "stop"
    assert third.message.content == "lookup -> out-lookup\nweather -> out-weather\nlookup -> 3"


def test_tool_commands_stream_their_calls(sdk: openai.OpenAI) -> None:
    chunks = stream(sdk, [{"role": "user", "content": '/tool lookup {"q": "a longer query"}'}], tools=TOOLS)

    calls = [call for chunk in chunks for choice in chunk.choices for call in choice.delta.tool_calls or []]
    assert calls[0].function.name == "lookup" and calls[0].id
    assert "".join(call.function.arguments or "" for call in calls) == '{"q": "a longer query"}'
    assert chunks[-1].usage is not None


def test_one_call_per_round_without_parallel_tool_calls(sdk: openai.OpenAI) -> None:
    answer = ask(
        sdk,
        [{"role": "user", "content": "/tool lookup {}\n/tool weather {}"}],
        tools=TOOLS,
        parallel_tool_calls=False,
    )

    assert [c.function.name for c in answer.choices[0].message.tool_calls] == ["lookup"]


def test_no_calls_without_tools_or_with_tool_choice_none(sdk: openai.OpenAI) -> None:
    text = "/tool lookup {}"

    assert ask(sdk, [{"role": "user", "content": text}]).choices[0].message.content == f"You said: {text}"
    answer = ask(sdk, [{"role": "user", "content": text}], tools=TOOLS, tool_choice="none")
    assert answer.choices[0].message.tool_calls is None


def test_fail_incomplete_and_sleep_commands(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError, match="the model broke"):
        ask(sdk, [{"role": "user", "content": "/fail the model broke"}])

    cut = ask(sdk, [{"role": "user", "content": "abcdefgh\n/incomplete"}]).choices[0]
    assert cut.finish_reason == "length"
    whole = "You said: abcdefgh\n/incomplete"
    assert cut.message.content == whole[: len(whole) // 2]

    started = time.monotonic()
    ask(sdk, [{"role": "user", "content": "/sleep 0.3"}])
    assert time.monotonic() - started >= 0.3


def test_the_queue_comes_first_and_is_used_in_order(sdk: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text="first"), Reply(calls=(Call("weather", '{"city": "Rome"}'),)))

    assert (
        ask(sdk, [{"role": "user", "content": "/tool lookup {}"}], tools=TOOLS).choices[0].message.content
        == "first"
    )
    calls = ask(sdk, [{"role": "user", "content": "x"}], tools=TOOLS).choices[0].message.tool_calls
    assert json.loads(calls[0].function.arguments) == {"city": "Rome"}
    assert upstream.pending == 0
    assert [exchange.body["messages"][0]["content"] for exchange in upstream.requests] == [
        "/tool lookup {}",
        "x",
    ]


def test_a_token_limit_cuts_a_reply_with_length(sdk: openai.OpenAI) -> None:
    upstream_answer = ask(sdk, [{"role": "user", "content": "one two three four"}], max_completion_tokens=2)

    assert upstream_answer.choices[0].finish_reason == "length"
    assert upstream_answer.choices[0].message.content == "You said: "  # "You " and "said: "
    assert upstream_answer.usage is not None and upstream_answer.usage.completion_tokens == 2


def test_a_body_that_is_not_json_is_a_400() -> None:
    with ScriptedUpstream() as double:
        response = httpx.post(f"{double.base_url}/chat/completions", content=b"{not json")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "We could not parse the JSON body of your request."
    assert double.requests[0].status == 400


def test_the_double_runs_as_its_own_process() -> None:
    command = [sys.executable, "-m", "assistdb.server.backends.scripted_upstream", "--latency", "0.01"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("scripted upstream listening on http://127.0.0.1:"), line
        base_url = line.rsplit(" ", 1)[-1].strip()
        with openai.OpenAI(base_url=base_url, api_key="k", max_retries=0) as client:
            answer = client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "/tool lookup {}"}], tools=TOOLS
            )
        assert answer.choices[0].message.tool_calls[0].function.name == "lookup"  # type: ignore[index]
    finally:
        process.terminate()
        assert process.wait(10) == 0


def test_the_double_says_when_it_cannot_listen() -> None:
    with ScriptedUpstream() as double:
        port = double.port
        command = [sys.executable, "-m", "assistdb.server.backends.scripted_upstream", "--port", str(port)]
        finished = subprocess.run(command, capture_output=True, text=True, timeout=30)

    assert finished.returncode == 1
    assert finished.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in finished.stderr
