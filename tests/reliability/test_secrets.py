"""After a whole session with a known API key (runs with tools, failing runs, syncs, exports,
verbose logs, failing commands, a rejected key), neither key appears anywhere: not in the
database (every byte of the SQLite files, or every row of every PostgreSQL table), not in the
``-v`` logs, the exports or any error message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
from click.testing import Result
from sqlalchemy.engine import make_url

from assistdb import AssistDB
from assistdb.server import LocalServer
from assistdb.sync import sync_threads
from tests.reliability.archives import export_text
from tests.reliability.conftest import TOOLS_MODULE, invoke
from tests.reliability.forked_cli import ForkedCli
from tests.reliability.sample_tools import registry

KEY = "sk-reliability-secret-4f1d2c9e8b7a6d5c"
REJECTED = "sk-reliability-rejected-9a8b7c6d5e4f3a2b"


class Session:
    """Runs ``assistdb -v`` commands and keeps everything they printed."""

    def __init__(self, database_url: str, server: LocalServer, forked: ForkedCli) -> None:
        self.global_options = ("-v", "--db", database_url, "--base-url", server.base_url)
        self.forked = forked
        self.printed: list[str] = []

    def __call__(self, *args: str, code: int = 0, key: str = KEY) -> Result:
        result = invoke(*self.global_options, *args, key=key)
        self.printed.append(result.output)
        assert result.exit_code == code, result.output
        return result

    def process(self, *args: str, code: int = 0, key: str = KEY) -> None:
        """The same in a process of its own, where nothing was registered or logged before."""
        status, child = self.forked.run(*self.global_options, *args, env={"OPENAI_API_KEY": key})
        self.printed.extend(child.output())
        assert status == code, child.output()

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


def database_text(database_url: str) -> str:
    """Everything the database holds, as text: the SQLite files' raw bytes (with the -wal and
    -shm files), or every row of every table of the PostgreSQL database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        main = Path(str(url.database))
        files = [path for path in main.parent.iterdir() if path.name.startswith(main.name)]
        assert main in files
        return "".join(path.read_bytes().decode("utf-8", "replace") for path in files)
    with psycopg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False)
    ) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        rows = [
            str(row[0])
            for (table,) in tables
            for row in connection.execute(f'SELECT t::text FROM "{table}" t').fetchall()
        ]
    assert len(tables) >= 6 and rows, "every table was read"
    return "\n".join(rows)


def test_a_session_leaves_the_key_nowhere(
    database_url: str, assistdb_server_factory: Any, forked_cli: ForkedCli, tmp_path: Path
) -> None:
    server = assistdb_server_factory(api_key=KEY)
    session = Session(database_url, server, forked_cli)

    assistant = session.json(
        "assistants", "create", "--name", "keyed", "--model", "gpt-4o", "--tools", TOOLS_MODULE
    )
    thread = session.json("threads", "create", "--message", '/tool lookup {"key": "k"}')["id"]
    run_with_tools = (
        "runs",
        "create",
        thread,
        "--assistant",
        assistant["id"],
        "--tools",
        TOOLS_MODULE,
        "--wait",
    )
    session(*run_with_tools)
    session("messages", "add", thread, '/tool explode {"reason": "boom"}')
    session(*run_with_tools)  # the tool's error is the model's input, not a failure
    session("messages", "add", thread, "/fail the model gave up")
    session(*run_with_tools, code=5)
    session("threads", "sync", "--all")
    session("threads", "sync", "--all", "--full")
    session("assistants", "pull")
    session("audit", "export", str(tmp_path / "export.jsonl"))
    session("audit", "export", "--thread", thread)
    for args in (
        ("audit", "verify"),
        ("audit", "usage"),
        ("audit", "diff", thread),
        ("threads", "transcript", thread),
    ):
        session(*args)
    session("runs", "wait", "run_missing00000", "--thread", thread, code=3)
    session("threads", "show", "thread bad!", code=2)
    session("assistants", "list", key=REJECTED, code=4)
    session("threads", "sync", "--all", key=REJECTED, code=4)
    session.process("threads", "sync", "--all")
    session.process("runs", "wait", "run_missing00000", "--thread", thread, code=3)
    session.process("assistants", "list", key=REJECTED, code=4)
    with AssistDB(database_url, client=server.client()) as db:
        db.messages.create(thread, content='/tool lookup {"key": "again"}')
        assert (
            db.runs.create_and_wait(thread, assistant_id=assistant["id"], tools=registry).status
            == "completed"
        )
        assert sync_threads(db).ok

    logs = "\n".join(session.printed)
    assert "DEBUG" in logs and "HTTP Request: POST" in logs, "the -v logs were written"
    everything = {
        "the -v logs and messages": logs,
        "the export file": (tmp_path / "export.jsonl").read_text(),
        "an export": export_text(database_url),
        "the database": database_text(database_url),
    }
    for where, text in everything.items():
        for secret in (KEY, REJECTED):
            assert secret not in text, f"{secret} in {where}"
