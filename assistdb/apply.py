"""Assistants as code: a YAML or JSON file says which assistants should exist and how; ``plan``
compares it with the API and ``apply_plan`` makes only the calls that close the gap.

Everything in the file is checked before the first request, so a malformed file, an unknown
field or a tool schema that is not valid JSON Schema changes nothing. Only the fields a spec
names are managed; anything else about an assistant is left as it is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from openai.types.beta import Assistant

from assistdb.errors import InvalidInputError
from assistdb.file_resources import (
    code_interpreter_resources,
    current_code_file_ids,
    current_store_ids,
    file_search_resources,
    file_sha256,
    files_hold,
    matching_store,
    replaced_stores,
    with_tool,
)
from assistdb.repositories.validation import BUILTIN_TOOLS, check_id, check_metadata
from assistdb.runner import load_tools
from assistdb.runner.tools.schema import check_name, check_parameters
from assistdb.text_files import read_text

if TYPE_CHECKING:
    from assistdb.facades import AssistDB

#: The fields an assistant spec may have; all but ``id``, ``instructions_file``, ``files`` (local
#: paths for file search, uploaded into a vector store) and ``code_interpreter_files`` (local paths
#: uploaded for the code interpreter) are API fields.
SPEC_FIELDS = (
    "id",
    "name",
    "model",
    "instructions",
    "instructions_file",
    "description",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "response_format",
    "files",
    "code_interpreter_files",
)

Action = Literal["create", "update", "unchanged"]


@dataclass(frozen=True)
class AssistantSpec:
    """One assistant as the file wants it: ``desired`` holds the API fields to manage."""

    name: str
    desired: dict[str, Any]
    id: str | None = None
    where: str = ""
    files: tuple[Path, ...] = ()  # for file search; managed as ``tool_resources``
    code_files: tuple[Path, ...] = ()  # for the code interpreter; managed as ``tool_resources``

    def resource_tools(self, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        """``tools`` with the built-in tools that this spec's files need added (the others kept)."""
        if self.files:
            tools = with_tool(tools, "file_search")
        if self.code_files:
            tools = with_tool(tools, "code_interpreter")
        return list(tools or [])

    def wanted(self, current: Assistant | None) -> dict[str, Any]:
        """The API fields to manage against ``current``: with files but no ``tools:``, the
        assistant's own tools plus the ones its files need, so files never replace its tools."""
        wanted = dict(self.desired)
        if "tools" not in wanted and (self.files or self.code_files):
            own = [tool.to_dict() for tool in current.tools] if current is not None else []
            wanted["tools"] = self.resource_tools(own)
        return wanted


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: its value now (None when creating) and the value wanted."""

    field: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "from": self.old, "to": self.new}


@dataclass(frozen=True)
class PlannedChange:
    action: Action
    spec: AssistantSpec
    assistant_id: str | None
    changes: tuple[FieldChange, ...]

    @property
    def params(self) -> dict[str, Any]:
        """What to send: every managed field to create (all are changes), only the changed ones
        to update."""
        return {change.field: change.new for change in self.changes}


@dataclass
class Plan:
    items: list[PlannedChange] = field(default_factory=list)

    @property
    def pending(self) -> list[PlannedChange]:
        return [item for item in self.items if item.action != "unchanged"]


@dataclass(frozen=True)
class Applied:
    item: PlannedChange
    assistant: Assistant


# Reading and checking the file -----------------------------------------------------------------


#: The most an assistants file may hold, in bytes and in values once YAML aliases are expanded
#: (a few aliases can stand for billions of values: the "billion laughs").
MAX_SPEC_FILE_BYTES = 8 * 1024 * 1024
MAX_SPEC_VALUES = 100_000


def load_specs(path: str | Path) -> list[AssistantSpec]:
    """Read and check an assistants file (YAML, or JSON, which YAML includes)."""
    path = Path(path)
    text = read_text(path, hint="pass the path of a YAML or JSON file", limit=MAX_SPEC_FILE_BYTES)
    return parse_specs(text, source=str(path), base_dir=path.parent, json_only=path.suffix.lower() == ".json")


def _parse_yaml(text: str, source: str) -> Any:
    """Compose the YAML node graph, check how large it is once its aliases are expanded, and only
    then build the Python values (which JSON serialisation and validation would expand)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node, source)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise InvalidInputError(
            f"{source} is not valid YAML or JSON{where}: {problem}", hint="fix the syntax and retry"
        ) from None
    except RecursionError:
        raise _too_deep(source) from None
    finally:
        loader.dispose()


def _check_expanded_size(root: yaml.Node, source: str) -> None:
    """Count the values ``root`` stands for with every alias expanded, without expanding any;
    refuse an alias that contains itself. Iterative, so deep nesting cannot overflow the stack."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # started, not finished: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = _children(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[key] > MAX_SPEC_VALUES:
                raise InvalidInputError(
                    f"{source} holds more than {MAX_SPEC_VALUES:,} values once its YAML aliases are expanded",
                    hint="write fewer or smaller assistants, or fewer aliases of aliases",
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise InvalidInputError(
                f"{source} has a YAML alias that contains itself", hint="remove the cycle"
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _too_deep(source: str) -> InvalidInputError:
    return InvalidInputError(
        f"{source} is nested too deeply", hint="an assistant spec needs only a few levels"
    )


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{source} is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint="fix the syntax and retry",
        ) from None
    except RecursionError:
        raise _too_deep(source) from None


def parse_specs(
    text: str, *, source: str = "<input>", base_dir: Path = Path(), json_only: bool = False
) -> list[AssistantSpec]:
    """Specs from file content: a list of assistants, ``{assistants: [...]}``, or one assistant.

    ``json_only`` (a ``.json`` file) parses strictly as JSON, since YAML would accept some
    broken JSON (``{"model": }``) as a null value."""
    document = _parse_json(text, source) if json_only else _parse_yaml(text, source)
    if isinstance(document, Mapping) and set(document) == {"assistants"}:
        document = document["assistants"]
    entries = [document] if isinstance(document, Mapping) else document
    if not isinstance(entries, list) or not entries:
        raise InvalidInputError(
            f"{source} describes no assistants",
            hint="write a list of assistants, or a mapping with an `assistants:` list",
        )
    specs = [
        _spec(entry, f"{source}: assistant {number}", base_dir) for number, entry in enumerate(entries, 1)
    ]
    _refuse_duplicates(specs, lambda spec: spec.name, "name", source)
    _refuse_duplicates([spec for spec in specs if spec.id], lambda spec: spec.id or "", "id", source)
    return specs


def _refuse_duplicates(
    specs: Sequence[AssistantSpec], key: Callable[[AssistantSpec], str], label: str, source: str
) -> None:
    seen: set[str] = set()
    for spec in specs:
        value = key(spec)
        if value in seen:
            raise InvalidInputError(
                f"{source} has two assistants with the {label} {value!r}",
                hint=f"each assistant needs its own {label}",
            )
        seen.add(value)


def _spec(entry: Any, where: str, base_dir: Path) -> AssistantSpec:
    if not isinstance(entry, Mapping):
        raise InvalidInputError(
            f"{where} is not a mapping", hint="write each assistant as `field: value` lines"
        )
    unknown = sorted(str(key) for key in entry if key not in SPEC_FIELDS)
    if unknown:
        raise InvalidInputError(
            f"{where} has unknown field(s): {', '.join(unknown)}",
            hint=f"the fields are: {', '.join(SPEC_FIELDS)}",
        )
    name = _required_text(entry, "name", where)
    where = f"{where} ({name!r})"
    desired: dict[str, Any] = {"name": name, "model": _required_text(entry, "model", where)}
    if "instructions" in entry and "instructions_file" in entry:
        raise InvalidInputError(
            f"{where} has both instructions and instructions_file", hint="keep one of them"
        )
    if "instructions" in entry:
        desired["instructions"] = _optional_text(entry, "instructions", where)
    if "instructions_file" in entry:
        desired["instructions"] = _read_instructions(entry["instructions_file"], where, base_dir)
    if "description" in entry:
        desired["description"] = _optional_text(entry, "description", where)
    if "tools" in entry:
        desired["tools"] = resolve_tools(entry["tools"] or [], where=where)
    if "metadata" in entry:
        metadata = entry["metadata"] or {}
        if isinstance(metadata, Mapping):
            metadata = {
                key: str(value) if isinstance(value, int | float) else value
                for key, value in metadata.items()
            }
        with _located(where):
            desired["metadata"] = check_metadata(metadata)
    for key, upper in (("temperature", 2.0), ("top_p", 1.0)):
        if key in entry:
            desired[key] = _number(entry[key], key, upper, where)
    if "response_format" in entry:
        desired["response_format"] = _response_format(entry["response_format"], where)
    files = _files(entry["files"], "files", where, base_dir) if "files" in entry else ()
    code_files: tuple[Path, ...] = ()
    if "code_interpreter_files" in entry:
        code_files = _files(entry["code_interpreter_files"], "code_interpreter_files", where, base_dir)
    assistant_id = None
    if entry.get("id") is not None:
        with _located(where):
            assistant_id = check_id("assistant", entry["id"])
    spec = AssistantSpec(
        name=name, desired=desired, id=assistant_id, where=where, files=files, code_files=code_files
    )
    if "tools" in desired:
        desired["tools"] = spec.resource_tools(desired["tools"])
    return spec


def _files(value: Any, key: str, where: str, base_dir: Path) -> tuple[Path, ...]:
    """The local files of ``key``, relative to the assistants file; each must be readable and not
    empty (checked before any request)."""
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise InvalidInputError(
            f"{where}: {key} must be a list of paths", hint="write one path per `- ` line"
        )
    paths = tuple(dict.fromkeys(base_dir / item for item in value))
    for path in paths:
        if not path.is_file():
            raise InvalidInputError(
                f"{where}: {path} is not a file", hint="paths are relative to the assistants file"
            )
        with _located(where):
            file_sha256(path)
    return paths


@contextmanager
def _located(where: str) -> Iterator[None]:
    """Say where in the file a value that a library check refused is."""
    try:
        yield
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc.message}", hint=exc.hint) from None


def _required_text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(
            f"{where}: {key} must be a non-empty string", hint=f"write `{key}: ...` with a text value"
        )
    return value


def _optional_text(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(
            f"{where}: {key} must be a string", hint=f"write `{key}: ...` with a text value"
        )
    return value


def _read_instructions(value: Any, where: str, base_dir: Path) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(
            f"{where}: instructions_file must be a path", hint="write a path relative to the file"
        )
    with _located(f"{where}: instructions_file"):
        return read_text(base_dir / value, hint="paths are relative to the assistants file")


def _number(value: Any, key: str, upper: float, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= upper:
        raise InvalidInputError(f"{where}: {key} must be a number from 0 to {upper:g}", hint=f"got {value!r}")
    return float(value)


def _response_format(value: Any, where: str) -> Any:
    if value == "auto":
        return value
    if isinstance(value, Mapping) and value.get("type") in ("text", "json_object", "json_schema"):
        if value["type"] == "json_schema":
            schema = value.get("json_schema")
            if not isinstance(schema, Mapping) or not isinstance(schema.get("name"), str):
                raise InvalidInputError(
                    f"{where}: response_format of type json_schema needs a json_schema with a name",
                    hint="see the API reference for response_format",
                )
        return dict(value)
    raise InvalidInputError(
        f"{where}: response_format must be 'auto' or {{type: text|json_object|json_schema}}",
        hint=f"got {value!r}",
    )


def resolve_tools(entries: Any, *, where: str = "tools") -> list[dict[str, Any]]:
    """API tool definitions from a list of ``code_interpreter``, ``file_search``, ``MODULE[:ATTR]``
    (the ``@tool`` functions found there) and inline API definitions, each checked."""
    if not isinstance(entries, list):
        raise InvalidInputError(f"{where}: tools must be a list", hint="write one tool per `- ` line")
    tools: list[dict[str, Any]] = []
    for entry in entries:
        if isinstance(entry, str) and entry in BUILTIN_TOOLS:
            tools.append({"type": entry})
        elif isinstance(entry, str):
            with _located(where):
                tools.extend(dict(definition) for definition in load_tools(entry).definitions())
        elif isinstance(entry, Mapping):
            tools.append(_inline_tool(entry, where))
        else:
            raise InvalidInputError(
                f"{where}: {entry!r} is not a tool",
                hint="use code_interpreter, file_search, MODULE[:ATTR], or a {type: function, ...} mapping",
            )
    names = [tool["function"]["name"] for tool in tools if tool["type"] == "function"]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise InvalidInputError(
            f"{where}: function(s) defined twice: {', '.join(duplicated)}",
            hint="give each function its own name",
        )
    return tools


def _inline_tool(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    kind = entry.get("type")
    if kind in BUILTIN_TOOLS:
        return dict(entry)
    function = entry.get("function")
    if kind != "function" or not isinstance(function, Mapping):
        raise InvalidInputError(
            f"{where}: tool {dict(entry)!r} is neither a function nor a built-in tool",
            hint="write {type: function, function: {name: ..., parameters: {...}}}",
        )
    with _located(where):
        name = check_name(function.get("name"))
        if "parameters" in function:
            check_parameters(name, function["parameters"])
    unknown = sorted(set(function) - {"name", "description", "parameters", "strict"})
    if unknown:
        raise InvalidInputError(
            f"{where}: function {name!r} has unknown field(s): {', '.join(unknown)}",
            hint="a function has name, description, parameters and strict",
        )
    return {"type": "function", "function": dict(function)}


# Comparing and applying ------------------------------------------------------------------------


def plan(db: AssistDB, specs: Sequence[AssistantSpec]) -> Plan:
    """What to create and update so that the assistants match ``specs``; calls the API only to read."""
    by_id = {spec.id: db.assistants.retrieve(spec.id) for spec in specs if spec.id}
    others: list[Assistant] = []
    if any(spec.id is None for spec in specs):
        claimed = {assistant.id for assistant in by_id.values()}
        others = [assistant for assistant in db.assistants.list(order="asc") if assistant.id not in claimed]
    result = Plan()
    for spec in specs:
        current = by_id[spec.id] if spec.id else _by_name(spec, others)
        wanted = spec.wanted(current)
        if current is None:
            created = [FieldChange(key, None, value) for key, value in wanted.items()]
            if spec.files or spec.code_files:
                created.append(FieldChange(FILES_FIELD, None, _wanted_files(spec)))
            result.items.append(PlannedChange("create", spec, None, tuple(created)))
            continue
        changes = field_changes(current.to_dict(), wanted, fields=wanted, same=_already)
        if _resources_differ(db, spec, current):
            old = current.tool_resources.to_dict() if current.tool_resources else None
            changes.append(FieldChange(FILES_FIELD, old, _wanted_files(spec)))
        action: Action = "update" if changes else "unchanged"
        result.items.append(PlannedChange(action, spec, current.id, tuple(changes)))
    return result


def apply_plan(db: AssistDB, planned: Plan) -> list[Applied]:
    """Make the planned calls, in the file's order; re-running after a failure finishes the job."""
    applied = []
    for item in planned.pending:
        params = {key: value for key, value in item.params.items() if key != FILES_FIELD}
        resources = next((change for change in item.changes if change.field == FILES_FIELD), None)
        if resources is not None:
            params[FILES_FIELD] = _tool_resources(db, item.spec, resources.old)
        if item.action == "create":
            assistant = db.assistants.create(**params)
        else:
            assert item.assistant_id is not None
            assistant = db.assistants.update(item.assistant_id, **params)
            if resources is not None and item.spec.files:
                old_ids = current_store_ids({FILES_FIELD: resources.old})
                for store_id in replaced_stores(
                    db, assistant.id, item.spec.name, old_ids, current_store_ids(assistant)
                ):
                    db.vector_stores.delete(store_id)
        applied.append(Applied(item, assistant))
    return applied


#: The API field that a spec's ``files`` and ``code_interpreter_files`` manage.
FILES_FIELD = "tool_resources"


def _resources_differ(db: AssistDB, spec: AssistantSpec, current: Assistant) -> bool:
    """Whether the assistant's tool resources lack (or differ from) the contents of the spec's files."""
    if spec.files and matching_store(db, spec.files, current_store_ids(current)) is None:
        return True
    return bool(spec.code_files) and not files_hold(db, current_code_file_ids(current), spec.code_files)


def _tool_resources(db: AssistDB, spec: AssistantSpec, old: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``tool_resources`` to send: the spec's files (uploaded as needed, an existing store or
    file list kept when it holds exactly them), and whatever else the assistant had, unchanged."""
    resources = {key: value for key, value in (old or {}).items() if value}
    if spec.files:
        store_ids = current_store_ids({FILES_FIELD: old})
        resources.update(file_search_resources(db, spec.files, name=spec.name, store_ids=store_ids))
    if spec.code_files:
        resources.update(code_interpreter_resources(db, spec.code_files))
    return resources


def _wanted_files(spec: AssistantSpec) -> dict[str, Any]:
    """How a plan shows the files a spec wants: by name, with their content hashes."""
    wanted: dict[str, Any] = {}
    if spec.files:
        wanted["file_search"] = {"files": {path.name: file_sha256(path) for path in spec.files}}
    if spec.code_files:
        wanted["code_interpreter"] = {"files": {path.name: file_sha256(path) for path in spec.code_files}}
    return wanted


def _by_name(spec: AssistantSpec, assistants: Sequence[Assistant]) -> Assistant | None:
    named = [assistant for assistant in assistants if assistant.name == spec.name]
    if len(named) > 1:
        raise InvalidInputError(
            f"{spec.where}: {len(named)} assistants are named {spec.name!r} "
            f"({', '.join(assistant.id for assistant in named)})",
            hint="add `id:` to the spec to say which one it is",
        )
    return named[0] if named else None


def field_changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    fields: Iterable[str] | None = None,
    same: Callable[[str, Any, Any], bool] | None = None,
) -> list[FieldChange]:
    """The fields (default: all of either side) whose values differ between two bodies;
    ``same(field, new_value, old_value)`` decides equality (default: ``==``)."""
    names = list(fields) if fields is not None else list(dict.fromkeys([*old, *new]))
    equal = same or (lambda _field, new_value, old_value: bool(new_value == old_value))
    return [
        FieldChange(name, old.get(name), new.get(name))
        for name in names
        if not equal(name, new.get(name), old.get(name))
    ]


def _already(field_name: str, wanted: Any, actual: Any) -> bool:
    """Whether the API's value already says what the spec wants. Metadata must match exactly
    (the API replaces it whole); elsewhere keys the API adds by itself (defaults such as
    ``strict: false``) are no difference."""
    return bool(wanted == actual) if field_name == "metadata" else _matches(wanted, actual)


def _matches(wanted: Any, actual: Any) -> bool:
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            _matches(value, actual.get(key)) for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(wanted) == len(actual)
            and all(_matches(w, a) for w, a in zip(wanted, actual, strict=True))
        )
    if isinstance(wanted, float) and isinstance(actual, int | float) and not isinstance(actual, bool):
        return math.isclose(wanted, actual, abs_tol=1e-9)
    return bool(wanted == actual)
