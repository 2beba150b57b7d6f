"""Tampering: any database client is refused UPDATE and DELETE on the archive tables, and a change
made behind the triggers' back (as someone with the file, or a superuser, could) is named by
``assistdb audit verify``, which exits 6."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from assistdb import AssistDB
from assistdb.server import LocalServer
from assistdb.store import Store
from tests.cli.conftest import assert_one_line_error
from tests.reliability.archives import export_text
from tests.reliability.conftest import invoke
from tests.reliability.sample_tools import registry
from tests.store.test_tamper_evidence import behind_the_triggers

REFUSED = [
    "UPDATE versions SET body = '{}'",
    "UPDATE versions SET observed_at_us = observed_at_us + 1",
    "DELETE FROM versions",
    "UPDATE tool_calls SET output = 'forged'",
    "DELETE FROM tool_calls",
]


@pytest.fixture
def archive(database_url: str, assistdb_server: LocalServer) -> str:
    """A thread with a run that called a tool: versions on a thread chain and an assistant chain,
    and ledger rows."""
    with AssistDB(database_url, client=assistdb_server.client()) as db:
        assistant = db.assistants.create(model="gpt-4o", tools=registry.definitions())
        thread = db.threads.create(messages=[{"role": "user", "content": '/tool lookup {"key": "k"}'}])
        assert (
            db.runs.create_and_wait(thread.id, assistant_id=assistant.id, tools=registry).status
            == "completed"
        )
    return database_url


@contextmanager
def foreign_client(database_url: str) -> Iterator[Any]:
    """A DB-API connection that is not assistdb's: what ``sqlite3`` or ``psql`` would give a user."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection: Any = sqlite3.connect(str(url.database), isolation_level=None)
    else:
        connection = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


def verify(database_url: str, *args: str) -> Any:
    return invoke("--db", database_url, "audit", "verify", *args)


@pytest.mark.parametrize("statement", REFUSED)
def test_any_client_is_refused_update_and_delete_on_the_archive(archive: str, statement: str) -> None:
    before = export_text(archive)
    with foreign_client(archive) as connection, pytest.raises(Exception, match="append-only"):
        connection.execute(statement)
    assert export_text(archive) == before
    result = verify(archive)
    assert result.exit_code == 0 and result.stdout.startswith("ok: 2 chain(s)"), result.output


def _thread_chain(connection: Connection) -> str:
    return str(
        connection.execute(text("SELECT chain_id FROM versions WHERE object_type = 'thread'")).scalar_one()
    )


def alter_a_message(connection: Connection) -> tuple[str, str]:
    connection.execute(
        text("UPDATE versions SET body = replace(body, 'lookup', 'delete') WHERE object_type = 'message'")
    )
    return _thread_chain(connection), "altered"


def remove_a_step(connection: Connection) -> tuple[str, str]:
    connection.execute(text("DELETE FROM versions WHERE object_type = 'run_step'"))
    return _thread_chain(connection), "removed"


def backdate_a_run(connection: Connection) -> tuple[str, str]:
    connection.execute(text("UPDATE versions SET observed_at_us = 0 WHERE object_type = 'run'"))
    return _thread_chain(connection), "altered"


def drop_the_last_row(connection: Connection) -> tuple[str, str]:
    chain = _thread_chain(connection)
    connection.execute(
        text(
            "DELETE FROM versions WHERE chain_id = :c"
            " AND chain_seq = (SELECT MAX(chain_seq) FROM versions WHERE chain_id = :c)"
        ),
        {"c": chain},
    )
    return chain, "removed"


def rewrite_the_assistant(connection: Connection) -> tuple[str, str]:
    connection.execute(
        text("UPDATE versions SET body = replace(body, 'gpt-4o', 'gpt-evil') WHERE object_type = 'assistant'")
    )
    chain = connection.execute(
        text("SELECT chain_id FROM versions WHERE object_type = 'assistant'")
    ).scalar_one()
    return str(chain), "altered"


TAMPERING: dict[str, Callable[[Connection], tuple[str, str]]] = {
    "a message's text rewritten": alter_a_message,
    "run steps deleted": remove_a_step,
    "an observation time changed": backdate_a_run,
    "the newest row deleted": drop_the_last_row,
    "an assistant's model rewritten": rewrite_the_assistant,
}


@pytest.mark.parametrize("name", list(TAMPERING))
def test_a_change_behind_the_triggers_back_is_named_by_audit_verify(archive: str, name: str) -> None:
    store = Store(archive)
    try:
        with behind_the_triggers(store) as connection:
            chain, kind = TAMPERING[name](connection)
    finally:
        store.close()

    result = verify(archive)

    assert_one_line_error(result, 6, "1 of 2 chain(s) do not verify", "restore from an export")
    (named,) = result.stdout.splitlines()
    assert re.match(rf"chain {chain} seq \d+: (row \d+ )?{kind}\b", named), named
    report = json.loads(verify(archive, "--json").stdout)
    assert report["ok"] is False and [p["chain_id"] for p in report["problems"]] == [chain]
    if chain.startswith("thread_"):  # verifying only the broken thread names it too
        assert verify(archive, "--thread", chain).exit_code == 6
