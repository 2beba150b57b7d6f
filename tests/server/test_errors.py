"""Every error class answers like the real API: status, type, param, code and message."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from assistdb.server import LocalServer

BETA = {"OpenAI-Beta": "assistants=v2"}
RAW = httpx.Client(verify=False)  # plain HTTP to a local server: no certificates to load


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    body = caught.value.body
    assert isinstance(body, dict)
    assert set(body) == {"message", "type", "param", "code"}
    return {"status": caught.value.status_code, **body}


def test_wrong_and_missing_api_key(make_server: Any) -> None:
    server = make_server(api_key="sk-local-secret-123456")
    with server.client() as good:
        assert good.beta.assistants.list().data == []
    with server.client(api_key="sk-wrong-key-abcdef") as bad:
        error = error_of(bad.beta.assistants.list)
    assert error["status"] == 401 and error["code"] == "invalid_api_key"
    assert error["type"] == "invalid_request_error"
    assert (
        "sk-" not in error["message"]
        and "abcdef" not in error["message"]
        and "123456" not in error["message"]
    )
    response = RAW.get(f"{server.base_url}/assistants", headers=BETA)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    extension = RAW.get(f"{server.url}/_assistdb/stats")
    assert extension.status_code == 401


def test_missing_beta_header(server: LocalServer) -> None:
    response = RAW.get(f"{server.base_url}/assistants")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "You must provide the 'OpenAI-Beta' header to access the Assistants API. "
            "Please try again by setting the header 'OpenAI-Beta: assistants=v2'.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_beta",
        }
    }
    assert (
        RAW.get(f"{server.base_url}/assistants", headers={"OpenAI-Beta": "assistants=v1"}).status_code == 400
    )


def test_malformed_json_and_non_object_bodies(server: LocalServer) -> None:
    headers = {**BETA, "Content-Type": "application/json"}
    broken = RAW.post(f"{server.base_url}/threads", headers=headers, content=b'{"messages": [')
    assert broken.status_code == 400
    assert broken.json()["error"]["message"].startswith("We could not parse the JSON body of your request.")
    binary = RAW.post(f"{server.base_url}/threads", headers=headers, content=b"\xff\xfe")
    assert binary.status_code == 400
    array = RAW.post(f"{server.base_url}/assistants", headers=headers, content=b"[1, 2]")
    assert array.status_code == 400
    assert (
        array.json()["error"]["message"]
        == "Invalid request body: expected an object, but got an array instead."
    )
    for invalid_json in (
        b'{"model": "m", "temperature": NaN}',
        b'{"model": "m", "top_p": 1e400}',
        b"[" * 100_000,
    ):
        assert (
            RAW.post(f"{server.base_url}/assistants", headers=headers, content=invalid_json).status_code
            == 400
        )
    lone_surrogate = RAW.post(
        f"{server.base_url}/assistants", headers=headers, content=b'{"model": "\\ud800"}'
    )
    assert lone_surrogate.status_code == 400
    emoji = RAW.post(f"{server.base_url}/assistants", headers=headers, content=b'{"model": "\\ud83d\\ude00"}')
    assert emoji.status_code == 200 and emoji.json()["model"] == "\U0001f600"
    empty = RAW.post(f"{server.base_url}/threads", headers=headers, content=b"")
    assert empty.status_code == 200 and empty.json()["object"] == "thread"


def test_unknown_route_and_wrong_method(server: LocalServer) -> None:
    unknown = RAW.get(f"{server.base_url}/nothing/here", headers=BETA)
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "message": "Invalid URL (GET /v1/nothing/here)",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    outside = RAW.get(f"{server.url}/favicon.ico")
    assert outside.status_code == 404 and "error" in outside.json()
    wrong = RAW.put(f"{server.base_url}/assistants", headers=BETA)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, POST"
    assert wrong.json()["error"]["type"] == "invalid_request_error"


def test_unknown_ids_are_404(client: openai.OpenAI) -> None:
    assert (
        error_of(lambda: client.beta.threads.retrieve("thread_x"))["message"]
        == "No thread found with id 'thread_x'."
    )
    assert error_of(lambda: client.beta.threads.update("thread_x", metadata={}))["status"] == 404
    assert error_of(lambda: client.beta.threads.delete("thread_x"))["status"] == 404
    assert error_of(lambda: client.beta.assistants.update("asst_x", name="n"))["status"] == 404
    assert error_of(lambda: client.beta.assistants.delete("asst_x"))["status"] == 404
    thread = client.beta.threads.create()
    missing = error_of(lambda: client.beta.threads.messages.retrieve("msg_x", thread_id=thread.id))
    assert missing == {
        "status": 404,
        "message": "No message found with id 'msg_x'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert (
        error_of(lambda: client.beta.threads.messages.delete("msg_x", thread_id=thread.id))["status"] == 404
    )
    assert error_of(lambda: client.beta.threads.runs.cancel("run_x", thread_id=thread.id))["status"] == 404
    assert error_of(lambda: client.beta.threads.create_and_run(assistant_id="asst_x"))["status"] == 404


def test_unknown_parameters(client: openai.OpenAI) -> None:
    error = error_of(lambda: client.beta.assistants.create(model="gpt-4o", extra_body={"foo": 1}))
    assert error == {
        "status": 400,
        "message": "Unrecognized request argument supplied: foo",
        "type": "invalid_request_error",
        "param": "foo",
        "code": "unknown_parameter",
    }
    several = error_of(lambda: client.beta.threads.create(extra_body={"zed": 1, "alpha": 2}))
    assert several["message"] == "Unrecognized request arguments supplied: alpha, zed"
    nested = error_of(
        lambda: client.beta.threads.create(messages=[{"role": "user", "content": "x", "colour": "red"}])  # type: ignore[typeddict-unknown-key]
    )
    assert nested["param"] == "messages[0].colour"


def test_wrong_types(client: openai.OpenAI) -> None:
    error = error_of(lambda: client.beta.assistants.create(model="gpt-4o", temperature="hot"))  # type: ignore[arg-type]
    assert error["message"] == "Invalid type for 'temperature': expected a decimal, but got a string instead."
    assert error["param"] == "temperature" and error["code"] == "invalid_type"
    assert error_of(lambda: client.beta.assistants.create(model=5))["param"] == "model"  # type: ignore[arg-type]
    content = error_of(
        lambda: client.beta.threads.create(messages=[{"role": "user", "content": 7}])  # type: ignore[typeddict-item]
    )
    assert content["message"] == (
        "Invalid type for 'messages[0].content': expected a string or an array, but got an integer instead."
    )
    metadata = error_of(lambda: client.beta.threads.create(metadata={"n": 1}))  # type: ignore[dict-item]
    assert metadata["param"] == "metadata.n" and metadata["code"] == "invalid_type"
    flag = error_of(
        lambda: client.beta.assistants.create(
            model="m", tools=[{"type": "function", "function": {"name": "f", "strict": "yes"}}]
        )  # type: ignore[typeddict-item]
    )
    assert flag["param"] == "tools[0].function.strict"


def test_missing_required_parameters(client: openai.OpenAI) -> None:
    error = error_of(lambda: client.post("/assistants", body={}, cast_to=object, options={"headers": BETA}))
    assert error["message"] == "Missing required parameter: 'model'."
    assert error["code"] == "missing_required_parameter"
    thread = client.beta.threads.create()
    run = error_of(
        lambda: client.post(f"/threads/{thread.id}/runs", body={}, cast_to=object, options={"headers": BETA})
    )
    assert run["param"] == "assistant_id"
    tool = error_of(lambda: client.beta.assistants.create(model="m", tools=[{"type": "function"}]))  # type: ignore[typeddict-item]
    assert tool["message"] == "Missing required parameter: 'tools[0].function'."


def test_metadata_limits(client: openai.OpenAI) -> None:
    too_many = error_of(lambda: client.beta.threads.create(metadata={f"k{i}": "v" for i in range(17)}))
    assert too_many["message"] == (
        "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
        "but got an object with 17 properties instead."
    )
    assert too_many["param"] == "metadata"
    assert client.beta.threads.create(metadata={f"k{i}": "v" for i in range(16)}).metadata["k15"] == "v"
    long_key = error_of(lambda: client.beta.threads.create(metadata={"k" * 65: "v"}))
    assert long_key["param"] == "metadata" and "64" in long_key["message"]
    long_value = error_of(lambda: client.beta.threads.create(metadata={"k": "v" * 513}))
    assert long_value["param"] == "metadata" and "512" in long_value["message"]
    assert client.beta.threads.create(metadata={"k" * 64: "v" * 512}).metadata


@pytest.mark.parametrize(
    ("field", "value", "param", "code"),
    [
        ("name", "n" * 257, "name", "string_above_max_length"),
        ("description", "d" * 513, "description", "string_above_max_length"),
        ("instructions", "i" * 256_001, "instructions", "string_above_max_length"),
        ("tools", [{"type": "code_interpreter"}] * 129, "tools", "array_above_max_length"),
        ("temperature", 2.5, "temperature", "decimal_above_max_value"),
        ("temperature", -0.1, "temperature", "decimal_below_min_value"),
        ("top_p", 1.5, "top_p", "decimal_above_max_value"),
        ("response_format", "yaml", "response_format", "invalid_value"),
        ("response_format", {"type": "xml"}, "response_format.type", "invalid_value"),
        ("reasoning_effort", "extreme", "reasoning_effort", "invalid_value"),
        ("tools", [{"type": "retrieval"}], "tools[0].type", "invalid_value"),
        (
            "tools",
            [{"type": "function", "function": {"name": "bad name"}}],
            "tools[0].function.name",
            "invalid_value",
        ),
        (
            "tools",
            [{"type": "function", "function": {"name": "f" * 65}}],
            "tools[0].function.name",
            "invalid_value",
        ),
        (
            "tools",
            [{"type": "file_search", "file_search": {"max_num_results": 51}}],
            "tools[0].file_search.max_num_results",
            "integer_above_max_value",
        ),
        (
            "tool_resources",
            {"code_interpreter": {"file_ids": ["f"] * 21}},
            "tool_resources.code_interpreter.file_ids",
            "array_above_max_length",
        ),
        (
            "tool_resources",
            {"file_search": {"vector_store_ids": ["a", "b"]}},
            "tool_resources.file_search.vector_store_ids",
            "array_above_max_length",
        ),
        ("model", "", "model", "empty_string"),
    ],
)
def test_assistant_limits(client: openai.OpenAI, field: str, value: Any, param: str, code: str) -> None:
    error = error_of(lambda: client.beta.assistants.create(**{"model": "gpt-4o", field: value}))
    assert (error["status"], error["param"], error["code"]) == (400, param, code)


def test_limit_boundaries_are_accepted(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        name="n" * 256,
        description="d" * 512,
        instructions="i" * 256_000,
        tools=[{"type": "function", "function": {"name": f"f{i}"}} for i in range(128)],
        temperature=2,
        top_p=0,
    )
    assert len(assistant.tools) == 128 and assistant.temperature == 2


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        ({"tools": [{"type": "code_interpreter"}] * 21}, "tools", "array_above_max_length"),
        ({"max_completion_tokens": 255}, "max_completion_tokens", "integer_below_min_value"),
        ({"max_prompt_tokens": 100}, "max_prompt_tokens", "integer_below_min_value"),
        (
            {"truncation_strategy": {"type": "last_messages", "last_messages": 0}},
            "truncation_strategy.last_messages",
            "integer_below_min_value",
        ),
        ({"truncation_strategy": {"type": "middle"}}, "truncation_strategy.type", "invalid_value"),
        ({"tool_choice": "sometimes"}, "tool_choice", "invalid_value"),
        ({"tool_choice": 3}, "tool_choice", "invalid_type"),
        ({"parallel_tool_calls": "yes"}, "parallel_tool_calls", "invalid_type"),
        (
            {"additional_messages": [{"role": "system", "content": "x"}]},
            "additional_messages[0].role",
            "invalid_value",
        ),
        ({"temperature": 3}, "temperature", "integer_above_max_value"),
    ],
)
def test_run_limits(client: openai.OpenAI, extra: dict[str, Any], param: str, code: str) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create()
    error = error_of(
        lambda: client.post(
            f"/threads/{thread.id}/runs",
            body={"assistant_id": assistant.id, **extra},
            cast_to=object,
            options={"headers": BETA},
        )
    )
    assert (error["status"], error["param"], error["code"]) == (400, param, code)
    assert client.beta.threads.runs.list(thread_id=thread.id).data == []


def test_message_content_rules(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    create = client.beta.threads.messages.create
    empty = error_of(lambda: create(thread_id=thread.id, role="user", content=""))
    assert empty["param"] == "content" and empty["code"] == "empty_string"
    no_parts = error_of(lambda: create(thread_id=thread.id, role="user", content=[]))
    assert no_parts["param"] == "content" and no_parts["code"] == "empty_array"
    role = error_of(lambda: create(thread_id=thread.id, role="system", content="x"))  # type: ignore[arg-type]
    assert role["message"] == "Invalid value: 'system'. Supported values are: 'user' and 'assistant'."
    part = error_of(
        lambda: create(thread_id=thread.id, role="user", content=[{"type": "video", "video": "x"}])
    )  # type: ignore[list-item]
    assert part["param"] == "content[0].type"
    detail = error_of(
        lambda: create(
            thread_id=thread.id,
            role="user",
            content=[{"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "huge"}}],  # type: ignore[typeddict-item]
        )
    )
    assert detail["param"] == "content[0].image_url.detail"
    attachment = error_of(
        lambda: create(
            thread_id=thread.id,
            role="user",
            content="x",
            attachments=[{"file_id": "f", "tools": [{"type": "function"}]}],
        )  # type: ignore[list-item]
    )
    assert attachment["param"] == "attachments[0].tools[0].type"
    assert client.beta.threads.messages.list(thread_id=thread.id).data == []


def test_internal_errors_are_openai_shaped(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    app = server._app
    assert app is not None

    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.api.store, "reading", broken)
    with server.client(max_retries=0) as client:
        error = error_of(lambda: client.beta.threads.retrieve("thread_x"))
    assert error["status"] == 500 and error["type"] == "server_error" and "boom" not in error["message"]


def test_oversized_body_is_refused(server: LocalServer) -> None:
    body = b'{"messages": "' + b"x" * (33 * 1024 * 1024) + b'"}'
    response = RAW.post(
        f"{server.base_url}/threads", headers={**BETA, "Content-Type": "application/json"}, content=body
    )
    assert response.status_code == 413 and response.json()["error"]["type"] == "invalid_request_error"
