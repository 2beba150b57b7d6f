"""Objects as the archive last saw them (deleted ones included) and their version history, for
every kind of object: what ``show`` and ``history`` print without an API call.

The archive keeps an object's whole history after a remote deletion, so ``show`` prints the last
content it had with a line saying when the deletion was recorded, rather than "not found".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from assistdb.cli.completion import archived_ids
from assistdb.cli.context import CliContext, pass_cli
from assistdb.cli.options import json_option
from assistdb.cli.output import emit_json, say
from assistdb.errors import NotFoundError
from assistdb.repositories.validation import check_id
from assistdb.store.objects import ID_PREFIXES, ObjectType

if TYPE_CHECKING:
    from assistdb.store import Store, StoredVersion

LABELS: dict[ObjectType, str] = {
    "assistant": "assistant",
    "thread": "thread",
    "message": "message",
    "run": "run",
    "run_step": "run step",
    "file": "file",
    "vector_store": "vector store",
    "vs_file": "vector store file",
}


@dataclass(frozen=True)
class Archived:
    """The last content the archive has of an object, and when its remote deletion was recorded."""

    body: dict[str, Any]
    deleted_at: datetime | None = None

    def deletion_fields(self) -> list[tuple[str, Any]]:
        if self.deleted_at is None:
            return []
        return [("deleted", f"remotely; recorded {self.deleted_at:%Y-%m-%d %H:%M:%S} UTC")]


def latest(store: Store, object_type: ObjectType, object_id: str, *, hint: str) -> Archived:
    """The object's latest archived state, or exit 3 with ``hint`` when the archive lacks it."""
    check_id(object_type, object_id)
    stored = store.reader.current(object_id, include_deleted=True)
    if stored is None or stored.object_type != object_type:
        raise NotFoundError(f"the archive has no {LABELS[object_type]} {object_id}", hint=hint)
    if not stored.tombstone:
        return Archived(stored.body)
    live = store.reader.last_live(object_id)
    return Archived(live.body if live is not None else {"id": object_id}, stored.observed_at)


def type_of_id(object_id: str, allowed: tuple[ObjectType, ...]) -> ObjectType:
    """The object type an ID's prefix names, among ``allowed`` (the first one by default)."""
    for object_type in allowed:
        if object_id.startswith(ID_PREFIXES[object_type]):
            return object_type
    return allowed[0]


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "from": self.old, "to": self.new}


def changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Change]:
    """The top-level fields whose values differ between two versions."""
    if old is None:
        return []
    names = dict.fromkeys([*old, *new])
    return [Change(name, old.get(name), new.get(name)) for name in names if old.get(name) != new.get(name)]


def history_entries(versions: list[StoredVersion]) -> list[tuple[StoredVersion, list[Change]]]:
    """Each version with what changed since the previous live one (a tombstone changes nothing)."""
    entries: list[tuple[StoredVersion, list[Change]]] = []
    previous: dict[str, Any] | None = None
    for stored in versions:
        if stored.tombstone:
            entries.append((stored, []))
            continue
        entries.append((stored, changes(previous, stored.body)))
        previous = stored.body
    return entries


def short_json(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def emit_history(versions: list[StoredVersion], *, key: str, as_json: bool) -> None:
    """Print the versions (``key`` names the body in JSON: ``message``, ``run``, ...)."""
    entries = history_entries(versions)
    if as_json:
        emit_json(
            [
                {
                    "version": stored.version,
                    "observed_at": stored.observed_at,
                    "deleted": stored.tombstone,
                    "changes": [change.to_dict() for change in found],
                    key: stored.body,
                }
                for stored, found in entries
            ]
        )
        return
    for stored, found in entries:
        when = stored.observed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        if stored.tombstone:
            say(f"v{stored.version}  {when}  deleted remotely")
            continue
        say(f"v{stored.version}  {when}  {'first seen' if stored.version == 1 else 'changed'}")
        for change in found:
            say(f"  ~ {change.field}: {short_json(change.old)} -> {short_json(change.new)}")


def history_command(*types: ObjectType, hint: str) -> click.Command:
    """A ``history ID`` command for objects of these types (told apart by ID prefix)."""
    names = " or ".join(LABELS[object_type] for object_type in types)

    @click.command("history")
    @click.argument("object_id", metavar="ID", shell_complete=archived_ids(*types))
    @json_option
    @pass_cli
    def history(cli: CliContext, object_id: str, as_json: bool) -> None:
        object_type = type_of_id(object_id, types)
        versions = cli.store.reader.history(check_id(object_type, object_id))
        if not versions:
            raise NotFoundError(f"the archive has no {LABELS[object_type]} {object_id}", hint=hint)
        emit_history(versions, key=object_type, as_json=as_json)

    history.help = (
        f"Every archived version of a {names}, with what changed at each; deletions included (no API call)."
    )
    return history
