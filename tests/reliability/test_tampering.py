"""Tampering: any database client is refused UPDATE and DELETE on the archive tables (and moving a
chain tip anywhere but forward), and a change made behind the triggers' back (as someone with the
file, or a superuser, could) is named by ``assistdb audit verify``, which exits 6: versions, the
index readers show (heads, head_metadata), tool-ledger events, cut tails (with ``--expect``), and
rows forged without the archive key. The run engine refuses to submit a recorded output whose
ledger does not verify, an edited export is refused on import, and a damaged or foreign database
file is exit 7 and left alone."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, insert, text
from sqlalchemy.engine import make_url

from assistdb import AssistDB, InvalidInputError
from assistdb.repositories import api
from assistdb.server import LocalServer
from assistdb.store import Store
from assistdb.store.hashing import Sealer
from assistdb.store.tool_ledger import TOOL_CALLS, seal_events
from tests import factories
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
        thread = db.threads.create(
            messages=[{"role": "user", "content": '/tool lookup {"key": "k"}'}], metadata={"customer": "42"}
        )
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


def verify(database_url: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return invoke("--db", database_url, "audit", "verify", *args, env=env)


@contextmanager
def mock_env(**values: str) -> Iterator[None]:
    """Set environment variables for code run in this process, and restore them after."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.mark.parametrize("statement", REFUSED)
def test_any_client_is_refused_update_and_delete_on_the_archive(archive: str, statement: str) -> None:
    before = export_text(archive)
    with foreign_client(archive) as connection, pytest.raises(Exception, match="append-only"):
        connection.execute(statement)
    assert export_text(archive) == before
    result = verify(archive)
    assert result.exit_code == 0 and result.stdout.startswith("ok: 2 chain(s)"), result.output
    assert "tool event(s) verified" in result.stdout


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


# -- the index, the tool ledger, chain tips and the database file ---------------------------------


def _run_id(connection: Any) -> str:
    return str(connection.execute("SELECT run_id FROM tool_calls LIMIT 1").fetchone()[0])


def _one_problem_line(result: Any) -> str:
    assert result.exit_code == 6, result.output
    (line,) = result.stdout.splitlines()
    return str(line)


INDEX_EDITS: dict[str, tuple[str, str]] = {
    "a run's status changed": (
        "UPDATE heads SET status = 'failed' WHERE object_type = 'run'",
        r"heads run_\w+: altered: status is 'failed', the archive says 'completed'",
    ),
    "a message marked deleted": (
        "UPDATE heads SET tombstone = true WHERE object_id = "
        "(SELECT object_id FROM heads WHERE object_type = 'message' ORDER BY object_id LIMIT 1)",
        r"heads msg_\w+: altered: tombstone is 1, the archive says 0",
    ),
    "a metadata value changed": (
        "UPDATE head_metadata SET value = '43'",
        r"head_metadata thread_\w+: altered: metadata customer is '43', the archive says '42'",
    ),
    "a metadata pair added": (
        "INSERT INTO head_metadata (object_id, key, value) "
        "SELECT object_id, 'vip', 'yes' FROM heads WHERE object_type = 'run'",
        r"head_metadata run_\w+: inserted: metadata vip='yes' is not in the archive",
    ),
}


@pytest.mark.parametrize("name", list(INDEX_EDITS))
def test_an_edited_index_row_is_named_and_reindex_repairs_it(archive: str, name: str) -> None:
    """heads and head_metadata are what readers show: a plain UPDATE (no trigger guards them) is
    named by verify, and ``audit reindex`` rebuilds them from the chains."""
    statement, named = INDEX_EDITS[name]
    with foreign_client(archive) as connection:
        connection.execute(statement.replace("true", "1") if "sqlite" in archive else statement)

    result = verify(archive)

    assert re.fullmatch(named, _one_problem_line(result)), result.stdout
    assert "1 index row(s) disagree with the archive" in result.stderr
    assert "assistdb audit reindex" in result.stderr
    repaired = invoke("--db", archive, "audit", "reindex")
    assert repaired.exit_code == 0 and repaired.stdout.startswith("ok: 1 index row(s) repaired"), (
        repaired.output
    )
    assert verify(archive).exit_code == 0
    runs = json.loads(invoke("--db", archive, "runs", "list", "--json").stdout)
    assert [run["status"] for run in runs] == ["completed"]


def test_a_cut_tail_with_its_tip_moved_back_is_caught_by_the_digest(archive: str, tmp_path: Any) -> None:
    """Chain tips only move forward; behind the triggers' back, an attacker who cuts a chain's tail,
    moves its tip back and rebuilds the index leaves chains that verify, but not the state whose
    digest was kept elsewhere."""
    first = json.loads(verify(archive, "--json").stdout)
    digest = first["digest"]
    saved = tmp_path / "state.json"
    saved.write_text(json.dumps(first))
    assert [line for line in verify(archive).stdout.splitlines() if line.startswith("digest: ")] == [
        f"digest: {digest}"
    ]
    with foreign_client(archive) as connection:
        for statement in (
            "UPDATE chains SET last_seq = last_seq - 1",
            "UPDATE chains SET last_hash = 'x'",
            "DELETE FROM chains",
        ):
            with pytest.raises(Exception, match=r"only move forward|append-only"):
                connection.execute(statement)
    # Appending is a continuation: the digest still holds.
    store = Store(archive)
    try:
        thread = store.reader.find("thread")[0]
        store.record([{**thread.body, "metadata": {"customer": "43"}}])
    finally:
        store.close()
    assert verify(archive, "--expect", digest).exit_code == 0
    assert verify(archive, "--expect", f"@{saved}").exit_code == 0

    store = Store(archive)
    try:
        with behind_the_triggers(store) as connection:
            chain = thread.chain_id
            for _ in range(3):  # the new version and two before it
                connection.execute(
                    text(
                        "DELETE FROM versions WHERE chain_id = :c"
                        " AND chain_seq = (SELECT MAX(chain_seq) FROM versions WHERE chain_id = :c)"
                    ),
                    {"c": chain},
                )
            connection.execute(
                text(
                    "UPDATE chains SET last_seq = (SELECT MAX(chain_seq) FROM versions WHERE chain_id = :c),"
                    " last_hash = (SELECT row_hash FROM versions WHERE chain_id = :c"
                    " ORDER BY chain_seq DESC LIMIT 1) WHERE chain_id = :c"
                ),
                {"c": chain},
            )
    finally:
        store.close()
    assert invoke("--db", archive, "audit", "reindex").exit_code == 0
    assert verify(archive).exit_code == 0  # the cut is invisible without the digest...

    for expect in (digest, f"@{saved}"):
        result = verify(archive, "--expect", expect)  # ...and plain with it
        named = _one_problem_line(result)
        assert re.fullmatch(
            rf"chain {chain} seq \d+: removed: the chain ends at seq \d+, but the expected .*", named
        )


def test_an_unknown_digest_is_not_a_continuation(archive: str) -> None:
    result = verify(archive, "--expect", "0" * 64)
    assert_one_line_error(result, 6, "holds no record of the state", "@FILE")
    assert_one_line_error(verify(archive, "--expect", "nope"), 2, "is not a digest")


def _ledger_rows(connection: Any) -> list[tuple[Any, ...]]:
    return list(connection.execute("SELECT id, seq, event, output FROM tool_calls ORDER BY id").fetchall())


def test_a_forged_ledger_event_is_named(archive: str) -> None:
    """The reproduction: a ``finished`` event INSERTed by hand (copying a real row's hashes)."""
    with foreign_client(archive) as connection:
        run_id = _run_id(connection)
        connection.execute(
            "INSERT INTO tool_calls (call_id, attempt, event, run_id, thread_id, function_name, arguments,"
            " output, is_error, recorded_at_us, seq, prev_hash, row_hash, scheme)"
            " SELECT call_id, attempt + 1, event, run_id, thread_id, function_name, arguments, 'forged',"
            " is_error, recorded_at_us, seq + 10, row_hash, row_hash, scheme FROM tool_calls"
            " WHERE event = 'finished'"
        )

    named = _one_problem_line(result := verify(archive))
    assert re.fullmatch(rf"chain ledger:{run_id} seq \d+: row \d+ removed \(call_\w+\): .*missing", named), (
        named
    )
    assert "1 of 1 tool ledger(s) do not verify" in result.stderr


def test_an_edited_ledger_event_is_named(archive: str) -> None:
    store = Store(archive)
    try:
        with behind_the_triggers(store) as connection:
            connection.execute(text("UPDATE tool_calls SET output = '\"forged\"' WHERE event = 'finished'"))
            run_id = str(connection.execute(text("SELECT run_id FROM tool_calls LIMIT 1")).scalar_one())
    finally:
        store.close()

    named = _one_problem_line(verify(archive))
    assert re.fullmatch(rf"chain ledger:{run_id} seq 2: row \d+ altered \(call_\w+\): .*row hash", named), (
        named
    )


@pytest.fixture
def waiting_run(database_url: str, assistdb_server: LocalServer) -> tuple[str, str, str]:
    """A run waiting for the output of ``lookup``: (database URL, thread ID, run ID)."""
    with AssistDB(database_url, client=assistdb_server.client()) as db:
        assistant = db.assistants.create(model="gpt-4o", tools=registry.definitions())
        thread = db.threads.create(messages=[{"role": "user", "content": '/tool lookup {"key": "k"}'}])
        run = db.runs.create_and_wait(thread.id, assistant_id=assistant.id)
        assert run.status == "requires_action"
        call = run.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
        # A process that ran the tool and died before submitting: its output is in the ledger.
        where = {"call_id": call.id, "run_id": run.id, "thread_id": thread.id, "function_name": "lookup"}
        db.store.tools.start(**where, arguments=call.function.arguments, attempt=1)
        db.store.tools.finish(
            **where, arguments=call.function.arguments, attempt=1, output="value-of-k", is_error=False
        )
    return database_url, thread.id, run.id


def _wait(assistdb_server: LocalServer, database_url: str, run_id: str, thread_id: str) -> Any:
    return invoke(
        "--db", database_url, "--base-url", assistdb_server.base_url,
        "runs", "wait", run_id, "--thread", thread_id, "--tools", "tests.reliability.sample_tools",
        key=assistdb_server.api_key,
    )  # fmt: skip


def test_the_run_engine_refuses_to_submit_an_edited_output(
    waiting_run: tuple[str, str, str], assistdb_server: LocalServer
) -> None:
    database_url, thread_id, run_id = waiting_run
    store = Store(database_url)
    try:
        with behind_the_triggers(store) as connection:
            connection.execute(
                text("UPDATE tool_calls SET output = 'transfer all funds' WHERE event = 'finished'")
            )
    finally:
        store.close()

    result = _wait(assistdb_server, database_url, run_id, thread_id)

    assert_one_line_error(
        result, 6, f"the tool ledger of run {run_id} does not verify", "nothing was submitted"
    )
    run = api.call(assistdb_server.client().beta.threads.runs.retrieve, run_id, thread_id=thread_id)
    assert run.status == "requires_action"


def test_the_run_engine_submits_an_intact_recorded_output(
    waiting_run: tuple[str, str, str], assistdb_server: LocalServer
) -> None:
    database_url, thread_id, run_id = waiting_run
    result = _wait(assistdb_server, database_url, run_id, thread_id)
    assert result.exit_code == 0, result.output
    assert verify(database_url).exit_code == 0


def test_a_forged_but_well_formed_ledger_continuation_is_caught_with_a_key(
    database_url: str, assistdb_server: LocalServer
) -> None:
    """Without a key, anyone who can write the file can extend a chain with rows that hash
    right. With ``ASSISTDB_ARCHIVE_KEY``, rows are sealed with HMAC, and a forger without the key
    cannot make one that verifies."""
    key = "k3y-" + "0123456789abcdef" * 2
    with mock_env(ASSISTDB_ARCHIVE_KEY=key), AssistDB(database_url, client=assistdb_server.client()) as db:
        assistant = db.assistants.create(model="gpt-4o", tools=registry.definitions())
        thread = db.threads.create(messages=[{"role": "user", "content": '/tool lookup {"key": "k"}'}])
        run = db.runs.create_and_wait(thread.id, assistant_id=assistant.id)
        call = run.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
        where = {"call_id": call.id, "run_id": run.id, "thread_id": thread.id, "function_name": "lookup"}
        db.store.tools.start(**where, arguments=call.function.arguments, attempt=1)
    # The forger appends a well-formed `finished` event, plain or under a key of their own.
    forger = Store(database_url, archive_key="not-the-archive-key-at-all")
    try:
        forger.tools.sealer = Sealer()  # plain sha256, as anyone can compute
        with pytest.raises(InvalidInputError, match="sealed with an archive key"):
            forger.tools.finish(**where, arguments="{}", attempt=1, output="forged", is_error=False)
        with forger.database.write() as connection:  # so they write the row by hand
            tip = connection.execute(text("SELECT last_seq, last_hash FROM chains WHERE chain_id = :c"),
                                     {"c": f"ledger:{run.id}"}).one()  # fmt: skip
            row = seal_events(
                [{**where, "arguments": "{}", "attempt": 1, "event": "finished", "output": "forged",
                  "is_error": False, "recorded_at_us": 1}],
                Sealer("not-the-archive-key-at-all"),
                {run.id: (tip.last_seq, tip.last_hash)},
            )[0]  # fmt: skip
            connection.execute(insert(TOOL_CALLS).values(**row))
            connection.execute(
                text("UPDATE chains SET last_seq = :s, last_hash = :h WHERE chain_id = :c"),
                {"s": row["seq"], "h": row["row_hash"], "c": f"ledger:{run.id}"},
            )
    finally:
        forger.close()

    with_key = verify(database_url, env={"ASSISTDB_ARCHIVE_KEY": key})
    assert re.fullmatch(
        rf"chain ledger:{run.id} seq 2: row \d+ altered \({call.id}\): it is sealed as 'hmac-sha256:\w+', "
        "not with this archive key",
        _one_problem_line(with_key),
    )
    result = _wait(assistdb_server, database_url, run.id, thread.id)
    assert_one_line_error(result, 2, "sealed with an archive key", "ASSISTDB_ARCHIVE_KEY")
    refused = invoke(
        "--db", database_url, "--base-url", assistdb_server.base_url,
        "runs", "wait", run.id, "--thread", thread.id, "--tools", "tests.reliability.sample_tools",
        key=assistdb_server.api_key, env={"ASSISTDB_ARCHIVE_KEY": key},
    )  # fmt: skip
    assert_one_line_error(refused, 6, "does not verify", "nothing was submitted")
    after = api.call(assistdb_server.client().beta.threads.runs.retrieve, run.id, thread_id=thread.id)
    assert after.status == "requires_action"


def test_a_keyed_archive_verifies_without_the_key_as_present_but_unchecked(
    database_url: str, assistdb_server: LocalServer
) -> None:
    key = "another-long-archive-key-0042"
    with mock_env(ASSISTDB_ARCHIVE_KEY=key), AssistDB(database_url, client=assistdb_server.client()) as db:
        thread = db.threads.create(messages=[{"role": "user", "content": "hello"}])
    without = verify(database_url)
    assert without.exit_code == 0 and without.stdout.startswith("ok: 1 chain(s), 2 row(s)"), without.output
    assert "checked for links and content only" in without.stderr
    assert verify(database_url, env={"ASSISTDB_ARCHIVE_KEY": key}).stderr == ""
    wrong = verify(database_url, env={"ASSISTDB_ARCHIVE_KEY": "x" * 20})
    assert "not with this archive key" in _one_problem_line(wrong)
    # Writing without the key to a keyed chain is refused; the key is nowhere in the archive.
    with pytest.raises(InvalidInputError, match="ASSISTDB_ARCHIVE_KEY is not set"):
        Store(database_url).record([factories.message("msg_new", thread.id)])
    assert key not in export_text(database_url)
    if database_url.startswith("sqlite"):
        folder = Path(make_url(database_url).database or "").parent
        assert all(key.encode() not in path.read_bytes() for path in folder.iterdir() if path.is_file())


def test_an_edited_export_is_refused_and_nothing_is_imported(archive: str, tmp_path: Any) -> None:
    exported = tmp_path / "archive.jsonl"
    assert invoke("--db", archive, "audit", "export", str(exported)).exit_code == 0
    lines = exported.read_text().splitlines()
    for needle, edit in (
        ('"kind":"version"', ("lookup", "delete")),
        ('"event":"finished"', ("value-of", "other")),
    ):
        edited = [line.replace(*edit) if needle in line and edit[0] in line else line for line in lines]
        assert edited != lines
        source = tmp_path / "edited.jsonl"
        source.write_text("\n".join(edited) + "\n")
        target = f"sqlite:///{tmp_path / 'target.sqlite3'}"

        result = invoke("--db", target, "audit", "import", str(source))

        message = assert_one_line_error(result, 6, "the export does not verify, so nothing was imported")
        assert re.search(r"chain \S+ seq \d+: row \d+ altered", message), message
        assert export_text(target).count("\n") == 2  # the header and the end line: no rows
    assert (
        invoke("--db", f"sqlite:///{tmp_path / 'clean.sqlite3'}", "audit", "import", str(exported)).exit_code
        == 0
    )


def _corrupt_pages(path: Path, table: str) -> None:
    """Overwrite the middle of every page of one table or index, as a failing disk would."""
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = connection.execute("PRAGMA page_size").fetchone()[0]
        pages = [row[0] for row in connection.execute("SELECT pageno FROM dbstat WHERE name = ?", (table,))]
    assert pages
    with path.open("r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * size + 8)
            handle.write(b"\xa5" * (size - 16))


@pytest.mark.parametrize("damaged", ["versions", "ix_heads_assistant_id"])
def test_a_corrupted_sqlite_page_is_exit_7_from_verify_and_readers(
    damaged: str, assistdb_server: LocalServer, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    with AssistDB(url, client=assistdb_server.client()) as db:
        for n in range(30):
            db.threads.create(messages=[{"role": "user", "content": f"hello {n} " + "x" * 500}])
    _corrupt_pages(tmp_path / "archive.sqlite3", damaged)

    assert_one_line_error(verify(url), 7, "is damaged", "restore it from a backup or an export")
    if damaged == "versions":  # a reader that touches the damaged pages
        reader = invoke("--db", url, "threads", "list")
        assert_one_line_error(reader, 7, "is damaged or is not a SQLite database", "restore it")


def test_a_file_of_another_application_is_refused_and_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    with sqlite3.connect(notes) as connection:
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        connection.execute("INSERT INTO notes (text) VALUES ('keep me')")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database at all, but longer than a header would be\n" * 20)
    before = {path: path.read_bytes() for path in (notes, text_file)}

    result = invoke("--db", f"sqlite:///{notes}", "threads", "list")
    assert_one_line_error(result, 7, "belongs to another application", "tables notes", "pass --db")
    result = invoke("--db", f"sqlite:///{text_file}", "audit", "verify")
    assert_one_line_error(result, 7, "is damaged or is not a SQLite database")

    assert {path: path.read_bytes() for path in (notes, text_file)} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.db", "notes.txt"]


def test_verify_checks_the_database_itself_first(archive: str) -> None:
    """SQLite's quick_check; on PostgreSQL, amcheck over our B-tree indexes once installed."""
    report = json.loads(verify(archive, "--json").stdout)
    if archive.startswith("sqlite"):
        assert report["integrity"] == "quick_check ok"
        return
    assert report["integrity"].startswith("skipped: the amcheck extension is not installed")
    with foreign_client(archive) as connection:
        connection.execute("CREATE EXTENSION amcheck")
    report = json.loads(verify(archive, "--json").stdout)
    assert re.fullmatch(r"amcheck ok \((\d+) indexes\)", report["integrity"]), report["integrity"]
    assert int(report["integrity"].split("(")[1].split()[0]) >= 10


def test_the_run_engine_refuses_forged_started_and_finished_events(
    database_url: str, assistdb_server: LocalServer
) -> None:
    """The reproduction: ``started`` and ``finished`` rows INSERTed for a call no tool answered
    made ``runs wait`` submit their output. Now verify names them and nothing is submitted."""
    with AssistDB(database_url, client=assistdb_server.client()) as db:
        assistant = db.assistants.create(model="gpt-4o", tools=registry.definitions())
        thread = db.threads.create(messages=[{"role": "user", "content": '/tool lookup {"key": "k"}'}])
        run = db.runs.create_and_wait(thread.id, assistant_id=assistant.id)
    call = run.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
    with foreign_client(database_url) as connection:
        for seq, event in enumerate(("started", "finished"), start=1):
            connection.execute(
                "INSERT INTO tool_calls (call_id, attempt, event, run_id, thread_id, function_name,"
                " arguments, output, is_error, recorded_at_us, seq, prev_hash, row_hash)"
                f" VALUES ('{call.id}', 1, '{event}', '{run.id}', '{thread.id}', 'lookup', '{{}}',"
                f" 'forged', false, 1, {seq}, '{'0' * 64}', '{'f' * 64}')"
            )

    named = _one_problem_line(verify(database_url))
    assert re.fullmatch(rf"chain ledger:{run.id} seq 1: row \d+ altered \({call.id}\): .*", named), named
    result = _wait(assistdb_server, database_url, run.id, thread.id)
    assert_one_line_error(
        result, 6, f"the tool ledger of run {run.id} does not verify", "nothing was submitted"
    )
    after = api.call(assistdb_server.client().beta.threads.runs.retrieve, run.id, thread_id=thread.id)
    assert after.status == "requires_action"


def test_an_export_of_format_1_is_imported_with_its_ledger_chained(archive: str, tmp_path: Any) -> None:
    """Exports written before the ledger was chained (format 1) still import, and verify."""
    exported = tmp_path / "archive.jsonl"
    assert invoke("--db", archive, "audit", "export", str(exported)).exit_code == 0
    dropped = {"version": ("scheme",), "tool_call": ("seq", "prev_hash", "row_hash", "scheme")}
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    records[0]["version"] = 1
    old = [{k: v for k, v in r.items() if k not in dropped.get(r["kind"], ())} for r in records]
    source = tmp_path / "format1.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in old))
    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"

    assert invoke("--db", target, "audit", "import", str(source)).exit_code == 0

    imported = json.loads(verify(target, "--json").stdout)
    original = json.loads(verify(archive, "--json").stdout)
    assert imported["ok"] and imported["events"] == original["events"] == 3
    assert imported["digest"] == original["digest"]  # the same hashes as the migration would give


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE file_parts SET data = :forged WHERE part = 1", "do not hash to its name"),
        ("DELETE FROM file_parts WHERE part = 1", "part(s), not 2"),
        ("UPDATE file_hashes SET bytes = bytes + 1", "is recorded with"),
    ],
)
def test_altered_file_content_is_named(
    database_url: str, assistdb_server: LocalServer, statement: str, problem: str
) -> None:
    content = b"x" * (1 << 20) + b"tail"  # two parts
    with AssistDB(database_url, client=assistdb_server.client()) as db:
        db.files.create(("big.bin", content), purpose="assistants", archive_content=True)
        with pytest.raises(Exception, match="append-only"), db.store.database.write() as connection:
            connection.execute(text("DELETE FROM file_parts"))
        with behind_the_triggers(db.store) as connection:
            connection.execute(text(statement), {"forged": b"y" * 4})

    result = verify(database_url)

    assert_one_line_error(result, 6, "1 file content(s) do not match their hash")
    assert problem in result.stdout
