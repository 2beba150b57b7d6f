"""``assistdb assistants export --format responses``: archived assistants as Responses requests."""

from __future__ import annotations

import json

import click
import yaml

from assistdb.cli.context import CliContext, pass_cli, require_archived
from assistdb.repositories.validation import check_id


@click.command("export")
@click.argument("assistant_ids", nargs=-1)
@click.option(
    "--format",
    "target_format",
    type=click.Choice(["responses"]),
    required=True,
    help="What to export to: `responses`, a Responses API request template per assistant.",
)
@click.option(
    "--as",
    "rendering",
    type=click.Choice(["json", "yaml", "python"]),
    default="json",
    show_default=True,
    help="JSON or YAML documents, or a short Python script per assistant.",
)
@pass_cli
def export(cli: CliContext, assistant_ids: tuple[str, ...], target_format: str, rendering: str) -> None:
    """Write archived assistants (all, or those named) as Responses request templates.

    Each template holds the model, instructions, tools in the Responses shape, sampling,
    text.format from response_format, reasoning effort and metadata; `notes` names what has no
    place in a request. Reads only the archive (`assistants pull` first).
    """
    from assistdb.migration.responses_template import responses_template

    reader = cli.store.reader
    if assistant_ids:
        bodies = [
            require_archived(
                reader.current(check_id("assistant", assistant_id)),
                f"assistant {assistant_id}",
                hint="pull it first",
            ).body
            for assistant_id in assistant_ids
        ]
    else:
        bodies = [version.body for version in reader.iter_find("assistant")]
    templates = [responses_template(body) for body in bodies]
    if rendering == "python":
        click.echo("\n\n".join(template.python() for template in templates), nl=False)
    elif rendering == "yaml":
        click.echo(
            yaml.safe_dump([t.as_data() for t in templates], sort_keys=False, allow_unicode=True), nl=False
        )
    else:
        click.echo(json.dumps([t.as_data() for t in templates], indent=2, ensure_ascii=False))
