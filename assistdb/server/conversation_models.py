"""Request bodies of the Conversations API, strict like the Assistants ones (``request_models``).

Only the item types a conversation made from a thread needs are accepted: messages (text,
images, files, refusals), function calls with their outputs, and file search calls. Any other
item type is refused by name, so a client learns at once that this server does not keep it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, model_validator

from assistdb.server.request_models import Metadata, NonEmpty, RequestModel

MAX_ITEMS = 20
INCLUDE_VALUES = frozenset(
    {
        "file_search_call.results",
        "web_search_call.results",
        "web_search_call.action.sources",
        "message.input_image.image_url",
        "computer_call_output.output.image_url",
        "code_interpreter_call.outputs",
        "reasoning.encrypted_content",
        "message.output_text.logprobs",
    }
)
ItemStatus = Literal["in_progress", "completed", "incomplete"]


class InputText(RequestModel):
    type: Literal["input_text"]
    text: str


class OutputText(RequestModel):
    type: Literal["output_text"]
    text: str
    annotations: list[dict[str, Any]] | None = None
    logprobs: list[dict[str, Any]] | None = None


class InputImage(RequestModel):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto", "original"] = "auto"

    @model_validator(mode="after")
    def _one_source(self) -> InputImage:
        if self.image_url is None and self.file_id is None:
            raise ValueError("an input_image needs 'image_url' or 'file_id'")
        return self


class InputFile(RequestModel):
    type: Literal["input_file"]
    file_id: str | None = None
    file_url: str | None = None
    file_data: str | None = None
    filename: str | None = None


class Refusal(RequestModel):
    type: Literal["refusal"]
    refusal: str


Part = Annotated[InputText | OutputText | InputImage | InputFile | Refusal, Discriminator("type")]
OutputPart = Annotated[InputText | InputImage | InputFile, Discriminator("type")]


class MessageItem(RequestModel):
    type: Literal["message"] = "message"
    id: NonEmpty | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[Part]
    status: ItemStatus | None = None
    phase: Literal["commentary", "final_answer"] | None = None


class FunctionCallItem(RequestModel):
    type: Literal["function_call"]
    id: NonEmpty | None = None
    call_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=128)]
    arguments: str
    status: ItemStatus | None = None


class FunctionCallOutputItem(RequestModel):
    type: Literal["function_call_output"]
    id: NonEmpty | None = None
    call_id: Annotated[str, Field(min_length=1, max_length=64)]
    output: str | list[OutputPart]
    status: ItemStatus | None = None


class FileSearchCallItem(RequestModel):
    type: Literal["file_search_call"]
    id: NonEmpty
    status: Literal["in_progress", "searching", "completed", "incomplete", "failed"]
    queries: list[str]
    results: list[dict[str, Any]] | None = None


Item = Annotated[
    MessageItem | FunctionCallItem | FunctionCallOutputItem | FileSearchCallItem, Discriminator("type")
]


class CreateConversation(RequestModel):
    metadata: Metadata | None = None
    items: Annotated[list[Item], Field(max_length=MAX_ITEMS)] | None = None


class UpdateConversation(RequestModel):
    metadata: Metadata | None


class CreateItems(RequestModel):
    items: Annotated[list[Item], Field(max_length=MAX_ITEMS)]
