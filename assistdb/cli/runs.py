"""``assistdb runs``: start runs, drive them to their end with Python tools, resume, cancel, inspect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from assistdb.cli.archived import Archived, history_command, latest
from assistdb.cli.bounds import COUNT
from assistdb.cli.completion import archived_ids
from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.options import (
    TextOrFile,
    json_option,
    metadata_option,
    remote_option,
    thread_option,
    tools_option,
    wait_timeout_option,
)
from assistdb.cli.output import emit_fields, emit_json, emit_table, human_time, message_text, say
from assistdb.errors import RunEndedError
from assistdb.repositories.validation import check_id
from assistdb.store import Filters

if TYPE_CHECKING:
    from openai.types.beta.threads import Run

    from assistdb.runner import ToolRegistry

TERMINAL_OK = "completed"


@click.group()
def runs() -> None:
    """Start, wait for, cancel and inspect runs."""


def load_tools(spec: str | None) -> ToolRegistry | None:
    """The tools named by ``--tools MODULE[:ATTR]``, or None."""
    if spec is None:
        return None
    from assistdb.runner import load_tools as load

    return load(spec)


def raise_unless_completed(run: Run) -> None:
    """A run that ended any other way than ``completed`` is exit 5, saying how and why."""
    from assistdb.repositories.runs import RunsOps

    try:
        RunsOps.raise_for_status(run)
    except RunEndedError as error:
        if run.status == "requires_action":
            error.hint = f"answer them with `assistdb runs wait {run.id} --tools MODULE[:ATTR]`"
        else:
            error.hint = (
                f"see `assistdb runs steps {run.id}` and `assistdb threads transcript {run.thread_id}`"
            )
        raise


def _emit_run(cli: CliContext, found: Archived | Run, as_json: bool, *, with_reply: bool = False) -> None:
    if not isinstance(found, Archived):
        found = Archived(found.to_dict())
    run = found.body
    if as_json:
        emit_json(run)
        return
    usage = run.get("usage") or None
    error = run.get("last_error") or None
    emit_fields(
        [
            ("id", run.get("id")),
            ("thread", run.get("thread_id")),
            ("assistant", run.get("assistant_id")),
            ("status", run.get("status")),
            ("model", run.get("model")),
            ("created", human_time(run.get("created_at"))),
            (
                "usage",
                f"{usage.get('prompt_tokens')} prompt + {usage.get('completion_tokens')} completion"
                if usage
                else None,
            ),
            ("last error", f"{error.get('code')}: {error.get('message')}" if error else None),
            ("metadata", run.get("metadata")),
            *found.deletion_fields(),
        ]
    )
    if with_reply:
        written = Filters(thread_id=run.get("thread_id"), run_id=run.get("id"))
        for stored in cli.store.reader.find("message", written):
            if stored.body.get("role") == "assistant":
                say()
                say(message_text(stored.body))


@runs.command("create")
@click.argument("thread_id", shell_complete=archived_ids("thread"))
@click.option(
    "--assistant",
    "assistant_id",
    required=True,
    metavar="ID",
    shell_complete=archived_ids("assistant"),
    help="The assistant to run.",
)
@tools_option
@click.option("--wait", is_flag=True, help="Wait for the run to end, answering tool calls with --tools.")
@click.option("--stream", is_flag=True, help="Wait by streaming events instead of polling (implies --wait).")
@wait_timeout_option
@click.option("--instructions", type=TextOrFile(), help="Replace the assistant's instructions for this run.")
@click.option("--model", help="Use this model for this run.")
@metadata_option()
@json_option
@pass_cli
def create(
    cli: CliContext,
    thread_id: str,
    assistant_id: str,
    tools_spec: str | None,
    wait: bool,
    stream: bool,
    wait_timeout: float | None,
    instructions: str | None,
    model: str | None,
    metadata: dict[str, str] | None,
    as_json: bool,
) -> None:
    """Start a run on a thread; with --wait, drive it to its end (exit 5 unless it completes)."""
    params: dict[str, Any] = {
        key: value
        for key, value in (("instructions", instructions), ("model", model), ("metadata", metadata))
        if value is not None
    }
    from assistdb.runner.tools.stdout import tool_stdout_to_stderr

    click.get_current_context().with_resource(tool_stdout_to_stderr())
    tools = load_tools(tools_spec)  # a bad spec fails before the run exists
    if not (wait or stream):
        _emit_run(cli, cli.db.runs.create(thread_id, assistant_id=assistant_id, **params), as_json)
        return
    run = cli.db.runs.create_and_wait(
        thread_id, assistant_id=assistant_id, tools=tools, timeout=wait_timeout, stream=stream, **params
    )
    _emit_run(cli, run, as_json, with_reply=True)
    raise_unless_completed(run)


@runs.command("wait")
@click.argument("run_id", shell_complete=archived_ids("run"))
@thread_option
@tools_option
@click.option("--stream", is_flag=True, help="Stream events instead of polling.")
@wait_timeout_option
@json_option
@pass_cli
def wait(
    cli: CliContext,
    run_id: str,
    thread_id: str | None,
    tools_spec: str | None,
    stream: bool,
    wait_timeout: float | None,
    as_json: bool,
) -> None:
    """Wait for a run to end, answering its tool calls: also resumes a run after a crash."""
    from assistdb.runner.tools.stdout import tool_stdout_to_stderr

    click.get_current_context().with_resource(tool_stdout_to_stderr())
    tools = load_tools(tools_spec)
    run = cli.db.runs.wait(run_id, thread_id=thread_id, tools=tools, timeout=wait_timeout, stream=stream)
    _emit_run(cli, run, as_json, with_reply=True)
    raise_unless_completed(run)


@runs.command("cancel")
@click.argument("run_id", shell_complete=archived_ids("run"))
@thread_option
@json_option
@pass_cli
def cancel(cli: CliContext, run_id: str, thread_id: str | None, as_json: bool) -> None:
    """Ask the API to cancel a run."""
    _emit_run(cli, cli.db.runs.cancel(run_id, thread_id=thread_id), as_json)


@runs.command("list")
@thread_option
@click.option("--status", help="Only runs with this status, e.g. failed.")
@click.option("--assistant", "assistant_id", metavar="ID", help="Only runs of this assistant.")
@click.option("--limit", type=COUNT, help="Show at most this many (the latest).")
@json_option
@pass_cli
def list_runs(
    cli: CliContext,
    thread_id: str | None,
    status: str | None,
    assistant_id: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List archived runs, newest first (no API call)."""
    filters = Filters(
        thread_id=check_id("thread", thread_id) if thread_id else None,
        status=status,
        assistant_id=check_id("assistant", assistant_id) if assistant_id else None,
    )
    found = [stored.body for stored in cli.store.reader.find("run", filters, order="desc", limit=limit)]
    if as_json:
        emit_json(found)
        return
    emit_table(
        ["id", "thread", "assistant", "status", "created"],
        (
            [
                r.get("id"),
                r.get("thread_id"),
                r.get("assistant_id"),
                r.get("status"),
                human_time(r.get("created_at")),
            ]
            for r in found
        ),
        empty="no runs match" if (thread_id or status or assistant_id) else "no runs in the archive",
    )


@runs.command("show")
@click.argument("run_id", shell_complete=archived_ids("run"))
@thread_option
@remote_option
@json_option
@pass_cli
def show(cli: CliContext, run_id: str, thread_id: str | None, remote: bool, as_json: bool) -> None:
    """Show one run, from the archive unless --remote."""
    found = (
        Archived(cli.db.runs.retrieve(run_id, thread_id=thread_id).to_dict())
        if remote
        else latest(cli.store, "run", run_id, hint="pass --remote, or `assistdb threads sync` its thread")
    )
    _emit_run(cli, found, as_json)


@runs.command("steps")
@click.argument("run_id", shell_complete=archived_ids("run"))
@thread_option
@remote_option
@json_option
@pass_cli
def steps(cli: CliContext, run_id: str, thread_id: str | None, remote: bool, as_json: bool) -> None:
    """What a run did, step by step: messages it wrote and tools it called."""
    found: list[Mapping[str, Any]]
    if remote:
        found = [step.to_dict() for step in cli.db.steps.list(run_id, thread_id=thread_id)]
    else:
        found = [s.body for s in cli.store.reader.find("run_step", Filters(run_id=check_id("run", run_id)))]
    if as_json:
        emit_json(found)
        return
    emit_table(
        ["id", "type", "status", "detail", "created"],
        (
            [s.get("id"), s.get("type"), s.get("status"), _step_detail(s), human_time(s.get("created_at"))]
            for s in found
        ),
        empty=f"no steps archived for {run_id}" + ("" if remote else " (pass --remote to fetch them)"),
    )


def _step_detail(step: Mapping[str, Any]) -> str:
    details = step.get("step_details") or {}
    if details.get("type") == "message_creation":
        return str((details.get("message_creation") or {}).get("message_id"))
    calls = []
    for call in details.get("tool_calls") or ():
        if call.get("type") == "function":
            function = call.get("function") or {}
            calls.append(f"{function.get('name')}({function.get('arguments')})")
        else:
            calls.append(str(call.get("type")))
    return ", ".join(calls)


runs.add_command(
    history_command("run", "run_step", hint="`assistdb threads sync` its thread, then try again")
)
