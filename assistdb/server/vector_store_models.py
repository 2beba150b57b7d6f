"""Request bodies of the files, uploads and vector store operations, as strict pydantic models.

They follow ``files-vector-stores.openapi.yaml`` and the conventions of ``request_models``: unknown
fields are refused, nothing is coerced, and limits the API enforced (chunk sizes, attribute
counts, result counts) are checked here so a handler never starts on a request it must refuse.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from assistdb.server.request_models import (
    AutoChunking,
    Metadata,
    RequestModel,
    StaticChunking,
)

MAX_ATTRIBUTES = 16
MAX_ATTRIBUTE_KEY = 64
MAX_ATTRIBUTE_STRING = 512
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision")


def _check_chunking(value: AutoChunking | StaticChunking) -> AutoChunking | StaticChunking:
    if isinstance(value, StaticChunking):
        settings = value.static
        if not 0 <= settings.chunk_overlap_tokens <= settings.max_chunk_size_tokens // 2:
            raise PydanticCustomError(
                "invalid_value",
                "chunk_overlap_tokens must be between 0 and half of max_chunk_size_tokens "
                "({half}), but got {overlap}.",
                {"half": settings.max_chunk_size_tokens // 2, "overlap": settings.chunk_overlap_tokens},
            )
    return value


Chunking = Annotated[
    Annotated[AutoChunking | StaticChunking, Field(discriminator="type")], AfterValidator(_check_chunking)
]


def _check_attributes(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_ATTRIBUTES:
        raise PydanticCustomError(
            "object_above_max_properties",
            "too many properties. Expected an object with at most {most} properties, "
            "but got an object with {count} properties instead.",
            {"most": MAX_ATTRIBUTES, "count": len(value)},
        )
    for key, item in value.items():
        if len(key) > MAX_ATTRIBUTE_KEY:
            raise PydanticCustomError(
                "string_above_max_length",
                "key '{key}' too long. Expected keys with maximum length {most}.",
                {"key": key, "most": MAX_ATTRIBUTE_KEY},
            )
        if isinstance(item, str) and len(item) > MAX_ATTRIBUTE_STRING:
            raise PydanticCustomError(
                "string_above_max_length",
                "value of key '{key}' too long. Expected strings with maximum length {most}.",
                {"key": key, "most": MAX_ATTRIBUTE_STRING},
            )
        if not isinstance(item, str | bool | int | float):
            raise PydanticCustomError(
                "invalid_value",
                "value of key '{key}' must be a string, a number or a boolean.",
                {"key": key},
            )
    return value


Attributes = Annotated[dict[str, Any], AfterValidator(_check_attributes)]


class StoreExpiry(RequestModel):
    anchor: Literal["last_active_at"]
    days: Annotated[int, Field(ge=1, le=365)]


class FileExpiry(RequestModel):
    anchor: Literal["created_at"]
    seconds: Annotated[int, Field(ge=3600, le=2592000)]


class CreateUpload(RequestModel):
    filename: Annotated[str, Field(min_length=1)]
    purpose: Literal["assistants", "batch", "fine-tune", "vision"]
    bytes: Annotated[int, Field(ge=1, le=8 * 1024**3)]
    mime_type: str
    expires_after: FileExpiry | None = None


class CompleteUpload(RequestModel):
    part_ids: list[str]
    md5: str | None = None


class CreateVectorStore(RequestModel):
    file_ids: Annotated[list[str], Field(max_length=500)] | None = None
    name: str | None = None
    expires_after: StoreExpiry | None = None
    chunking_strategy: Chunking | None = None
    metadata: Metadata | None = None


class ModifyVectorStore(RequestModel):
    name: str | None = None
    expires_after: StoreExpiry | None = None
    metadata: Metadata | None = None


class CreateVectorStoreFile(RequestModel):
    file_id: str
    chunking_strategy: Chunking | None = None
    attributes: Attributes | None = None


class CreateFileBatch(RequestModel):
    file_ids: Annotated[list[str], Field(min_length=1, max_length=2000)] | None = None
    files: Annotated[list[CreateVectorStoreFile], Field(min_length=1, max_length=2000)] | None = None
    chunking_strategy: Chunking | None = None
    attributes: Attributes | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CreateFileBatch:
        if (self.file_ids is None) == (self.files is None):
            raise PydanticCustomError("invalid_value", "give either 'file_ids' or 'files' (exactly one).")
        return self


class UpdateAttributes(RequestModel):
    attributes: Attributes | None


class SearchRanking(RequestModel):
    ranker: Literal["none", "auto", "default-2024-11-15"] | None = None
    score_threshold: Annotated[float, Field(ge=0, le=1)] | None = None


class ComparisonFilter(RequestModel):
    type: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]
    key: str
    value: str | bool | int | float | list[str | int | float]


class CompoundFilter(RequestModel):
    type: Literal["and", "or"]
    filters: list[Annotated[ComparisonFilter | CompoundFilter, Field(union_mode="left_to_right")]]


Filter = Annotated[ComparisonFilter | CompoundFilter, Field(union_mode="left_to_right")]


class SearchVectorStore(RequestModel):
    query: str | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    rewrite_query: bool | None = None
    max_num_results: Annotated[int, Field(ge=1, le=50)] | None = None
    filters: Filter | None = None
    ranking_options: SearchRanking | None = None
