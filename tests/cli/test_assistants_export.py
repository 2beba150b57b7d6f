"""``assistdb assistants export --format responses``: each assistant as a Responses request."""

from __future__ import annotations

import ast
import copy
import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.cli.conftest import Cli
from tests.server.openapi_check import _nullable
from tests.server.test_conversations import SPEC

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SCHEMA: Any = {
    "name": "answer",
    "schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
    "strict": True,
}


def create_response_validator() -> Draft202012Validator:
    if not SPEC.is_file():
        pytest.skip(f"the Responses OpenAPI description is not at {SPEC}")
    document = _nullable(copy.deepcopy(yaml.safe_load(SPEC.read_text(encoding="utf-8"))))
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:responses", resource)
    return Draft202012Validator(
        {"$ref": "urn:responses#/components/schemas/CreateResponse"}, registry=registry
    )


def test_assistants_become_valid_responses_requests(sqlite_cli: Cli) -> None:
    sdk = sqlite_cli.sdk
    # tool resources name real objects (the server checks them)
    store = sdk.vector_stores.create(name="notes")
    upload = sdk.files.create(file=("data.csv", b"a,b\n1,2\n", "text/csv"), purpose="assistants")
    full = sdk.beta.assistants.create(
        model="gpt-4o",
        name="Researcher",
        description="finds things",
        instructions="Answer in JSON.",
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Look a word up.",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                    "strict": True,
                },
            },
            {"type": "file_search", "file_search": {"max_num_results": 5}},
            {"type": "code_interpreter"},
        ],
        tool_resources={
            "file_search": {"vector_store_ids": [store.id]},
            "code_interpreter": {"file_ids": [upload.id]},
        },
        temperature=0.2,
        top_p=0.9,
        response_format={"type": "json_schema", "json_schema": SCHEMA},
        metadata={"team": "search"},
    )
    plain = sdk.beta.assistants.create(model="gpt-4o-mini", response_format={"type": "json_object"})
    sqlite_cli.ok("assistants", "pull")

    exported = json.loads(sqlite_cli.ok("assistants", "export", "--format", "responses").stdout)
    by_id = {entry["assistant_id"]: entry for entry in exported}
    assert by_id[full.id]["request"] == {
        "model": "gpt-4o",
        "instructions": "Answer in JSON.",
        "tools": [
            {
                "type": "function",
                "name": "lookup",
                "description": "Look a word up.",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                "strict": True,
            },
            {"type": "file_search", "vector_store_ids": [store.id], "max_num_results": 5},
            {"type": "code_interpreter", "container": {"type": "auto", "file_ids": [upload.id]}},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "text": {
            "format": {"type": "json_schema", "name": "answer", "schema": SCHEMA["schema"], "strict": True}
        },
        "metadata": {"team": "search"},
    }
    assert by_id[full.id]["notes"] == ["the description has no place in a request"]
    assert by_id[plain.id]["request"] == {  # the API's defaults are kept as it returned them
        "model": "gpt-4o-mini",
        "temperature": 1.0,
        "top_p": 1.0,
        "text": {"format": {"type": "json_object"}},
    }

    validator = create_response_validator()
    for entry in exported:
        problems = [error.message for error in validator.iter_errors(entry["request"])]
        assert problems == [], problems

    as_yaml = yaml.safe_load(
        sqlite_cli.ok("assistants", "export", full.id, "--format", "responses", "--as", "yaml").stdout
    )
    assert as_yaml == [by_id[full.id]]

    script = sqlite_cli.ok("assistants", "export", full.id, "--format", "responses", "--as", "python").stdout
    tree = ast.parse(script)
    assigned = {
        node.targets[0].id: node.value  # type: ignore[attr-defined]
        for node in tree.body
        if isinstance(node, ast.Assign)
    }
    assert ast.literal_eval(assigned["request"]) == by_id[full.id]["request"]
    assert "client.responses.create(" in script and "conversation=conversation.id" in script

    missing = sqlite_cli("assistants", "export", "asst_nope", "--format", "responses")
    assert missing.exit_code == 3 and "the archive has no assistant asst_nope" in missing.stderr
