"""Nested request fields the spec does not make nullable refuse an explicit ``null`` (and an image
URL must be a URL), wherever they appear: assistants, messages, new threads, run overrides and
``additional_messages``. Each is a 400 naming the parameter, as ``metadata.k: null`` already was;
nothing is stored, so every list stays valid against the spec (the fixtures check each answer).
Also: the ``Allow`` header of a wrong method lists the methods of that path only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from assistdb.server import LocalServer

BETA = {"OpenAI-Beta": "assistants=v2"}
RAW = httpx.Client(verify=False)


def _function(**fields: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "f", **fields}}


def _image_url(**fields: Any) -> list[dict[str, Any]]:
    return [{"type": "image_url", "image_url": {"url": "https://example.com/a.png", **fields}}]


RANKER_NULL = {
    "type": "file_search",
    "file_search": {"ranking_options": {"ranker": None, "score_threshold": 0.5}},
}
SCHEMA_NULL = {"type": "json_schema", "json_schema": {"name": "answer", "schema": None}}
#: (what, body fields, the param the 400 names, what the message says)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("ranker", {"tools": [RANKER_NULL]}, "tools[0].file_search.ranking_options.ranker", "got null"),
    (
        "function description",
        {"tools": [_function(description=None)]},
        "tools[0].function.description",
        "null",
    ),
    ("function parameters", {"tools": [_function(parameters=None)]}, "tools[0].function.parameters", "null"),
    (
        "file_search settings",
        {"tools": [{"type": "file_search", "file_search": None}]},
        "tools[0].file_search",
        "",
    ),
    ("json schema", {"response_format": SCHEMA_NULL}, "response_format.json_schema.schema", "an object"),
]
MESSAGE_CASES: list[tuple[str, list[dict[str, Any]], str, str]] = [
    ("image URL that is no URL", _image_url(url="not a url"), "content[0].image_url.url", "a valid URL"),
    ("image URL detail", _image_url(detail=None), "content[0].image_url.detail", "expected a string"),
    (
        "image file detail",
        [{"type": "image_file", "image_file": {"file_id": "file_1", "detail": None}}],
        "content[0].image_file.detail",
        "got null",
    ),
]


def _post(server: LocalServer, path: str, body: dict[str, Any]) -> httpx.Response:
    return RAW.post(f"{server.base_url}{path}", headers=BETA, json=body)


def _assert_refused(response: httpx.Response, param: str, says: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    assert says in error["message"] and error["type"] == "invalid_request_error", error


@pytest.fixture
def ids(server: LocalServer) -> dict[str, str]:
    assistant = _post(server, "/assistants", {"model": "gpt-4o"}).json()["id"]
    thread = _post(server, "/threads", {}).json()["id"]
    return {"assistant": assistant, "thread": thread}


@pytest.mark.parametrize(("what", "fields", "param", "says"), CASES, ids=[case[0] for case in CASES])
def test_tool_and_format_fields_refuse_null_on_assistants_and_runs(
    server: LocalServer, ids: dict[str, str], what: str, fields: dict[str, Any], param: str, says: str
) -> None:
    run = {"assistant_id": ids["assistant"]}
    for path, body, prefix in (
        ("/assistants", {"model": "gpt-4o", **fields}, ""),
        (f"/assistants/{ids['assistant']}", fields, ""),
        (f"/threads/{ids['thread']}/runs", {**run, **fields}, ""),
        ("/threads/runs", {**run, **fields}, ""),
    ):
        _assert_refused(_post(server, path, body), prefix + param, says)
    listed = RAW.get(f"{server.base_url}/assistants", headers=BETA).json()["data"]
    assert [a["id"] for a in listed] == [ids["assistant"]] and listed[0]["tools"] == []


@pytest.mark.parametrize(
    ("what", "content", "param", "says"), MESSAGE_CASES, ids=[case[0] for case in MESSAGE_CASES]
)
def test_message_content_refuses_null_and_urls_that_are_not(
    server: LocalServer, ids: dict[str, str], what: str, content: list[dict[str, Any]], param: str, says: str
) -> None:
    message = {"role": "user", "content": content}
    run = {"assistant_id": ids["assistant"]}
    for path, body, prefix in (
        (f"/threads/{ids['thread']}/messages", message, ""),
        ("/threads", {"messages": [message]}, "messages[0]."),
        (
            f"/threads/{ids['thread']}/runs",
            {**run, "additional_messages": [message]},
            "additional_messages[0].",
        ),
        ("/threads/runs", {**run, "thread": {"messages": [message]}}, "thread.messages[0]."),
    ):
        _assert_refused(_post(server, path, body), prefix + param, says)
    messages = RAW.get(f"{server.base_url}/threads/{ids['thread']}/messages", headers=BETA).json()
    assert messages["data"] == []


def test_left_out_optional_fields_and_real_urls_are_still_accepted(server: LocalServer) -> None:
    assistant = _post(
        server,
        "/assistants",
        {
            "model": "gpt-4o",
            "tools": [
                _function(),
                {"type": "file_search", "file_search": {"ranking_options": {"score_threshold": 0}}},
            ],
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer"}},
        },
    )
    assert assistant.status_code == 200, assistant.text
    content = [
        *_image_url(detail="low"),
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    thread = _post(server, "/threads", {"messages": [{"role": "user", "content": content}]})
    assert thread.status_code == 200, thread.text


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/threads/runs", "POST"),
        ("GET", "/threads/runs", "POST"),
        ("DELETE", "/threads/runs", "POST"),
        ("PUT", "/threads/thread_x", "DELETE, GET, POST"),
        ("PATCH", "/threads/thread_x/runs/run_x/cancel", "POST"),
    ],
)
def test_a_wrong_method_lists_the_methods_of_that_path_only(
    server: LocalServer, method: str, path: str, allow: str
) -> None:
    response = RAW.request(method, f"{server.base_url}{path}", headers=BETA)
    assert response.status_code == 405 and response.headers["allow"] == allow
