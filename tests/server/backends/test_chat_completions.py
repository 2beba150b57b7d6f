"""``ChatCompletionsBackend`` over real HTTP against the scripted upstream.

Every request the backend sends and every chunk the double answers is checked against the spec
(see conftest). Retries run with a 10 ms backoff unless a test says otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest

from assistdb.server import objects
from assistdb.server.backends.base import (
    Finished,
    FunctionCall,
    ModelError,
    ModelEvent,
    ModelRequest,
    PromptTooLong,
    TextDelta,
    ToolCallDelta,
    ToolRound,
    Usage,
)
from assistdb.server.backends.chat_completions import ChatCompletionsBackend
from assistdb.server.backends.scripted_upstream import Call, Failure, Reply, ScriptedUpstream, pieces
from tests.server.backends.conftest import SECRET_KEY, settings_for

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def user_message(value: str) -> dict[str, Any]:
    content = [{"type": "text", "text": {"value": value, "annotations": []}}]
    return objects.message("msg_1", "thread_1", 1_700_000_000, role="user", content=content)


def request(text: str = "Hello", **fields: Any) -> ModelRequest:
    fields.setdefault("run", {"id": "run_1"})
    fields.setdefault("model", "gpt-4o")
    fields.setdefault("instructions", "Be brief.")
    fields.setdefault("messages", (user_message(text),))
    return ModelRequest(**fields)


async def collect(backend: ChatCompletionsBackend, model_request: ModelRequest) -> list[ModelEvent]:
    return [event async for event in backend.answer(model_request)]


def text_of(events: list[ModelEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def usage_of(upstream: ScriptedUpstream, at: int = -1) -> Usage:
    usage = next(answer["usage"] for answer in reversed(upstream.requests[at].answers) if answer.get("usage"))
    return Usage(usage["prompt_tokens"], usage["completion_tokens"])


def sent_call_ids(upstream: ScriptedUpstream, at: int = -1) -> list[str]:
    """The tool-call IDs the double streamed, in order."""
    return [
        call["id"]
        for chunk in upstream.requests[at].answers
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls", [])
        if "id" in call
    ]


async def test_a_text_reply_streams_as_text_deltas_and_finishes_with_usage(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="The weather is fine today."))

    events = await collect(backend, request("How is the weather?"))

    assert events[:-1] == [TextDelta(piece) for piece in pieces("The weather is fine today.")]
    assert events[-1] == Finished("stop", usage_of(upstream))
    sent = upstream.requests[0]
    assert sent.body["messages"][-1] == {"role": "user", "content": "How is the weather?"}
    assert sent.body["stream"] is True
    assert sent.headers["authorization"] == f"Bearer {SECRET_KEY}"


async def test_parallel_tool_calls_stream_as_tool_call_deltas(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    calls = (
        Call("get_weather", '{"city": "Paris"}', id="call_one"),
        Call("get_weather", '{"city": "Rome, Italy"}'),
    )
    upstream.script(Reply(calls=calls, argument_piece=5))

    events = await collect(backend, request(tools=(WEATHER,)))

    deltas = [event for event in events if isinstance(event, ToolCallDelta)]
    firsts = [delta for delta in deltas if delta.id is not None]
    assert [(delta.index, delta.id, delta.name) for delta in firsts] == [
        (0, "call_one", "get_weather"),
        (1, sent_call_ids(upstream)[1], "get_weather"),
    ]
    for index, call in enumerate(calls):
        assert "".join(delta.arguments for delta in deltas if delta.index == index) == call.arguments
        assert sum(1 for delta in deltas if delta.index == index and delta.arguments) > 1  # really streamed
    assert all(delta.name is None for delta in deltas if delta.id is None)
    assert events[-1] == Finished("tool_calls", usage_of(upstream))
    assert upstream.requests[0].body["tools"] == [WEATHER]


async def test_tool_calls_without_ids_get_one_id_per_call(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(calls=(Call("a", '{"x": 1}'), Call("b", "{}")), omit_call_ids=True))

    events = await collect(backend, request(tools=(WEATHER,)))

    ids = [event.id for event in events if isinstance(event, ToolCallDelta) and event.id]
    assert len(ids) == 2 and len(set(ids)) == 2 and all(call_id.startswith("call_") for call_id in ids)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(calls=(Call("get_weather", "{}"),), finish_reason="stop"), "tool_calls"),
        (Reply(calls=(Call("get_weather", "{}"),), finish_reason="function_call"), "tool_calls"),
        (Reply(text="no calls at all", finish_reason="tool_calls"), "stop"),
        (Reply(text="filtered", finish_reason="content_filter"), "content_filter"),
    ],
)
async def test_what_the_model_did_decides_the_finish_reason(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream, reply: Reply, reason: str
) -> None:
    upstream.script(reply)

    events = await collect(backend, request(tools=(WEATHER,)))

    assert isinstance(events[-1], Finished) and events[-1].reason == reason


def calls_of(events: list[ModelEvent]) -> list[tuple[int, str | None, str | None, str]]:
    """Each call the events opened: (index, id, name, all its arguments)."""
    deltas = [event for event in events if isinstance(event, ToolCallDelta)]
    return [
        (first.index, first.id, first.name, "".join(d.arguments for d in deltas if d.index == first.index))
        for first in deltas
        if first.id is not None
    ]


async def test_calls_all_numbered_zero_stay_apart(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    calls = (Call("a", '{"path": "a.rs"}', id="call_a"), Call("b", '{"path": "b.rs"}', id="call_b"))
    upstream.script(Reply(calls=calls, call_indexes="zero", argument_piece=4))

    events = await collect(backend, request(tools=(WEATHER,)))

    assert calls_of(events) == [
        (0, "call_a", "a", '{"path": "a.rs"}'),
        (1, "call_b", "b", '{"path": "b.rs"}'),
    ]
    assert events[-1] == Finished("tool_calls", usage_of(upstream))


async def test_calls_without_an_index_stay_apart() -> None:
    # Off the spec (``index`` is required), so this double's exchanges are not checked against it.
    calls = (Call("a", '{"x": 1}', id="call_a"), Call("b", '{"y": 2}', id="call_b"))
    with ScriptedUpstream() as off_spec:
        off_spec.script(Reply(calls=calls, call_indexes="missing", argument_piece=3))
        backend = ChatCompletionsBackend(settings_for(off_spec))
        try:
            events = await collect(backend, request(tools=(WEATHER,)))
        finally:
            await backend.aclose()

    assert calls_of(events) == [(0, "call_a", "a", '{"x": 1}'), (1, "call_b", "b", '{"y": 2}')]


async def test_a_round_after_tool_outputs_sends_the_calls_and_outputs(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(
        Reply(calls=(Call("get_weather", '{"city": "Oslo"}', id="call_w"),)), Reply(text="Snow in Oslo.")
    )
    first = await collect(backend, request("Weather in Oslo?", tools=(WEATHER,)))
    call = next(event for event in first if isinstance(event, ToolCallDelta) and event.id)
    arguments = "".join(event.arguments for event in first if isinstance(event, ToolCallDelta))
    rounds = (
        ToolRound(
            calls=(FunctionCall(call.id or "", call.name or "", arguments),), outputs={"call_w": "snow"}
        ),
    )

    second = await collect(backend, request("Weather in Oslo?", tools=(WEATHER,), tool_rounds=rounds))

    assert text_of(second) == "Snow in Oslo."
    assert upstream.requests[1].body["messages"][-2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_w",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_w", "content": "snow"},
    ]


@pytest.mark.parametrize("placement", ["final", "inline"])
async def test_usage_is_read_wherever_the_upstream_puts_it(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream, placement: Any
) -> None:
    upstream.script(Reply(text="one two three", usage=placement))

    events = await collect(backend, request())

    assert events[-1] == Finished("stop", usage_of(upstream))
    assert usage_of(upstream).completion_tokens == 3


async def test_an_upstream_without_usage_finishes_without_usage(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="no usage here", usage="none"))

    events = await collect(backend, request())

    assert events[-1] == Finished("stop", None)


async def test_a_length_cutoff_finishes_with_length(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="one two three four five six seven eight"))

    events = await collect(backend, request(max_completion_tokens=10, completion_tokens_used=7))

    assert upstream.requests[0].body["max_tokens"] == 3  # a compatible server: the older name
    assert text_of(events) == "one two three "
    assert events[-1] == Finished("length", Usage(usage_of(upstream).prompt_tokens, 3))


async def test_a_spent_completion_budget_finishes_without_asking(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    events = await collect(backend, request(max_completion_tokens=10, completion_tokens_used=10))

    assert events == [Finished("length", None)]
    assert upstream.requests == []


async def test_a_prompt_over_max_prompt_tokens_asks_nothing(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    with pytest.raises(PromptTooLong):
        await collect(backend, request("x" * 400, max_prompt_tokens=20))

    assert upstream.requests == []


async def test_the_model_map_names_the_upstream_model(upstream: ScriptedUpstream) -> None:
    backend = ChatCompletionsBackend(settings_for(upstream, model_map={"gpt-4o": "tiny"}))
    try:
        await collect(backend, request())
    finally:
        await backend.aclose()

    assert upstream.requests[0].body["model"] == "tiny"


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("auto", "max_tokens"),
        ("max_tokens", "max_tokens"),
        ("max_completion_tokens", "max_completion_tokens"),
    ],
)
async def test_the_token_limit_field(upstream: ScriptedUpstream, field: str, sent: str) -> None:
    backend = ChatCompletionsBackend(settings_for(upstream, token_limit_field=field))
    try:
        await collect(backend, request(max_completion_tokens=50))
    finally:
        await backend.aclose()

    body = upstream.requests[0].body
    (other,) = {"max_tokens", "max_completion_tokens"} - {sent}
    assert body[sent] == 50 and other not in body


# Retries and failures ------------------------------------------------------------------------


async def test_a_429_is_retried_after_its_retry_after(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.script(
        Failure(429, "Slow down.", type="requests", code="rate_limit_exceeded", retry_after="1"),
        Reply(text="ok"),
    )
    started = time.monotonic()

    with caplog.at_level(logging.WARNING):
        events = await collect(backend, request())

    assert time.monotonic() - started >= 1.0
    assert text_of(events) == "ok"
    assert len(upstream.requests) == 2
    assert "HTTP 429" in caplog.text and "retry 1 of 2" in caplog.text
    assert SECRET_KEY not in caplog.text


async def test_exhausted_429s_fail_with_rate_limit_exceeded(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(*[Failure(429, "Rate limit reached for requests.", type="requests", retry_after="0")] * 3)

    with pytest.raises(ModelError) as raised:
        await collect(backend, request())

    assert raised.value.code == "rate_limit_exceeded"
    assert "Rate limit reached for requests." in raised.value.message
    assert "3 attempts" in raised.value.message
    assert len(upstream.requests) == 3


async def test_a_retry_after_longer_than_max_wait_is_not_waited_for(upstream: ScriptedUpstream) -> None:
    upstream.script(Failure(429, "Come back in an hour.", retry_after="3600"))
    backend = ChatCompletionsBackend(settings_for(upstream, max_wait=5))
    started = time.monotonic()
    try:
        with pytest.raises(ModelError) as raised:
            await collect(backend, request())
    finally:
        await backend.aclose()

    assert raised.value.code == "rate_limit_exceeded"
    assert time.monotonic() - started < 2
    assert len(upstream.requests) == 1


async def test_server_errors_are_retried_then_succeed(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Failure(500, type="server_error"), Failure(503, type="server_error"), Reply(text="back"))

    events = await collect(backend, request())

    assert text_of(events) == "back"
    assert len(upstream.requests) == 3


async def test_without_retry_after_the_waits_double_up_to_max_wait(upstream: ScriptedUpstream) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    upstream.script(*[Failure(503, type="server_error")] * 4, Reply(text="finally"))
    backend = ChatCompletionsBackend(
        settings_for(upstream, backoff=1.0, max_wait=3.0, max_retries=4), sleep=record
    )
    try:
        events = await collect(backend, request())
    finally:
        await backend.aclose()

    assert text_of(events) == "finally"
    assert len(waits) == 4
    for wait, full in zip(waits, [1.0, 2.0, 3.0, 3.0], strict=True):
        assert 0.75 * full <= wait <= full


async def test_retry_after_is_waited_exactly(upstream: ScriptedUpstream) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    upstream.script(Failure(429, retry_after="2"), Reply(text="ok"))
    backend = ChatCompletionsBackend(settings_for(upstream), sleep=record)
    try:
        await collect(backend, request())
    finally:
        await backend.aclose()

    assert waits == [2.0]


async def test_exhausted_server_errors_fail_with_server_error(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(*[Failure(502, "Bad gateway upstream.", type="server_error")] * 3)

    with pytest.raises(ModelError) as raised:
        await collect(backend, request())

    assert raised.value.code == "server_error"
    assert "HTTP 502" in raised.value.message and "Bad gateway upstream." in raised.value.message


async def test_a_context_too_long_answer_is_an_invalid_prompt_with_the_upstreams_words(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    said = (
        "This model's maximum context length is 2048 tokens. However, your messages resulted in 9000 tokens."
    )
    upstream.script(Failure(400, said, code="context_length_exceeded"))

    with pytest.raises(ModelError) as raised:
        await collect(backend, request())

    assert raised.value.code == "invalid_prompt"
    assert said in raised.value.message and "HTTP 400" in raised.value.message
    assert len(upstream.requests) == 1  # a 4xx is not retried


async def test_an_unknown_model_is_a_server_error_naming_the_model(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Failure(404, "The model `gpt-9` does not exist.", code="model_not_found"))

    with pytest.raises(ModelError) as raised:
        await collect(backend, request(model="gpt-9"))

    assert raised.value.code == "server_error"
    assert "'gpt-9'" in raised.value.message and "does not exist" in raised.value.message


async def test_the_key_never_appears_in_an_error(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Failure(401, "Incorrect API key provided.", echo_authorization=True))

    with pytest.raises(ModelError) as raised:
        await collect(backend, request())

    assert SECRET_KEY in upstream.requests[0].answers[0]["error"]["message"]  # the double did echo it
    assert SECRET_KEY not in raised.value.message and SECRET_KEY not in str(raised.value)
    assert "Incorrect API key provided." in raised.value.message
    assert SECRET_KEY not in repr(backend.settings)


async def test_an_unreachable_upstream_fails_after_the_retries(upstream: ScriptedUpstream) -> None:
    settings = settings_for(upstream, base_url="http://user:pw@127.0.0.1:9/v1", timeout=2.0)
    backend = ChatCompletionsBackend(settings)
    try:
        with pytest.raises(ModelError) as raised:
            await collect(backend, request())
    finally:
        await backend.aclose()

    assert raised.value.code == "server_error"
    assert "could not reach" in raised.value.message and "127.0.0.1:9" in raised.value.message
    assert "pw" not in raised.value.message


async def test_a_disconnect_mid_answer_is_a_model_error_and_not_retried(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="one two three four five", disconnect_after=3), Reply(text="never asked"))
    events: list[ModelEvent] = []

    with pytest.raises(ModelError) as raised:
        async for event in backend.answer(request()):
            events.append(event)

    assert raised.value.code == "server_error"
    assert "broke off" in raised.value.message
    assert text_of(events) == "one two "
    assert len(upstream.requests) == 1


async def test_a_disconnect_before_any_event_is_retried(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="lost", disconnect_after=1), Reply(text="second try"))

    events = await collect(backend, request())

    assert text_of(events) == "second try"
    assert len(upstream.requests) == 2


async def test_a_stream_that_stops_without_finishing_is_an_error(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    # The role chunk and all three text chunks arrive, the finishing chunk never does.
    upstream.script(Reply(text="a b c", disconnect_after=4))
    events: list[ModelEvent] = []

    with pytest.raises(ModelError) as raised:
        async for event in backend.answer(request()):
            events.append(event)

    assert text_of(events) == "a b c"
    assert raised.value.code == "server_error" and "broke off" in raised.value.message


async def test_a_break_after_the_finish_keeps_the_answer(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    # role, "a ", "b", finish: then the usage chunk and [DONE] are lost.
    upstream.script(Reply(text="a b", disconnect_after=4))

    events = await collect(backend, request())

    assert events == [TextDelta("a "), TextDelta("b"), Finished("stop", None)]
    assert len(upstream.requests) == 1


async def test_an_error_event_mid_stream_is_a_model_error_with_the_upstreams_words(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="one two three", error_after=2, error_message="The model overloaded."))

    with pytest.raises(ModelError) as raised:
        await collect(backend, request())

    assert raised.value.code == "server_error"
    assert "broke off" in raised.value.message and "The model overloaded." in raised.value.message
    assert len(upstream.requests) == 1


async def test_an_error_event_before_any_text_is_retried(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="lost", error_after=1), Reply(text="fine"))

    assert text_of(await collect(backend, request())) == "fine"
    assert len(upstream.requests) == 2


async def test_a_stalled_upstream_times_out(upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text="too slow", chunk_delay=5))
    backend = ChatCompletionsBackend(settings_for(upstream, timeout=0.3, max_retries=0))
    started = time.monotonic()
    try:
        with pytest.raises(ModelError) as raised:
            await collect(backend, request())
    finally:
        await backend.aclose()

    assert raised.value.code == "server_error" and "timed out" in raised.value.message
    assert time.monotonic() - started < 3


async def test_cancelling_the_consumer_aborts_the_upstream_request_within_a_second(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="a slow answer that takes a long time to stream", chunk_delay=0.5))
    first = asyncio.Event()

    async def consume() -> None:
        async for event in backend.answer(request()):
            if isinstance(event, TextDelta):
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 10)
    cancelled = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled < 1.0

    exchange = upstream.requests[0]
    deadline = time.monotonic() + 1.0
    while exchange.disconnected_at is None and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert exchange.disconnected_at is not None, "the upstream never saw the request go away"
    assert exchange.disconnected_at - cancelled < 1.0
    assert not exchange.finished


async def test_a_consumer_that_stops_early_closes_the_upstream_request(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="one two three four five six seven eight nine ten", chunk_delay=0.2))
    answer = backend.answer(request())

    async for event in answer:
        if isinstance(event, TextDelta):
            break
    stopped = time.monotonic()
    await answer.aclose()  # type: ignore[attr-defined]

    exchange = upstream.requests[0]
    while exchange.disconnected_at is None and time.monotonic() - stopped < 1.0:
        await asyncio.sleep(0.01)
    assert exchange.disconnected_at is not None and not exchange.finished


async def test_upstream_latency_delays_every_answer(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.latency = 0.3
    started = time.monotonic()

    await collect(backend, request())

    assert time.monotonic() - started >= 0.3


async def test_cancelling_before_the_upstream_answers_stops_at_once(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.latency = 10
    task = asyncio.create_task(collect(backend, request()))
    while not upstream.requests:
        await asyncio.sleep(0.01)
    cancelled = time.monotonic()
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled < 1.0
    upstream.latency = 0


async def test_cancelling_during_a_retry_wait_stops_at_once(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    upstream.script(Failure(429, retry_after="10"), Reply(text="never"))
    task = asyncio.create_task(collect(backend, request()))
    while not upstream.requests:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    cancelled = time.monotonic()
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled < 1.0
    assert len(upstream.requests) == 1


async def test_one_backend_serves_concurrent_rounds(
    backend: ChatCompletionsBackend, upstream: ScriptedUpstream
) -> None:
    answers = await asyncio.gather(*[collect(backend, request(f"question {n}")) for n in range(5)])

    assert sorted(text_of(events) for events in answers) == [f"You said: question {n}" for n in range(5)]


async def test_azure_sends_the_mapped_deployment_and_api_version(upstream: ScriptedUpstream) -> None:
    settings = settings_for(
        upstream,
        base_url=None,
        azure_endpoint=upstream.base_url.removesuffix("/v1"),
        azure_api_version="2024-10-21",
        model_map={"gpt-4o": "my-deployment"},
    )
    backend = ChatCompletionsBackend(settings)
    try:
        events = await collect(backend, request("Hi Azure"))
    finally:
        await backend.aclose()

    assert text_of(events) == "You said: Hi Azure"
    sent = upstream.requests[0]
    assert sent.path == "/openai/deployments/my-deployment/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == SECRET_KEY


def test_the_double_answers_without_streaming(upstream: ScriptedUpstream) -> None:
    import openai

    client = openai.OpenAI(base_url=upstream.base_url, api_key="k", max_retries=0)
    upstream.script(Reply(text="plain answer", calls=(Call("f", '{"a": 1}'),)))

    completion = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    assert completion.choices[0].message.content == "plain answer"
    assert completion.choices[0].finish_reason == "tool_calls"
    assert json.loads(completion.choices[0].message.tool_calls[0].function.arguments) == {"a": 1}  # type: ignore[index, union-attr]
    assert completion.usage is not None and completion.usage.completion_tokens == 2 + 2
