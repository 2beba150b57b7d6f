"""``assistdb assistants``: manage assistants, by hand or as code (``apply``), and see their history."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from openai.types.beta import Assistant

from assistdb import apply as assistants_as_code
from assistdb.cli.context import CliContext, pass_cli, require_archived
from assistdb.cli.options import (
    F,
    TextOrFile,
    confirm_or_refuse,
    json_option,
    metadata_option,
    tools_option,
    yes_option,
)
from assistdb.cli.output import emit_fields, emit_json, emit_table, human_time, note, to_data
from assistdb.errors import InvalidInputError, NotFoundError
from assistdb.repositories.validation import check_id
from assistdb.sync import pull_assistants


@click.group()
def assistants() -> None:
    """Create, update, list and version assistants; keep them as code with `apply`."""


def _tool_names(tools: list[Any]) -> str:
    names = []
    for tool in tools:
        data = tool if isinstance(tool, dict) else tool.to_dict()
        names.append(data["function"]["name"] if data["type"] == "function" else data["type"])
    return ", ".join(names) or "-"


def show_assistant(assistant: Assistant) -> None:
    emit_fields(
        [
            ("id", assistant.id),
            ("name", assistant.name),
            ("model", assistant.model),
            ("description", assistant.description),
            ("instructions", assistant.instructions),
            ("tools", _tool_names(assistant.tools)),
            ("metadata", assistant.metadata),
            ("temperature", assistant.temperature),
            ("top_p", assistant.top_p),
            ("created", human_time(assistant.created_at)),
        ]
    )


def _emit(assistant: Assistant, as_json: bool) -> None:
    if as_json:
        emit_json(assistant)
    else:
        show_assistant(assistant)


@assistants.command("list")
@click.option("--archived", is_flag=True, help="List from the archive instead of the API (no key needed).")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many.")
@json_option
@pass_cli
def list_assistants(cli: CliContext, archived: bool, limit: int | None, as_json: bool) -> None:
    """List assistants, newest first (every one listed is archived)."""
    found: list[Assistant] = []
    if archived:
        found = list(reversed(cli.db.assistants.find()))[:limit]
    else:
        for assistant in cli.db.assistants.list(order="desc", limit=min(limit or 100, 100)):
            found.append(assistant)
            if limit is not None and len(found) >= limit:
                break
    if as_json:
        emit_json(found)
        return
    emit_table(
        ["id", "name", "model", "tools", "created"],
        ([a.id, a.name, a.model, _tool_names(a.tools), human_time(a.created_at)] for a in found),
        empty="no assistants",
    )


@assistants.command("show")
@click.argument("assistant_id")
@click.option("--archived", is_flag=True, help="Read the archive instead of the API.")
@json_option
@pass_cli
def show(cli: CliContext, assistant_id: str, archived: bool, as_json: bool) -> None:
    """Show one assistant."""
    if archived:
        assistant = require_archived(
            cli.db.assistants.archived(assistant_id),
            f"assistant {assistant_id}",
            hint="run `assistdb assistants pull` first",
        )
    else:
        assistant = cli.db.assistants.retrieve(assistant_id)
    _emit(assistant, as_json)


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
                type=click.Choice(assistants_as_code.BUILTIN_TOOLS),
                multiple=True,
                help="A built-in tool; repeat for both.",
            ),
            metadata_option(),
            click.option("--temperature", type=click.FloatRange(0, 2), help="Sampling temperature, 0 to 2."),
            click.option("--top-p", type=click.FloatRange(0, 1), help="Nucleus sampling, 0 to 1."),
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
        entries: list[str] = [*builtin_tools, *([tools_spec] if tools_spec else [])]
        params["tools"] = assistants_as_code.resolve_tools(entries, where="--tools")
    return {key: value for key, value in params.items() if value is not None}


@assistants.command("create")
@_assistant_options(creating=True)
@pass_cli
def create(cli: CliContext, /, as_json: bool, **options: Any) -> None:
    """Create an assistant."""
    params = _params(**options)
    _emit(cli.db.assistants.create(**params), as_json)


@assistants.command("update")
@click.argument("assistant_id")
@_assistant_options(creating=False)
@pass_cli
def update(cli: CliContext, /, assistant_id: str, as_json: bool, **options: Any) -> None:
    """Change an assistant; only the options given change (--tool/--tools replace all tools)."""
    params = _params(**options)
    if not params:
        raise InvalidInputError("nothing to update", hint="pass at least one option, e.g. --instructions")
    _emit(cli.db.assistants.update(assistant_id, **params), as_json)


@assistants.command("delete")
@click.argument("assistant_id")
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


def _planned_data(item: assistants_as_code.PlannedChange, assistant: Assistant | None) -> dict[str, Any]:
    return {
        "action": item.action,
        "name": item.spec.name,
        "id": assistant.id if assistant is not None else item.assistant_id,
        "changes": [change.to_dict() for change in item.changes],
        "assistant": assistant.to_dict() if assistant is not None else None,
    }


def _print_planned(item: assistants_as_code.PlannedChange, assistant: Assistant | None) -> None:
    assistant_id = assistant.id if assistant is not None else item.assistant_id
    label = f"{assistant_id} " if assistant_id else ""
    click.echo(f"{item.action} {label}{item.spec.name!r}")
    for change in item.changes:
        if item.action == "create":
            click.echo(f"  + {change.field}: {_short(change.new)}")
        else:
            click.echo(f"  ~ {change.field}: {_short(change.old)} -> {_short(change.new)}")


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@assistants.command("history")
@click.argument("assistant_id")
@json_option
@pass_cli
def history(cli: CliContext, assistant_id: str, as_json: bool) -> None:
    """Every archived version of an assistant, with what changed at each."""
    versions = cli.db.assistants.history(assistant_id)
    if not versions:
        raise NotFoundError(
            f"the archive has no assistant {assistant_id}", hint="run `assistdb assistants pull` first"
        )
    entries = []
    previous: dict[str, Any] | None = None
    for stored in versions:
        body = stored.body
        live = not stored.tombstone
        changed = assistants_as_code.field_changes(previous, body) if live and previous is not None else []
        entries.append((stored, changed))
        if live:
            previous = body
    if as_json:
        emit_json(
            [
                {
                    "version": stored.version,
                    "observed_at": stored.observed_at,
                    "deleted": stored.tombstone,
                    "changes": [change.to_dict() for change in changes],
                    "assistant": stored.body,
                }
                for stored, changes in entries
            ]
        )
        return
    for stored, changes in entries:
        when = stored.observed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        if stored.tombstone:
            click.echo(f"v{stored.version}  {when}  deleted")
            continue
        click.echo(f"v{stored.version}  {when}  {'created' if stored.version == 1 else 'changed'}")
        for change in changes:
            click.echo(f"  ~ {change.field}: {_short(change.old)} -> {_short(change.new)}")


def _add_export() -> None:
    from assistdb.cli.assistants_export import export

    assistants.add_command(export)


_add_export()
