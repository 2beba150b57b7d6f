"""Validating Chat Completions requests and answers against OpenAI's OpenAPI description.

The same ``nullable: true`` rewrite as the Assistants check (``tests/server/openapi_check.py``)
applies; no errata are needed for this surface. The description has no embeddings schemas, so
``/embeddings`` exchanges are checked by the SDK's own types (``EmbeddingCreateParams``,
``CreateEmbeddingResponse``), strictly: no field the SDK does not know, none missing.
"""

from __future__ import annotations

import base64
import copy
import inspect
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import yaml
from jsonschema import Draft202012Validator
from openai.resources.embeddings import Embeddings
from openai.types import CreateEmbeddingResponse, EmbeddingCreateParams
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from assistdb.server.backends.scripted_upstream import Exchange
from tests.server.openapi_check import REPO, _nullable

SPEC_URI = "urn:chat-completions"


def chat_spec_path() -> Path:
    override = os.environ.get("ASSISTDB_CHAT_OPENAPI_SPEC")
    return (
        Path(override) if override else REPO.parent / "shared" / "openapi" / "chat-completions.openapi.yaml"
    )


@dataclass
class ChatSpec:
    """Schema checks by component name (``CreateChatCompletionRequest``, ...)."""

    document: dict[str, Any]
    _validators: dict[str, Draft202012Validator] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ChatSpec:
        return cls(_nullable(copy.deepcopy(yaml.safe_load(path.read_text(encoding="utf-8")))))

    def errors(self, schema_name: str, body: object) -> list[str]:
        if schema_name not in self._validators:
            resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
            registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
            ref = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
            self._validators[schema_name] = Draft202012Validator(ref, registry=registry)
        return [
            f"{schema_name} {'/'.join(map(str, error.absolute_path)) or '<body>'}: {error.message}"
            for error in self._validators[schema_name].iter_errors(body)
        ]

    def exchange_errors(self, exchange: Exchange) -> list[str]:
        """What is wrong with a request the double received and with each of its answers."""
        if exchange.path.endswith("/embeddings"):
            return embedding_errors(exchange) + [
                problem
                for answer in exchange.answers
                if exchange.status != 200
                for problem in self.errors("ErrorResponse", answer)
            ]
        problems = self.errors("CreateChatCompletionRequest", exchange.body)
        if exchange.status != 200:
            answer_schema = "ErrorResponse"
        elif exchange.streamed:
            answer_schema = "CreateChatCompletionStreamResponse"
        else:
            answer_schema = "CreateChatCompletionResponse"
        for answer in exchange.answers:
            problems += self.errors(answer_schema, answer)
        if exchange.stream_error is not None:
            problems += self.errors("ErrorResponse", exchange.stream_error)
        return problems


def embedding_errors(exchange: Exchange) -> list[str]:
    """An embeddings request and its successful answers against the SDK's types."""
    body = exchange.body
    problems = [f"embeddings request: unknown field {name!r}" for name in set(body) - _EMBEDDING_FIELDS]
    problems += [f"embeddings request: missing {name!r}" for name in _REQUIRED_EMBEDDING_FIELDS - set(body)]
    if exchange.status == 200:
        for answer in exchange.answers:
            if body.get("encoding_format") == "base64":
                answer = _decoded(answer)
            try:
                CreateEmbeddingResponse.model_validate(answer, strict=True)
            except pydantic.ValidationError as exc:
                problems.append(f"CreateEmbeddingResponse: {exc}")
            extra = set(answer) - set(CreateEmbeddingResponse.model_fields)
            problems += [f"CreateEmbeddingResponse: unknown field {name!r}" for name in extra]
    return problems


def _decoded(answer: dict[str, Any]) -> dict[str, Any]:
    """A base64 answer as the SDK reads it: each embedding a string of float32 values, decoded
    before its types apply (the types, like the spec, describe only lists of floats)."""
    data = []
    for item in answer.get("data", []):
        raw = base64.b64decode(item["embedding"], validate=True)
        data.append({**item, "embedding": list(struct.unpack(f"<{len(raw) // 4}f", raw))})
    return {**answer, "data": data}


_EMBEDDING_FIELDS = set(EmbeddingCreateParams.__annotations__)
#: What ``client.embeddings.create`` requires (the TypedDict's ``Required`` marks are strings here).
_REQUIRED_EMBEDDING_FIELDS = {
    name
    for name, parameter in inspect.signature(Embeddings.create).parameters.items()
    if parameter.kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty
}


def load_chat_spec() -> ChatSpec | None:
    path = chat_spec_path()
    return ChatSpec.load(path) if path.is_file() else None
