"""An assistant as a Responses API request template: what to pass to ``responses.create``.

The Responses API has no assistant object (and Prompt objects, its suggested home, are being
shut down too), so an assistant's settings travel with each request instead: model,
instructions, tools in the Responses shape, sampling, ``text.format`` from ``response_format``,
reasoning effort and metadata. What has no place in a request is named in ``notes``.
"""

from __future__ import annotations

import pprint
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass
class ResponsesTemplate:
    assistant_id: str
    name: str | None
    request: Obj
    notes: list[str] = field(default_factory=list)

    def as_data(self) -> Obj:
        return {
            "assistant_id": self.assistant_id,
            "name": self.name,
            "request": self.request,
            "notes": self.notes,
        }

    def python(self) -> str:
        """A short script making a response with this template in a conversation."""
        literal = pprint.pformat(self.request, width=88, sort_dicts=False)
        title = f"{self.name} ({self.assistant_id})" if self.name else self.assistant_id
        return (
            f"# {_one_line(title)}: the assistant as a Responses request\n"
            "from openai import OpenAI\n\n"
            "client = OpenAI()\n"
            f"request = {literal}\n"
            "conversation = client.conversations.create()\n"
            "response = client.responses.create(\n"
            '    **request, conversation=conversation.id, input="Hello!"\n'
            ")\n"
            "print(response.output_text)\n"
        )


def responses_template(assistant: Obj) -> ResponsesTemplate:
    """The template of one assistant body (as the Assistants API returned it)."""
    template = ResponsesTemplate(str(assistant["id"]), assistant.get("name"), {"model": assistant["model"]})
    request = template.request
    if assistant.get("instructions"):
        request["instructions"] = assistant["instructions"]
    resources = assistant.get("tool_resources") or {}
    tools = [_tool(tool, resources, template.notes) for tool in assistant.get("tools") or []]
    if tools:
        request["tools"] = [tool for tool in tools if tool is not None]
    for name in ("temperature", "top_p"):
        if assistant.get(name) is not None:
            request[name] = assistant[name]
    text_format = _text_format(assistant.get("response_format"))
    if text_format is not None:
        request["text"] = {"format": text_format}
    if assistant.get("reasoning_effort"):
        request["reasoning"] = {"effort": assistant["reasoning_effort"]}
    if assistant.get("metadata"):
        request["metadata"] = dict(assistant["metadata"])
    if assistant.get("description"):
        template.notes.append("the description has no place in a request")
    return template


def _tool(tool: Obj, resources: Obj, notes: list[str]) -> Obj | None:
    kind = tool.get("type")
    if kind == "function":
        function = tool["function"]
        converted: Obj = {"type": "function", "name": function["name"]}
        if function.get("description"):
            converted["description"] = function["description"]
        converted["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
        converted["strict"] = bool(function.get("strict"))
        return converted
    if kind == "file_search":
        store_ids = list((resources.get("file_search") or {}).get("vector_store_ids") or [])
        if not store_ids:
            notes.append("file_search had no vector store; add vector_store_ids before use")
        converted = {"type": "file_search", "vector_store_ids": store_ids}
        options = tool.get("file_search") or {}
        if options.get("max_num_results") is not None:
            converted["max_num_results"] = options["max_num_results"]
        ranking = options.get("ranking_options")
        if ranking:
            converted["ranking_options"] = {
                key: ranking[key] for key in ("ranker", "score_threshold") if ranking.get(key) is not None
            }
        return converted
    if kind == "code_interpreter":
        file_ids = list((resources.get("code_interpreter") or {}).get("file_ids") or [])
        return {"type": "code_interpreter", "container": {"type": "auto", "file_ids": file_ids}}
    notes.append(f"a {kind} tool has no Responses form; left out")
    return None


def _text_format(response_format: Any) -> Obj | None:
    if response_format in (None, "auto") or not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = response_format.get("json_schema") or {}
        converted: Obj = {"type": "json_schema", "name": schema.get("name", "response")}
        for key in ("description", "schema", "strict"):
            if schema.get(key) is not None:
                converted[key] = schema[key]
        return converted
    return {"type": str(kind)}


def _one_line(text: str) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
