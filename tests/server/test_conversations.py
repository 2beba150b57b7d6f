"""The Conversations API of ``assistdb serve``, through the SDK's ``client.conversations``.

Every response a test receives is checked against OpenAI's Conversations description
(``conversations-responses.openapi.yaml``), with the same list erratum as the Assistants check:
``first_id``/``last_id`` are null on an empty page.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from assistdb.server import LocalServer
from tests.server.openapi_check import REPO, SpecValidator, _list_erratum, _nullable

SPEC = REPO.parent / "shared" / "openapi" / "conversations-responses.openapi.yaml"


def _load() -> SpecValidator | None:
    if not SPEC.is_file():
        return None
    document = _nullable(copy.deepcopy(yaml.safe_load(SPEC.read_text(encoding="utf-8"))))
    _list_erratum(document["components"]["schemas"]["ConversationItemList"])
    # Its paths are relative to /v1 like the Assistants description's; operation IDs are unique.
    return SpecValidator(document)


_VALIDATOR = _load()


@pytest.fixture
def checked(assistdb_server_factory: Callable[..., LocalServer]) -> Iterator[Callable[..., LocalServer]]:
    """Start servers whose every Conversations response must match the spec."""
    if _VALIDATOR is None:
        pytest.skip(f"the Conversations OpenAPI description is not at {SPEC}")
    validator = _VALIDATOR
    violations: list[str] = []
    seen: list[str] = []

    def hook(operation_id: str, status: int, body: object) -> None:
        seen.append(operation_id)
        violations.extend(
            f"{operation_id} ({status}): {e}" for e in validator.errors(operation_id, status, body)
        )

    yield lambda **kwargs: assistdb_server_factory(on_response=hook, **kwargs)
    assert seen, "no response was checked"
    assert not violations, "\n".join(violations[:20])


@pytest.fixture
def client(checked: Callable[..., LocalServer]) -> Iterator[openai.OpenAI]:
    with checked().client(max_retries=0) as sdk:
        yield sdk


MIXED: Any = [
    {"role": "user", "content": "What is the weather in Oslo?"},
    {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "and here?"},
            {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"},
            {"type": "input_image", "file_id": "file-abc"},
        ],
    },
    {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city":"Oslo"}'},
    {"type": "function_call", "call_id": "call_2", "name": "weather", "arguments": '{"city":"Rome"}'},
    {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    {"type": "function_call_output", "call_id": "call_2", "output": "rain"},
    {
        "type": "file_search_call",
        "id": "fs_1",
        "status": "completed",
        "queries": ["weather"],
        "results": None,
    },
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Sunny in Oslo."}]},
]


def test_create_retrieve_update_delete(client: openai.OpenAI) -> None:
    conversation = client.conversations.create(metadata={"topic": "weather"}, items=MIXED)
    assert conversation.id.startswith("conv_") and conversation.object == "conversation"
    assert client.conversations.retrieve(conversation.id) == conversation
    updated = client.conversations.update(conversation.id, metadata={"topic": "rain", "k": "v"})
    assert updated.metadata == {"topic": "rain", "k": "v"} and updated.created_at == conversation.created_at

    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.type for item in items] == [
        "message",
        "message",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "file_search_call",
        "message",
    ]
    first = items[0].to_dict()
    assert first["content"] == [{"type": "input_text", "text": "What is the weather in Oslo?"}]
    assert first["role"] == "user" and first["status"] == "completed"
    assert items[1].to_dict()["content"][1:] == [
        {"type": "input_image", "detail": "low", "file_id": None, "image_url": "https://example.com/a.png"},
        {"type": "input_image", "detail": "auto", "file_id": "file-abc", "image_url": None},
    ]
    assert items[-1].to_dict()["content"] == [
        {"type": "output_text", "text": "Sunny in Oslo.", "annotations": [], "logprobs": []}
    ]
    assert items[6].id == "fs_1"
    call = items[2].to_dict()
    assert (call["call_id"], call["name"], call["arguments"]) == ("call_1", "weather", '{"city":"Oslo"}')

    assert client.conversations.items.retrieve(items[3].id, conversation_id=conversation.id) == items[3]
    after_delete = client.conversations.items.delete(items[3].id, conversation_id=conversation.id)
    assert after_delete.id == conversation.id
    assert [i.id for i in client.conversations.items.list(conversation.id, order="asc").data] == [
        i.id for i in items if i.id != items[3].id
    ]
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(items[3].id, conversation_id=conversation.id)

    deleted = client.conversations.delete(conversation.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (conversation.id, True, "conversation.deleted")
    with pytest.raises(openai.NotFoundError) as missing:
        client.conversations.retrieve(conversation.id)
    assert missing.value.body == {  # type: ignore[comparison-overlap]
        "message": f"Conversation with id '{conversation.id}' not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conversation.id)


def test_items_are_appended_in_batches_and_paged_both_ways(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    assert client.conversations.items.list(conversation.id).data == []
    for batch in range(3):
        added = client.conversations.items.create(
            conversation.id,
            items=[{"role": "user", "content": f"message {batch * 20 + n}"} for n in range(20)],
        )
        assert len(added.data) == 20 and added.has_more is False and added.first_id == added.data[0].id
    texts = [
        item.to_dict()["content"][0]["text"]
        for item in client.conversations.items.list(conversation.id, order="asc", limit=100).data
    ]
    assert texts == [f"message {n}" for n in range(60)]
    walked: list[str] = []
    page = client.conversations.items.list(conversation.id, limit=7)  # desc by default
    for item in page.iter_pages():
        walked += [i.to_dict()["content"][0]["text"] for i in item.data]
    assert walked == [f"message {n}" for n in reversed(range(60))]


def test_bad_requests_are_refused_like_the_api(client: openai.OpenAI) -> None:
    too_many: Any = [{"role": "user", "content": str(n)} for n in range(21)]
    with pytest.raises(openai.BadRequestError) as refused:
        client.conversations.create(items=too_many)
    assert refused.value.body["param"] == "items"  # type: ignore[index]
    conversation = client.conversations.create(items=too_many[:20])
    with pytest.raises(openai.BadRequestError):
        client.conversations.items.create(conversation.id, items=too_many)
    with pytest.raises(openai.BadRequestError):
        client.conversations.items.create(conversation.id, items=[{"type": "reasoning", "summary": []}])  # type: ignore[list-item]
    with pytest.raises(openai.BadRequestError):
        client.conversations.create(metadata={f"k{n}": "v" for n in range(17)})
    with pytest.raises(openai.BadRequestError):
        client.conversations.items.list(conversation.id, limit=101)
    with pytest.raises(openai.BadRequestError):
        client.conversations.items.list(conversation.id, include=["nonsense"])  # type: ignore[list-item]
    with pytest.raises(openai.BadRequestError):
        client.conversations.items.create(
            conversation.id,
            items=[{"type": "message", "role": "user", "content": [{"type": "input_image"}]}],  # type: ignore[list-item]
        )
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.create("conv_missing", items=[{"role": "user", "content": "hi"}])
    # a failed batch adds nothing
    assert len(client.conversations.items.list(conversation.id, limit=100).data) == 20
    one = client.conversations.items.list(conversation.id, limit=1).data[0]
    with pytest.raises(openai.BadRequestError):  # an ID already taken refuses the whole batch
        client.conversations.items.create(
            conversation.id,
            items=[
                {"role": "user", "content": "new"},
                {"type": "message", "id": one.id, "role": "user", "content": "x"},
            ],
        )
    assert len(client.conversations.items.list(conversation.id, limit=100).data) == 20


def test_conversations_outlive_the_server(
    database_url: str, checked: Callable[..., LocalServer], tmp_path: Path
) -> None:
    first = checked(database_url=database_url)
    sdk = first.client()
    conversation = sdk.conversations.create(items=MIXED, metadata={"a": "b"})
    items = sdk.conversations.items.list(conversation.id, order="asc").data
    first.stop()
    second = checked(database_url=database_url)
    again = second.client()
    assert again.conversations.retrieve(conversation.id) == conversation
    assert again.conversations.items.list(conversation.id, order="asc").data == items
