"""Request bodies of Assistants v2, as strict pydantic models mirroring the OpenAPI schemas.

Every model forbids unknown fields and coerces nothing, so a wrong type is refused as the real
API refused it. Unions that the spec distinguishes by JSON type (a string or an object) pick
their branch with a discriminator, so an error names one cause, never one per branch.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
RUN_STEP_INCLUDE = "step_details.tool_calls[*].file_search.results[*].content"


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=())


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_METADATA_PAIRS:
        raise PydanticCustomError(
            "object_above_max_properties",
            "too many properties. Expected an object with at most {most} properties, "
            "but got an object with {count} properties instead.",
            {"most": MAX_METADATA_PAIRS, "count": len(value)},
        )
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY:
            raise PydanticCustomError(
                "string_above_max_length",
                "key '{key}' too long. Expected keys with maximum length {most}, "
                "but got a key with length {length} instead.",
                {"key": key, "most": MAX_METADATA_KEY, "length": len(key)},
            )
        if len(item) > MAX_METADATA_VALUE:
            raise PydanticCustomError(
                "string_above_max_length",
                "value of key '{key}' too long. Expected values with maximum length {most}, "
                "but got a value with length {length} instead.",
                {"key": key, "most": MAX_METADATA_VALUE, "length": len(item)},
            )
    return value


Metadata = Annotated[dict[str, str], AfterValidator(_check_metadata)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
Temperature = Annotated[float, Field(ge=0, le=2)]
TopP = Annotated[float, Field(ge=0, le=1)]
TokenLimit = Annotated[int, Field(ge=256)]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


def _not_null(expected: str) -> BeforeValidator:
    """For an optional field the spec does not make nullable: leaving it out is fine, an explicit
    ``null`` is refused as the wrong type (it would be stored and echoed, breaking the spec)."""

    def refuse_null(value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("invalid_type", expected)
        return value

    return BeforeValidator(refuse_null)


A_STRING, AN_OBJECT, AN_ARRAY, AN_INTEGER = (
    _not_null("a string"),
    _not_null("an object"),
    _not_null("an array"),
    _not_null("an integer"),
)
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


def _check_url(value: str) -> str:
    """``format: uri``: a scheme, then something, no spaces (``https://...`` or ``data:...``)."""
    if not _URI_SCHEME.match(value):
        raise PydanticCustomError(
            "invalid_value", "Expected a valid URL, but got '{url}' instead.", {"url": value}
        )
    return value


def _by_json_type(value: Any) -> str | None:
    """Discriminator for string-or-object and string-or-array unions."""
    if isinstance(value, str):
        return "~string"
    if isinstance(value, dict):
        return "~object"
    if isinstance(value, list):
        return "~array"
    return None


def _json_type_union(expected: str) -> Discriminator:
    """A discriminator whose failure reads as the API's type error; the message names what was expected."""
    return Discriminator(_by_json_type, custom_error_type="invalid_type", custom_error_message=expected)


# Tools ---------------------------------------------------------------------------------------


class FunctionDefinition(RequestModel):
    name: Name
    description: Annotated[str | None, A_STRING] = None
    parameters: Annotated[dict[str, Any] | None, AN_OBJECT] = None
    strict: bool | None = None


class FunctionTool(RequestModel):
    type: Literal["function"]
    function: FunctionDefinition


class CodeInterpreterTool(RequestModel):
    type: Literal["code_interpreter"]


class RankingOptions(RequestModel):
    ranker: Annotated[Literal["auto", "default_2024_08_21"] | None, A_STRING] = None
    score_threshold: Annotated[float, Field(ge=0, le=1)]


class FileSearchSettings(RequestModel):
    max_num_results: Annotated[Annotated[int, Field(ge=1, le=50)] | None, AN_INTEGER] = None
    ranking_options: Annotated[RankingOptions | None, AN_OBJECT] = None


class FileSearchTool(RequestModel):
    type: Literal["file_search"]
    file_search: Annotated[FileSearchSettings | None, AN_OBJECT] = None


Tool = Annotated[CodeInterpreterTool | FileSearchTool | FunctionTool, Field(discriminator="type")]
AssistantTools = Annotated[list[Tool], Field(max_length=128)]
RunTools = Annotated[list[Tool], Field(max_length=20)]


# Tool resources ------------------------------------------------------------------------------


class CodeInterpreterResources(RequestModel):
    file_ids: Annotated[Annotated[list[str], Field(max_length=20)] | None, AN_ARRAY] = None


class AutoChunking(RequestModel):
    type: Literal["auto"]


class StaticChunkingSettings(RequestModel):
    max_chunk_size_tokens: Annotated[int, Field(ge=100, le=4096)]
    chunk_overlap_tokens: int


class StaticChunking(RequestModel):
    type: Literal["static"]
    static: StaticChunkingSettings


class NewVectorStore(RequestModel):
    file_ids: list[str] | None = None
    chunking_strategy: Annotated[AutoChunking | StaticChunking, Field(discriminator="type")] | None = None
    metadata: Metadata | None = None


class FileSearchResources(RequestModel):
    vector_store_ids: Annotated[Annotated[list[str], Field(max_length=1)] | None, AN_ARRAY] = None


class NewFileSearchResources(FileSearchResources):
    vector_stores: Annotated[Annotated[list[NewVectorStore], Field(max_length=1)] | None, AN_ARRAY] = None

    @model_validator(mode="after")
    def _one_source(self) -> NewFileSearchResources:
        if (self.vector_store_ids is None) == (self.vector_stores is None):
            raise PydanticCustomError(
                "invalid_value",
                "give either 'vector_store_ids' or 'vector_stores' (one of them, not both).",
            )
        return self


class ToolResources(RequestModel):
    code_interpreter: Annotated[CodeInterpreterResources | None, AN_OBJECT] = None
    file_search: Annotated[FileSearchResources | None, AN_OBJECT] = None


class NewToolResources(RequestModel):
    """Tool resources of a new assistant or thread, which may create a vector store inline."""

    code_interpreter: Annotated[CodeInterpreterResources | None, AN_OBJECT] = None
    file_search: Annotated[NewFileSearchResources | None, AN_OBJECT] = None


# Response format and tool choice -----------------------------------------------------------------


class TextFormat(RequestModel):
    type: Literal["text"]


class JsonObjectFormat(RequestModel):
    type: Literal["json_object"]


class JsonSchemaSettings(RequestModel):
    name: Name
    description: Annotated[str | None, A_STRING] = None
    schema_: Annotated[dict[str, Any] | None, AN_OBJECT] = Field(default=None, alias="schema")
    strict: bool | None = None


class JsonSchemaFormat(RequestModel):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSettings


ResponseFormat = Annotated[
    Annotated[Literal["auto"], Tag("~string")]
    | Annotated[
        Annotated[TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")],
        Tag("~object"),
    ],
    _json_type_union("a string or an object"),
]


class ToolChoiceFunction(RequestModel):
    name: str


class NamedToolChoice(RequestModel):
    type: Literal["function", "code_interpreter", "file_search"]
    function: Annotated[ToolChoiceFunction | None, AN_OBJECT] = None


ToolChoice = Annotated[
    Annotated[Literal["none", "auto", "required"], Tag("~string")]
    | Annotated[NamedToolChoice, Tag("~object")],
    _json_type_union("a string or an object"),
]


class TruncationStrategy(RequestModel):
    type: Literal["auto", "last_messages"]
    last_messages: Annotated[int, Field(ge=1)] | None = None


# Messages --------------------------------------------------------------------------------------


class ImageFileRef(RequestModel):
    file_id: str
    detail: Annotated[Literal["auto", "low", "high"] | None, A_STRING] = None


class ImageFilePart(RequestModel):
    type: Literal["image_file"]
    image_file: ImageFileRef


class ImageUrlRef(RequestModel):
    url: Annotated[str, AfterValidator(_check_url)]
    detail: Annotated[Literal["auto", "low", "high"] | None, A_STRING] = None


class ImageUrlPart(RequestModel):
    type: Literal["image_url"]
    image_url: ImageUrlRef


class TextPart(RequestModel):
    type: Literal["text"]
    text: str


ContentPart = Annotated[ImageFilePart | ImageUrlPart | TextPart, Field(discriminator="type")]
MessageContent = Annotated[
    Annotated[NonEmpty, Tag("~string")]
    | Annotated[Annotated[list[ContentPart], Field(min_length=1)], Tag("~array")],
    _json_type_union("a string or an array"),
]


class AttachmentTool(RequestModel):
    type: Literal["code_interpreter", "file_search"]


class Attachment(RequestModel):
    file_id: str
    tools: list[AttachmentTool]


class CreateMessage(RequestModel):
    role: Literal["user", "assistant"]
    content: MessageContent
    attachments: list[Attachment] | None = None
    metadata: Metadata | None = None


class ModifyMetadata(RequestModel):
    """The body of modify message and modify run: only metadata can change."""

    metadata: Metadata | None = None


# Assistants and threads --------------------------------------------------------------------------


class CreateAssistant(RequestModel):
    model: NonEmpty
    name: Annotated[str, StringConstraints(max_length=256)] | None = None
    description: Annotated[str, StringConstraints(max_length=512)] | None = None
    instructions: Annotated[str, StringConstraints(max_length=256_000)] | None = None
    reasoning_effort: ReasoningEffort | None = None
    tools: Annotated[AssistantTools | None, AN_ARRAY] = None
    tool_resources: NewToolResources | None = None
    metadata: Metadata | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    response_format: ResponseFormat | None = None


class ModifyAssistant(RequestModel):
    model: Annotated[NonEmpty | None, A_STRING] = None
    name: Annotated[str, StringConstraints(max_length=256)] | None = None
    description: Annotated[str, StringConstraints(max_length=512)] | None = None
    instructions: Annotated[str, StringConstraints(max_length=256_000)] | None = None
    reasoning_effort: ReasoningEffort | None = None
    tools: Annotated[AssistantTools | None, AN_ARRAY] = None
    tool_resources: ToolResources | None = None
    metadata: Metadata | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    response_format: ResponseFormat | None = None


class CreateThread(RequestModel):
    messages: Annotated[list[CreateMessage] | None, AN_ARRAY] = None
    tool_resources: NewToolResources | None = None
    metadata: Metadata | None = None


class ModifyThread(RequestModel):
    tool_resources: ToolResources | None = None
    metadata: Metadata | None = None


# Runs ------------------------------------------------------------------------------------------


class RunSettings(RequestModel):
    """Fields shared by create run and create thread and run."""

    assistant_id: str
    model: NonEmpty | None = None
    reasoning_effort: ReasoningEffort | None = None
    instructions: str | None = None
    tools: RunTools | None = None
    metadata: Metadata | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    stream: bool | None = None
    max_prompt_tokens: TokenLimit | None = None
    max_completion_tokens: TokenLimit | None = None
    truncation_strategy: TruncationStrategy | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None


class CreateRun(RunSettings):
    additional_instructions: str | None = None
    additional_messages: list[CreateMessage] | None = None


class CreateThreadAndRun(RunSettings):
    thread: Annotated[CreateThread | None, AN_OBJECT] = None
    tool_resources: ToolResources | None = None


class ToolOutput(RequestModel):
    tool_call_id: str
    output: str


class SubmitToolOutputs(RequestModel):
    tool_outputs: list[ToolOutput]
    stream: bool | None = None


# Server extensions -----------------------------------------------------------------------------


class SeedThread(RequestModel):
    """The body of ``POST /_assistdb/seed``."""

    messages: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    runs: Annotated[int, Field(ge=0)] = 0
    metadata: Metadata | None = None
    assistant_id: str | None = None
