"""The Conversations API (``/v1/conversations``): conversations and their items, in the database.

A conversation is an ordered list of items (messages, function calls and outputs, file search
calls), which is what the Responses API keeps where Assistants kept a thread. Items are stored
as the resources the API returns, in the order they were added (``seq``); at most 20 are added
per request, all of them or none. Requests are validated as strictly as the Assistants ones.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from assistdb.server import tables
from assistdb.server.conversation_models import (
    INCLUDE_VALUES,
    CreateConversation,
    CreateItems,
    FileSearchCallItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputImage,
    Item,
    MessageItem,
    OutputText,
    UpdateConversation,
)
from assistdb.server.errors import HttpError, invalid
from assistdb.server.objects import Obj
from assistdb.server.operations import Api, Call, Reply
from assistdb.server.pagination import list_object
from assistdb.server.state import Tx
from assistdb.server.validation import page_request, parse_body

_ID_PREFIXES = {"message": "msg_", "function_call": "fc_", "function_call_output": "fco_"}


def create_conversation(api: Api, call: Call) -> Reply:
    request = parse_body(CreateConversation, _typed_items(call.body))
    with api.store.writing() as tx:
        conversation: Obj = {
            "id": tx.new_id("conv_"),
            "object": "conversation",
            "created_at": int(api.clock()),
            "metadata": request.metadata or {},
        }
        tx.connection.execute(
            tables.conversations.insert().values(id=conversation["id"], body=_encode(conversation))
        )
        _add_items(tx, conversation["id"], request.items or [])
    return Reply(conversation)


def get_conversation(api: Api, call: Call) -> Reply:
    with api.store.reading() as tx:
        return Reply(_conversation(tx, call.params["conversation_id"]))


def update_conversation(api: Api, call: Call) -> Reply:
    request = parse_body(UpdateConversation, call.body)
    with api.store.writing() as tx:
        conversation = _conversation(tx, call.params["conversation_id"])
        conversation["metadata"] = request.metadata or {}
        table = tables.conversations
        tx.connection.execute(
            update(table).where(table.c.id == conversation["id"]).values(body=_encode(conversation))
        )
    return Reply(conversation)


def delete_conversation(api: Api, call: Call) -> Reply:
    conversation_id = call.params["conversation_id"]
    with api.store.writing() as tx:
        _conversation(tx, conversation_id)
        for table, column in (
            (tables.conversations, tables.conversations.c.id),
            (tables.conversation_items, tables.conversation_items.c.conversation_id),
        ):
            tx.connection.execute(update(table).where(column == conversation_id).values(deleted=True))
    return Reply({"id": conversation_id, "object": "conversation.deleted", "deleted": True})


def list_items(api: Api, call: Call) -> Reply:
    _check_include(call)
    request = page_request(call.query)
    conversation_id = call.params["conversation_id"]
    table = tables.conversation_items
    with api.store.reading() as tx:
        _conversation(tx, conversation_id)
        scope = [table.c.conversation_id == conversation_id]
        data, more = tx.page(table, scope, scope, request)
    return Reply(list_object(data, more))


def create_items(api: Api, call: Call) -> Reply:
    _check_include(call)
    request = parse_body(CreateItems, _typed_items(call.body))
    with api.store.writing() as tx:
        _conversation(tx, call.params["conversation_id"])
        added = _add_items(tx, call.params["conversation_id"], request.items)
    return Reply(list_object(added, False))


def get_item(api: Api, call: Call) -> Reply:
    _check_include(call)
    with api.store.reading() as tx:
        _conversation(tx, call.params["conversation_id"])
        return Reply(_item(tx, call.params["conversation_id"], call.params["item_id"]))


def delete_item(api: Api, call: Call) -> Reply:
    conversation_id, item_id = call.params["conversation_id"], call.params["item_id"]
    with api.store.writing() as tx:
        conversation = _conversation(tx, conversation_id)
        _item(tx, conversation_id, item_id)
        table = tables.conversation_items
        tx.connection.execute(update(table).where(table.c.id == item_id).values(deleted=True))
    return Reply(conversation)


# helpers ------------------------------------------------------------------------------------------


def _encode(obj: Obj) -> str:
    from assistdb.server.state import encode

    return encode(obj)


def _typed_items(body: object) -> object:
    """A message item may leave out ``"type": "message"`` (the API's easy input form)."""
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        items = [
            {"type": "message", **item}
            if isinstance(item, dict) and "type" not in item and "role" in item
            else item
            for item in body["items"]
        ]
        return {**body, "items": items}
    return body


def _check_include(call: Call) -> None:
    for name in ("include", "include[]"):
        for value in call.query.get(name, ()):
            if value not in INCLUDE_VALUES:
                raise invalid(
                    f"Invalid value: '{value}'. Supported values are: "
                    + ", ".join(f"'{v}'" for v in sorted(INCLUDE_VALUES))
                    + ".",
                    param="include",
                    code="invalid_value",
                )


def _conversation(tx: Tx, conversation_id: str) -> Obj:
    found = tx._body(tables.conversations, conversation_id)
    if found is None:
        raise HttpError(404, f"Conversation with id '{conversation_id}' not found.")
    return found


def _item(tx: Tx, conversation_id: str, item_id: str) -> Obj:
    found = tx._body(
        tables.conversation_items, item_id, tables.conversation_items.c.conversation_id == conversation_id
    )
    if found is None:
        raise HttpError(404, f"Item with id '{item_id}' not found.")
    return found


def _add_items(tx: Tx, conversation_id: str, items: list[Item]) -> list[Obj]:
    """Store the items in order, all or none (one transaction); given item IDs must be new."""
    resources = [_resource(tx, item) for item in items]
    ids = [resource["id"] for resource in resources]
    if len(set(ids)) != len(ids):
        raise invalid("Duplicate item IDs in 'items'.", param="items", code="duplicate_item_id")
    table = tables.conversation_items
    if ids:
        taken = tx.connection.execute(
            table.select().with_only_columns(table.c.id).where(table.c.id.in_(ids))
        ).first()
        if taken is not None:
            raise invalid(
                f"An item with id '{taken.id}' already exists.", param="items", code="duplicate_item_id"
            )
        tx.insert_many(
            table,
            [{"id": item["id"], "conversation_id": conversation_id, "body": item} for item in resources],
        )
    return resources


def _resource(tx: Tx, item: Item) -> Obj:
    """An input item as the API returns it: an ID, a status, content parts in full."""
    item_id = item.id or tx.new_id(_ID_PREFIXES.get(item.type, "item_"))
    if isinstance(item, MessageItem):
        return {
            "id": item_id,
            "type": "message",
            "status": item.status or "completed",
            "role": item.role,
            "content": _content(item),
        }
    if isinstance(item, FunctionCallItem):
        return {
            "id": item_id,
            "type": "function_call",
            "status": item.status or "completed",
            "arguments": item.arguments,
            "call_id": item.call_id,
            "name": item.name,
        }
    if isinstance(item, FunctionCallOutputItem):
        output: Any = item.output
        if not isinstance(output, str):
            output = [part.model_dump(mode="json", exclude_none=True) for part in output]
        return {
            "id": item_id,
            "type": "function_call_output",
            "status": item.status or "completed",
            "call_id": item.call_id,
            "output": output,
        }
    assert isinstance(item, FileSearchCallItem)
    return {
        "id": item_id,
        "type": "file_search_call",
        "status": item.status,
        "queries": list(item.queries),
        "results": item.results,
    }


def _content(item: MessageItem) -> list[Obj]:
    if isinstance(item.content, str):
        if item.role == "assistant":
            return [{"type": "output_text", "text": item.content, "annotations": [], "logprobs": []}]
        return [{"type": "input_text", "text": item.content}]
    parts: list[Obj] = []
    for part in item.content:
        if isinstance(part, OutputText):
            parts.append(
                {
                    "type": "output_text",
                    "text": part.text,
                    "annotations": part.annotations or [],
                    "logprobs": part.logprobs or [],
                }
            )
        elif isinstance(part, InputImage):
            parts.append(
                {
                    "type": "input_image",
                    "detail": part.detail,
                    "file_id": part.file_id,
                    "image_url": part.image_url,
                }
            )
        else:
            parts.append(part.model_dump(mode="json", exclude_unset=True))
    return parts
