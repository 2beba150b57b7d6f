"""Shell completion of archived IDs: a TAB after ``assistdb threads show thr`` lists the thread
IDs the archive knows, read straight from its index (no API call, no migration)."""

from __future__ import annotations

from collections.abc import Callable

import click
from click.shell_completion import CompletionItem

from assistdb.store.objects import ObjectType

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def archived_ids(*object_types: ObjectType) -> Completer:
    """A ``shell_complete`` function offering archived IDs of these types."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        from assistdb.store import Store, default_database_url
        from assistdb.store.database import parse_database_url

        url = ctx.find_root().params.get("database_url") or default_database_url()
        try:
            parsed = parse_database_url(url)
            if parsed.get_backend_name() == "sqlite":
                from pathlib import Path

                if not parsed.database or not Path(parsed.database).is_file():
                    return []  # a TAB never creates an archive
            store = Store(url, migrate=False)
            try:
                return [
                    CompletionItem(object_id)
                    for object_type in object_types
                    for object_id in store.reader.ids_starting_with(object_type, incomplete)
                ]
            finally:
                store.close()
        except Exception:  # whatever goes wrong, a completion must not print into the shell
            return []

    return complete
