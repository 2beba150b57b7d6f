"""What every command shares: the global options, and the archive and client opened only on demand.

``assistdb db path`` and ``--help`` never open the database, and archive-only commands never need
an API key, because both are built the first time a command asks for them.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

from assistdb.client import ClientSettings
from assistdb.errors import NotFoundError
from assistdb.secrets import RedactingFilter

if TYPE_CHECKING:
    from assistdb.facades import AssistDB
    from assistdb.store import Store

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class CliContext:
    """The root command's options, and the lazily opened :class:`AssistDB`."""

    database_url: str | None
    client_settings: ClientSettings
    verbose: bool = False
    #: The command running (``("runs", "create")``) and its parameters, for error hints.
    command: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    _store: Store | None = field(default=None, init=False, repr=False)
    _db: AssistDB | None = field(default=None, init=False, repr=False)

    @property
    def store(self) -> Store:
        """The archive, migrated on open; reading it imports neither the SDK nor the run engine."""
        if self._store is None:
            from assistdb.store import Store

            self._store = Store(self.database_url)
        return self._store

    @property
    def db(self) -> AssistDB:
        """The archive with a client built from the settings on first API call (imports the SDK)."""
        if self._db is None:
            from assistdb.facades import AssistDB

            self._db = AssistDB(client_settings=self.client_settings, store=self.store)
        return self._db

    @property
    def resolved_database_url(self) -> str:
        from assistdb.store import default_database_url

        return self.database_url or default_database_url()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = self._db = None


def pass_cli(command: Callable[Concatenate[CliContext, P], R]) -> Callable[P, R]:
    """Pass the :class:`CliContext` first, noting which command runs with which parameters (the
    error policy names the flag or command that fixes a failure in this situation)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx = click.get_current_context()
        state = ctx.find_object(CliContext)
        if state is None:
            raise RuntimeError(f"{ctx.command_path} ran outside the assistdb root command")
        state.command = tuple(ctx.command_path.split()[1:])
        state.params = dict(ctx.params)
        return command(state, *args, **kwargs)

    return run


def require_archived(found: T | None, what: str, *, hint: str) -> T:
    """An object read from the archive, or exit 3 saying the archive lacks it."""
    if found is None:
        raise NotFoundError(f"the archive has no {what}", hint=hint)
    return found


def enable_debug_logging(ctx: click.Context) -> None:
    """Debug logs of assistdb, the SDK and its HTTP client on stderr, API keys masked; undone on exit."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    # The SDK's HTTP client logs as "httpx" up to openai 3.56 and as "httpx2" from 3.57.
    loggers = [logging.getLogger(name) for name in ("assistdb", "openai", "httpx", "httpx2")]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)

    def undo() -> None:
        for logger, level in zip(loggers, previous, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)

    ctx.call_on_close(undo)
