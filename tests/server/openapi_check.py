"""Validating response bodies against the Assistants v2 OpenAPI description.

The description mixes OpenAPI 3.1 with the 3.0 keyword ``nullable: true`` (also as an ``allOf``
member); JSON Schema validators ignore that keyword, so it is rewritten into the equivalent
``anyOf [..., {"type": "null"}]`` first, which is what the spec means. One erratum is applied on
purpose: the list responses declare ``first_id``/``last_id`` as plain strings, but the real API
answered ``null`` on an empty page (e.g. listing the messages of a new thread); the check
requires strings when ``data`` is non-empty and nulls when it is empty.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[2]
SPEC_URI = "urn:assistants-v2"
LIST_SCHEMAS = ("ListAssistantsResponse", "ListMessagesResponse", "ListRunsResponse", "ListRunStepsResponse")


def spec_path() -> Path:
    override = os.environ.get("ASSISTDB_OPENAPI_SPEC")
    return Path(override) if override else REPO.parent / "shared" / "openapi" / "assistants-v2.openapi.yaml"


def _nullable(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 ``nullable: true`` into JSON Schema, recursively."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _nullable(value) for key, value in node.items()}
    nullable = bool(converted.pop("nullable", False))
    members = converted.get("allOf")
    if isinstance(members, list) and {"nullable": True} in node.get("allOf", []):
        converted["allOf"] = [member for member in members if member != {"anyOf": [{}, {"type": "null"}]}]
        nullable = True
    if nullable:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _list_erratum(schema: dict[str, Any]) -> None:
    for name in ("first_id", "last_id"):
        schema["properties"][name] = {}
    schema["if"] = {"properties": {"data": {"minItems": 1}}}
    schema["then"] = {"properties": {"first_id": {"type": "string"}, "last_id": {"type": "string"}}}
    schema["else"] = {"properties": {"first_id": {"type": "null"}, "last_id": {"type": "null"}}}


@dataclass
class SpecValidator:
    """Validates a response body of an operation (by ``operationId``) against its schema."""

    document: dict[str, Any]
    _validators: dict[str, Draft202012Validator] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> SpecValidator:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        document = _nullable(copy.deepcopy(raw))
        for name in LIST_SCHEMAS:
            _list_erratum(document["components"]["schemas"][name])
        return cls(document)

    def operations(self) -> set[str]:
        return {
            operation["operationId"]
            for item in self.document["paths"].values()
            for operation in item.values()
            if isinstance(operation, dict) and "operationId" in operation
        }

    def response_ref(self, operation_id: str, status: int) -> str:
        if status != 200:
            return "#/components/schemas/ErrorResponse"
        for item in self.document["paths"].values():
            for operation in item.values():
                if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
                    return str(schema["$ref"])
        raise KeyError(f"unknown operation {operation_id}")

    def schema_validator(self, ref: str) -> Draft202012Validator:
        if ref not in self._validators:
            resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
            registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
            self._validators[ref] = Draft202012Validator({"$ref": f"{SPEC_URI}{ref}"}, registry=registry)
        return self._validators[ref]

    def errors(self, operation_id: str, status: int, body: object) -> list[str]:
        validator = self.schema_validator(self.response_ref(operation_id, status))
        return [
            f"{'/'.join(str(part) for part in error.absolute_path) or '<body>'}: {error.message}"
            for error in validator.iter_errors(body)
        ]

    def object_errors(self, schema_name: str, body: object) -> list[str]:
        validator = self.schema_validator(f"#/components/schemas/{schema_name}")
        return [error.message for error in validator.iter_errors(body)]


def load_validator() -> SpecValidator | None:
    path = spec_path()
    return SpecValidator.load(path) if path.is_file() else None


FILES_LISTS = ("ListFilesResponse", "ListVectorStoresResponse", "ListVectorStoreFilesResponse")


def files_spec_path() -> Path:
    return REPO.parent / "shared" / "openapi" / "files-vector-stores.openapi.yaml"


class CombinedValidator(SpecValidator):
    """The files/vector stores spec for its operations, the Assistants spec for the rest."""

    def __init__(self, document: dict[str, Any], assistants: SpecValidator | None) -> None:
        super().__init__(document)
        self.assistants = assistants
        self.own = super().operations()

    def errors(self, operation_id: str, status: int, body: object) -> list[str]:
        if operation_id in self.own or self.assistants is None:
            return super().errors(operation_id, status, body)
        return self.assistants.errors(operation_id, status, body)

    def object_errors(self, schema_name: str, body: object) -> list[str]:
        if schema_name in self.document["components"]["schemas"] or self.assistants is None:
            return super().object_errors(schema_name, body)
        return self.assistants.object_errors(schema_name, body)


def load_combined_validator() -> SpecValidator | None:
    """Both specs (the files one beside the Assistants one); the Assistants one alone if it is missing."""
    assistants = load_validator()
    path = files_spec_path()
    if not path.is_file():
        return assistants
    document = _nullable(copy.deepcopy(yaml.safe_load(path.read_text(encoding="utf-8"))))
    for name in FILES_LISTS:
        _list_erratum(document["components"]["schemas"][name])
    return CombinedValidator(document, assistants)
