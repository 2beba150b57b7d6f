"""``assistdb assistants``: manage assistants, by hand or as code (``apply``), and see their history."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistdb.cli.archived import Archived, history_command, latest, short_json
from assistdb.cli.bounds import COUNT, FiniteRange
from assistdb.cli.completion import archived_ids
from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.options import (
    F,
    TextOrFile,
    confirm_or_refuse,
    json_option,
    metadata_option,
    tools_option,
    yes_option,
)
from assistdb.cli.output import emit_fields, emit_json, emit_table, human_time, note, say, to_data
from assistdb.errors import InvalidInputError
from assistdb.repositories.validation import BUILTIN_TOOLS, check_id
from assistdb.store import Filters

if TYPE_CHECKING:
    from openai.types.beta import Assistant

    from assistdb.apply import PlannedChange


@click.group()
def assistants() -> None:
    """Create, update, list and version assistants; keep them as code with `apply`."""


def _tool_names(tools: list[Any]) -> str:
    names = []
    for tool in tools:
        data = tool if isinstance(tool, dict) else tool.to_dict()
        names.append(data["function"]["name"] if data["type"] == "function" else data["type"])
    return ", ".join(names) or "-"


def show_assistant(found: Archived) -> None:
    assistant = found.body
    emit_fields(
        [
            ("id", assistant.get("id")),
            ("name", assistant.get("name")),
            ("model", assistant.get("model")),
            ("description", assistant.get("description")),
            ("instructions", assistant.get("instructions")),
            ("tools", _tool_names(assistant.get("tools") or [])),
            ("metadata", assistant.get("metadata")),
            ("temperature", assistant.get("temperature")),
            ("top_p", assistant.get("top_p")),
            ("created", human_time(assistant.get("created_at"))),
            *found.deletion_fields(),
        ]
    )


def _emit(assistant: Assistant | Archived, as_json: bool) -> None:
    found = assistant if isinstance(assistant, Archived) else Archived(assistant.to_dict())
    if as_json:
        emit_json(found.body)
    else:
        show_assistant(found)


@assistants.command("list")
@click.option("--archived", is_flag=True, help="List from the archive instead of the API (no key needed).")
@click.option("--limit", type=COUNT, help="Show at most this many.")
@json_option
@pass_cli
def list_assistants(cli: CliContext, archived: bool, limit: int | None, as_json: bool) -> None:
    """List assistants, newest first (every one listed is archived)."""
    found: list[Mapping[str, Any]] = []
    if archived:
        found = [
            stored.body for stored in cli.store.reader.find("assistant", Filters(), order="desc", limit=limit)
        ]
    else:
        for assistant in cli.db.assistants.list(order="desc", limit=min(limit or 100, 100)):
            found.append(assistant.to_dict())
            if limit is not None and len(found) >= limit:
                break
    if as_json:
        emit_json(found)
        return
    emit_table(
        ["id", "name", "model", "tools", "created"],
        (
            [
                a.get("id"),
                a.get("name"),
                a.get("model"),
                _tool_names(a.get("tools") or []),
                human_time(a.get("created_at")),
            ]
            for a in found
        ),
        empty="no assistants archived (run `assistdb assistants pull`)" if archived else "no assistants",
    )


@assistants.command("show")
@click.argument("assistant_id", shell_complete=archived_ids("assistant"))
@click.option("--archived", is_flag=True, help="Read the archive instead of the API.")
@json_option
@pass_cli
def show(cli: CliContext, assistant_id: str, archived: bool, as_json: bool) -> None:
    """Show one assistant."""
    if archived:
        _emit(
            latest(cli.store, "assistant", assistant_id, hint="run `assistdb assistants pull` first"), as_json
        )
    else:
        _emit(cli.db.assistants.retrieve(assistant_id), as_json)


def _assistant_options(*, creating: bool) -> Callable[[F], F]:
    def decorate(command: F) -> F:
        options = [
            click.option("--name", required=creating, help="Its name (unique names make `apply` work)."),
            click.option("--model", required=creating, help="The model, e.g. gpt-4o."),
            click.option(
                "--instructions", type=TextOrFile(), help="System instructions, or @FILE to read them."
            ),
            click.option("--description", help="A description."),
            tools_option,
            click.option(
                "--tool",
                "builtin_tools",
                type=click.Choice(BUILTIN_TOOLS),
                multiple=True,
                help="A built-in tool; repeat for both.",
            ),
            metadata_option(),
            click.option(
                "--file-search",
                "file_search",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="A local file to search (repeatable): uploaded unless already, in a vector store.",
            ),
            click.option("--temperature", type=FiniteRange(0, 2), help="Sampling temperature, 0 to 2."),
            click.option("--top-p", type=FiniteRange(0, 1), help="Nucleus sampling, 0 to 1."),
            json_option,
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _params(
    *,
    name: str | None,
    model: str | None,
    instructions: str | None,
    description: str | None,
    tools_spec: str | None,
    builtin_tools: tuple[str, ...],
    metadata: dict[str, str] | None,
    temperature: float | None,
    top_p: float | None,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "name": name,
        "model": model,
        "instructions": instructions,
        "description": description,
        "metadata": metadata,
        "temperature": temperature,
        "top_p": top_p,
    }
    if tools_spec or builtin_tools:
        from assistdb.apply import resolve_tools

        entries: list[str] = [*builtin_tools, *([tools_spec] if tools_spec else [])]
        params["tools"] = resolve_tools(entries, where="--tools")
    return {key: value for key, value in params.items() if value is not None}


def _with_files(
    cli: CliContext, params: dict[str, Any], paths: tuple[Path, ...], *, name: str, current: Any = None
) -> dict[str, Any]:
    """``params`` with file search over local files: the files uploaded (unless their content is
    on the API already) into a vector store (kept if the assistant's holds exactly them); the
    assistant's other tool resources (code interpreter files) are kept."""
    if not paths:
        return params
    from assistdb.file_resources import current_store_ids, file_search_resources, with_file_search

    body = current.to_dict() if current is not None else {}
    resources = {key: value for key, value in (body.get("tool_resources") or {}).items() if value}
    resources.update(file_search_resources(cli.db, paths, name=name, store_ids=current_store_ids(current)))
    tools = params.get("tools", body.get("tools"))
    return {**params, "tools": with_file_search(tools), "tool_resources": resources}


@assistants.command("create")
@_assistant_options(creating=True)
@pass_cli
def create(cli: CliContext, /, as_json: bool, file_search: tuple[Path, ...], **options: Any) -> None:
    """Create an assistant; --file-search uploads local files and attaches them in one step."""
    params = _with_files(cli, _params(**options), file_search, name=options["name"])
    _emit(cli.db.assistants.create(**params), as_json)


@assistants.command("update")
@click.argument("assistant_id", shell_complete=archived_ids("assistant"))
@_assistant_options(creating=False)
@pass_cli
def update(
    cli: CliContext, /, assistant_id: str, as_json: bool, file_search: tuple[Path, ...], **options: Any
) -> None:
    """Change an assistant; only the options given change (--tool/--tools replace all tools;
    --file-search replaces the searched files, reusing what is uploaded already, and deletes the
    store it replaces if assistdb made it for this assistant and no other assistant or known
    thread uses it)."""
    params = _params(**options)
    current = None
    if file_search:
        current = cli.db.assistants.retrieve(check_id("assistant", assistant_id))
        params = _with_files(cli, params, file_search, name=_files_for(current), current=current)
    if not params:
        raise InvalidInputError("nothing to update", hint="pass at least one option, e.g. --instructions")
    updated = cli.db.assistants.update(assistant_id, **params)
    if current is not None:
        from assistdb.file_resources import current_store_ids, replaced_stores

        old_ids, new_ids = current_store_ids(current), current_store_ids(updated)
        for store_id in replaced_stores(cli.db, updated.id, _files_for(current), old_ids, new_ids):
            cli.db.vector_stores.delete(store_id)
    _emit(updated, as_json)


def _files_for(assistant: Any) -> str:
    """The name a store made for the assistant's files is marked with (``assistdb_files_for``)."""
    return str(assistant.name or assistant.id)


@assistants.command("delete")
@click.argument("assistant_id", shell_complete=archived_ids("assistant"))
@yes_option
@pass_cli
def delete(cli: CliContext, assistant_id: str, yes: bool) -> None:
    """Delete an assistant remotely; its archived history stays."""
    check_id("assistant", assistant_id)
    confirm_or_refuse(f"Delete assistant {assistant_id}?", yes)
    cli.db.assistants.delete(assistant_id)
    note(f"deleted {assistant_id}")


@assistants.command("pull")
@json_option
@pass_cli
def pull(cli: CliContext, as_json: bool) -> None:
    """Archive every assistant's current state; note those deleted remotely."""
    from assistdb.sync import pull_assistants

    result = pull_assistants(cli.db)
    if as_json:
        emit_json(result)
    else:
        emit_fields(list(to_data(result).items()))


@assistants.command("apply")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the changes field by field; change nothing.")
@json_option
@pass_cli
def apply(cli: CliContext, file: str, dry_run: bool, as_json: bool) -> None:
    """Create or update assistants so they match FILE (YAML or JSON): assistants as code.

    FILE lists assistants with name, model, instructions or instructions_file, description,
    tools (code_interpreter, file_search, MODULE[:ATTR], or inline function definitions),
    metadata, temperature, top_p and response_format. An `id` pins a spec to an assistant;
    otherwise assistants are matched by name.
    """
    from assistdb import apply as assistants_as_code

    specs = assistants_as_code.load_specs(file)
    planned = assistants_as_code.plan(cli.db, specs)
    applied = (
        {}
        if dry_run
        else {a.item.spec.name: a.assistant for a in assistants_as_code.apply_plan(cli.db, planned)}
    )
    if as_json:
        emit_json([_planned_data(item, applied.get(item.spec.name)) for item in planned.items])
        return
    for item in planned.items:
        _print_planned(item, applied.get(item.spec.name))
    counts = {
        action: sum(i.action == action for i in planned.items) for action in ("create", "update", "unchanged")
    }
    created, updated = ("would create", "would update") if dry_run else ("created", "updated")
    note(
        f"{created} {counts['create']}, {updated} {counts['update']}, {counts['unchanged']} unchanged"
        + (" (dry run: nothing changed)" if dry_run else "")
    )


def _planned_data(item: PlannedChange, assistant: Assistant | None) -> dict[str, Any]:
    return {
        "action": item.action,
        "name": item.spec.name,
        "id": assistant.id if assistant is not None else item.assistant_id,
        "changes": [change.to_dict() for change in item.changes],
        "assistant": assistant.to_dict() if assistant is not None else None,
    }


def _print_planned(item: PlannedChange, assistant: Assistant | None) -> None:
    assistant_id = assistant.id if assistant is not None else item.assistant_id
    label = f"{assistant_id} " if assistant_id else ""
    say(f"{item.action} {label}{item.spec.name!r}")
    for change in item.changes:
        if item.action == "create":
            say(f"  + {change.field}: {short_json(change.new)}")
        else:
            say(f"  ~ {change.field}: {short_json(change.old)} -> {short_json(change.new)}")


assistants.add_command(history_command("assistant", hint="run `assistdb assistants pull` first"))


def _add_export() -> None:
    from assistdb.cli.assistants_export import export

    assistants.add_command(export)


_add_export()
