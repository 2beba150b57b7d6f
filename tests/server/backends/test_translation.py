"""The translation of a run's round into a Chat Completions request, rule by rule.

Every body built here is also checked against OpenAI's description of the request.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistdb.server import objects
from assistdb.server.backends.base import FunctionCall, ModelError, ModelRequest, PromptTooLong, ToolRound
from assistdb.server.backends.translation import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    chat_request,
    estimate_tokens,
    image_file_placeholder,
    prompt_tokens,
    upstream_model,
)
from tests.server.backends.chat_spec import ChatSpec

Obj = dict[str, Any]


def text(value: str) -> Obj:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def message(role: str, *parts: Obj | str, number: int = 0) -> Obj:
    content = [text(part) if isinstance(part, str) else part for part in parts]
    return objects.message(f"msg_{number}", "thread_1", 1_700_000_000 + number, role=role, content=content)


def thread(*texts: str) -> tuple[Obj, ...]:
    """Alternating user/assistant messages, starting with the user."""
    return tuple(
        message("user" if at % 2 == 0 else "assistant", value, number=at) for at, value in enumerate(texts)
    )


def request(**fields: Any) -> ModelRequest:
    fields.setdefault("run", {"id": "run_1"})
    fields.setdefault("model", "gpt-4o")
    fields.setdefault("instructions", "Be brief.")
    fields.setdefault("messages", thread("Hello"))
    return ModelRequest(**fields)


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def build(chat_spec: ChatSpec) -> Any:
    """``chat_request`` whose every result must be a valid Chat Completions request."""

    def translate(model_request: ModelRequest, **options: Any) -> Obj:
        body = chat_request(model_request, **options)
        problems = chat_spec.errors("CreateChatCompletionRequest", body)
        assert not problems, problems
        return body

    return translate


def test_instructions_become_the_system_message_and_messages_follow_in_order(build: Any) -> None:
    body = build(request(messages=thread("Hi", "Hello! How can I help?", "Tell me a joke")))

    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke"},
    ]


def test_no_system_message_without_instructions(build: Any) -> None:
    body = build(request(instructions=""))

    assert body["messages"] == [{"role": "user", "content": "Hello"}]


def test_the_body_streams_with_usage_and_sends_nothing_unset(build: Any) -> None:
    body = build(request())

    assert body == {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_several_text_parts_are_joined_by_newlines(build: Any) -> None:
    body = build(request(messages=(message("user", "first part", "second part"),)))

    assert body["messages"][-1] == {"role": "user", "content": "first part\nsecond part"}


def test_images_become_content_parts(build: Any) -> None:
    url_part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}}
    plain_url = {"type": "image_url", "image_url": {"url": "https://example.com/dog.png"}}
    file_part = {"type": "image_file", "image_file": {"file_id": "file_abc", "detail": "high"}}

    body = build(request(messages=(message("user", "What is this?", url_part, plain_url, file_part),)))

    assert body["messages"][-1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/dog.png"}},
            {"type": "text", "text": image_file_placeholder("file_abc")},
        ],
    }
    assert "file_abc" in image_file_placeholder("file_abc")


def test_a_message_with_only_an_image_file_is_a_text_placeholder(build: Any) -> None:
    file_part = {"type": "image_file", "image_file": {"file_id": "file_xyz"}}

    body = build(request(messages=(message("user", file_part),)))

    assert body["messages"][-1] == {"role": "user", "content": image_file_placeholder("file_xyz")}


def test_an_image_in_an_assistant_message_stays_text(build: Any) -> None:
    url_part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}

    body = build(request(messages=(message("user", "Hi"), message("assistant", "See:", url_part, number=1))))

    assert body["messages"][-1] == {
        "role": "assistant",
        "content": "See:\n[image https://example.com/cat.png]",
    }


def test_earlier_tool_rounds_become_tool_calls_and_tool_messages(build: Any) -> None:
    rounds = (
        ToolRound(
            calls=(
                FunctionCall("call_a", "get_weather", '{"city": "Paris"}'),
                FunctionCall("call_b", "get_weather", '{"city": "Rome"}'),
            ),
            outputs={"call_b": "sunny", "call_a": "rain"},
        ),
        ToolRound(calls=(FunctionCall("call_c", "get_time", "{}"),), outputs={"call_c": "noon"}),
    )

    body = build(request(messages=thread("Weather?"), tool_rounds=rounds, tools=(WEATHER,)))

    assert body["messages"][2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "rain"},
        {"role": "tool", "tool_call_id": "call_b", "content": "sunny"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_c", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_c", "content": "noon"},
    ]


def test_last_messages_keeps_only_the_newest_thread_messages(build: Any) -> None:
    strategy = {"type": "last_messages", "last_messages": 2}

    body = build(request(messages=thread("one", "two", "three", "four"), truncation_strategy=strategy))

    assert [m["content"] for m in body["messages"]] == ["Be brief.", "three", "four"]


def test_auto_truncation_keeps_everything_without_a_prompt_limit(build: Any) -> None:
    body = build(request(messages=thread(*[f"message {n}" for n in range(50)])))

    assert len(body["messages"]) == 51


def _tokens_of(body: Obj) -> int:
    return prompt_tokens(body["messages"], body.get("tools", []))


def test_the_token_estimate_is_documented_arithmetic() -> None:
    messages = [
        {"role": "system", "content": "12345678"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "abcde"}, {"type": "image_url", "image_url": {"url": "u"}}],
        },
    ]

    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert (
        prompt_tokens(messages)
        == (MESSAGE_OVERHEAD + 2) + (MESSAGE_OVERHEAD + 2 + IMAGE_TOKENS) + REPLY_PRIMING
    )
    tools = [WEATHER]
    assert (
        prompt_tokens([], tools) == estimate_tokens(json.dumps(tools, separators=(",", ":"))) + REPLY_PRIMING
    )


def test_max_prompt_tokens_drops_the_oldest_messages_to_fit(build: Any) -> None:
    texts = [f"message number {n} " + "x" * 40 for n in range(10)]
    whole = build(request(messages=thread(*texts)))
    per_message = MESSAGE_OVERHEAD + estimate_tokens(texts[0])
    limit = _tokens_of(whole) - 3 * per_message

    body = build(request(messages=thread(*texts), max_prompt_tokens=limit))

    assert [m["content"] for m in body["messages"]] == ["Be brief.", *texts[3:]]
    assert _tokens_of(body) <= limit
    # One token less and a fourth message goes.
    smaller = build(request(messages=thread(*texts), max_prompt_tokens=limit - 1))
    assert [m["content"] for m in smaller["messages"]] == ["Be brief.", *texts[4:]]


def test_max_prompt_tokens_counts_the_tool_definitions(build: Any) -> None:
    texts = ["a" * 400, "b" * 400, "c" * 400]
    plain = build(request(messages=thread(*texts)))
    limit = _tokens_of(plain)
    assert prompt_tokens([], [WEATHER]) - REPLY_PRIMING < MESSAGE_OVERHEAD + estimate_tokens(texts[0])

    with_tools = build(request(messages=thread(*texts), tools=(WEATHER,), max_prompt_tokens=limit))

    assert [m["content"] for m in with_tools["messages"]][1:] == texts[1:]


def test_max_prompt_tokens_never_drops_the_newest_user_turn_or_the_tool_rounds(build: Any) -> None:
    rounds = (
        ToolRound(
            calls=(FunctionCall("call_a", "get_weather", '{"city": "Oslo"}'),),
            outputs={"call_a": "snow" * 30},
        ),
    )
    messages = thread("old question " * 20, "old answer " * 20, "Weather in Oslo?")
    minimum = prompt_tokens(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"},
            *build(request(messages=messages, tool_rounds=rounds, tools=(WEATHER,)))["messages"][-2:],
        ],
        [WEATHER],
    )

    body = build(request(messages=messages, tool_rounds=rounds, tools=(WEATHER,), max_prompt_tokens=minimum))

    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool"]
    assert body["messages"][1]["content"] == "Weather in Oslo?"
    with pytest.raises(PromptTooLong, match=f"max_prompt_tokens \\({minimum - 1}\\)"):
        chat_request(
            request(messages=messages, tool_rounds=rounds, tools=(WEATHER,), max_prompt_tokens=minimum - 1)
        )


def test_the_newest_user_turn_keeps_the_messages_after_it(build: Any) -> None:
    messages = (
        message("user", "question", number=0),
        message("assistant", "note one", number=1),
        message("assistant", "note two", number=2),
    )
    needed = prompt_tokens(
        [
            {"role": "system", "content": "Be brief."},
            *[{"role": m["role"], "content": objects.text_of(m)} for m in messages],
        ]
    )

    body = build(request(messages=messages, max_prompt_tokens=needed))

    assert [m["content"] for m in body["messages"]] == ["Be brief.", "question", "note one", "note two"]
    with pytest.raises(PromptTooLong):
        chat_request(request(messages=messages, max_prompt_tokens=needed - 1))


def test_max_completion_tokens_sends_what_the_run_has_left(build: Any) -> None:
    body = build(request(max_completion_tokens=500, completion_tokens_used=120))
    older = build(request(max_completion_tokens=500), token_limit_field="max_tokens")

    assert body["max_completion_tokens"] == 380
    assert "max_tokens" not in body
    assert older["max_tokens"] == 500
    assert "max_completion_tokens" not in older


def test_temperature_and_top_p_are_sent_when_set(build: Any) -> None:
    body = build(request(temperature=0.2, top_p=0.9))
    zero = build(request(temperature=0.0, top_p=0.0))

    assert (body["temperature"], body["top_p"]) == (0.2, 0.9)
    assert (zero["temperature"], zero["top_p"]) == (0.0, 0.0)


@pytest.mark.parametrize("value", ["auto", {"type": "text"}, None])
def test_default_response_formats_are_left_out(build: Any, value: Any) -> None:
    assert "response_format" not in build(request(response_format=value))


def test_json_response_formats_are_passed_on(build: Any) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    json_schema = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}

    assert build(request(response_format={"type": "json_object"}))["response_format"] == {
        "type": "json_object"
    }
    assert build(request(response_format=json_schema))["response_format"] == json_schema
    lax = {"type": "json_schema", "json_schema": {"name": "answer", "description": "d", "strict": None}}
    assert build(request(response_format=lax))["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "description": "d"},
    }


def test_function_tools_and_file_search_are_offered(build: Any) -> None:
    tools = ({"type": "code_interpreter"}, {"type": "file_search", "file_search": {}}, WEATHER)

    body = build(request(tools=tools))

    assert [tool["function"]["name"] for tool in body["tools"]] == ["file_search", "get_weather"]
    assert body["tools"][1] == WEATHER
    assert body["tools"][0]["function"]["parameters"]["required"] == ["query"]
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is True


def test_without_function_tools_no_tool_settings_are_sent(build: Any) -> None:
    body = build(
        request(tools=({"type": "code_interpreter"},), tool_choice="required", parallel_tool_calls=False)
    )

    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(body)


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("none", "none"),
        ("auto", "auto"),
        ("required", "required"),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
        ({"type": "file_search"}, {"type": "function", "function": {"name": "file_search"}}),
        ({"type": "code_interpreter"}, None),
    ],
)
def test_tool_choice(build: Any, choice: Any, sent: Any) -> None:
    body = build(request(tools=(WEATHER,), tool_choice=choice, parallel_tool_calls=False))

    assert body.get("tool_choice") == sent
    assert body["parallel_tool_calls"] is False


def test_a_function_tool_without_description_or_parameters(build: Any) -> None:
    bare = {"type": "function", "function": {"name": "ping", "description": None, "strict": None}}

    assert build(request(tools=(bare,)))["tools"] == [{"type": "function", "function": {"name": "ping"}}]


def test_the_model_map(build: Any) -> None:
    mapping = {"gpt-4o": "llama3", "*": "tiny"}

    assert build(request(model="gpt-4o"), model_map=mapping)["model"] == "llama3"
    assert build(request(model="gpt-4o-mini"), model_map=mapping)["model"] == "tiny"
    assert build(request(model="gpt-4o-mini"), model_map={"gpt-4o": "llama3"})["model"] == "gpt-4o-mini"
    assert upstream_model("x", {}) == "x"


def test_nothing_to_send_is_an_invalid_prompt() -> None:
    with pytest.raises(ModelError) as raised:
        chat_request(request(instructions="", messages=()))

    assert raised.value.code == "invalid_prompt"


def test_an_empty_thread_with_instructions_sends_the_system_message(build: Any) -> None:
    assert build(request(messages=()))["messages"] == [{"role": "system", "content": "Be brief."}]
