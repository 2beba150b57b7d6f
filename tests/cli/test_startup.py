"""The import budget: commands that read only the archive (and help, and completion) never import
the SDK, the server, Alembic, pydantic or (for a SQLite archive) the PostgreSQL dialect, which
is what keeps them starting in a blink.

This checks what a command imports, in a fresh process, rather than a wall-clock time, so that
it holds on a loaded machine and fails only when an import creeps back.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.conftest import REPO, Cli, subprocess_env

# The PostgreSQL dialect too: the archives these tests read are SQLite files.
HEAVY = (
    "openai",
    "assistdb.server",
    "starlette",
    "uvicorn",
    "fastapi",
    "alembic",
    "sqlmodel",
    "pydantic",
    "sqlalchemy.dialects.postgresql",
    "numpy",
)

PROBE = """
import json, sys
from assistdb.cli import cli
try:
    code = cli(sys.argv[2:], prog_name="assistdb", standalone_mode=False)
except SystemExit as exit:  # --version exits once it has printed
    code = exit.code
roots = tuple(json.loads(sys.argv[1]))
heavy = sorted({n for n in sys.modules for r in roots if n == r or n.startswith(r + ".")})
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def imported_by(
    *args: str, env: dict[str, str] | None = None, roots: tuple[str, ...] = HEAVY
) -> tuple[int, list[str]]:
    """Run the CLI in a fresh interpreter; its exit code and the modules under ``roots`` it
    imported."""
    process = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(roots), *args],
        capture_output=True,
        text=True,
        env=env or subprocess_env(),
        cwd=REPO,
        timeout=120,
    )
    report = json.loads(process.stderr.strip().splitlines()[-1])
    return report["code"], report["heavy"]


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("threads", "list"),
        ("threads", "list", "--json"),
        ("messages", "list", "THREAD"),
        ("runs", "list"),
        ("threads", "show", "THREAD"),
        ("threads", "transcript", "THREAD"),
        ("messages", "history", "MESSAGE"),
        ("audit", "verify"),
        ("audit", "usage"),
        ("assistants", "list", "--archived"),
        ("assistants", "--help"),
        ("runs", "--help"),
        ("search", "hello"),
    ],
)
def test_archive_reads_and_help_import_neither_the_sdk_nor_the_server(
    sqlite_cli: Cli, args: tuple[str, ...]
) -> None:
    thread = sqlite_cli.json("threads", "create", "--message", "hello")
    message = sqlite_cli.json("messages", "list", thread["id"])[0]
    resolved = [{"THREAD": thread["id"], "MESSAGE": message["id"]}.get(arg, arg) for arg in args]
    code, heavy = imported_by("--db", sqlite_cli.database_url, *resolved)
    assert code == 0
    assert heavy == []


@pytest.mark.parametrize(
    "args", [("--help",), ("--version",), ("threads", "--help"), ("audit", "--help"), ("db", "--help")]
)
def test_help_and_version_do_not_even_load_the_database_layer(args: tuple[str, ...]) -> None:
    """Listing commands reads no archive: no SQLAlchemy (about half of an archive read's start)."""
    code, loaded = imported_by(*args, roots=("sqlalchemy", *HEAVY))
    assert code in (0, None)
    assert loaded == []


def test_a_command_that_calls_the_api_imports_the_sdk_but_not_the_server(sqlite_cli: Cli) -> None:
    env = subprocess_env(OPENAI_API_KEY=sqlite_cli.server.api_key)
    code, heavy = imported_by(
        "--db",
        sqlite_cli.database_url,
        "--base-url",
        sqlite_cli.server.base_url,
        "threads",
        "create",
        env=env,
    )
    assert code == 0
    assert "openai" in heavy
    assert not [name for name in heavy if name.startswith(("assistdb.server", "starlette", "uvicorn"))]


def test_completion_of_commands_imports_nothing_heavy() -> None:
    env = subprocess_env(_ASSISTDB_COMPLETE="bash_complete", COMP_WORDS="assistdb thr", COMP_CWORD="1")
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "assistdb"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert "plain,threads" in process.stdout
    imported = {line.split("|")[-1].strip() for line in process.stderr.splitlines() if "|" in line}
    assert not [name for name in imported for root in HEAVY if name == root or name.startswith(root + ".")]


def complete(words: str) -> list[str]:
    """What the bash completion script would offer for ``words`` (the last one being typed)."""
    env = subprocess_env(
        _ASSISTDB_COMPLETE="bash_complete", COMP_WORDS=words, COMP_CWORD=str(len(words.split()) - 1)
    )
    process = subprocess.run(
        [sys.executable, "-m", "assistdb"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert process.returncode == 0, process.stderr
    return [line.split(",", 1)[1] for line in process.stdout.splitlines() if "," in line]


def test_completion_offers_archived_ids_of_the_right_kind(sqlite_cli: Cli) -> None:
    thread = sqlite_cli.json("threads", "create", "--message", "hello")
    message = sqlite_cli.json("messages", "list", thread["id"])[0]
    db = f"assistdb --db {sqlite_cli.database_url}"
    assert complete(f"{db} threads show thread_") == [thread["id"]]
    assert complete(f"{db} threads show {thread['id'][:-3]}") == [thread["id"]]
    assert complete(f"{db} messages show m") == [message["id"]]
    assert complete(f"{db} messages history m") == [message["id"]]
    assert complete(f"{db} runs show run_") == []
    assert complete(f"{db} threads show thread_%") == []  # LIKE wildcards are literal
    assert complete("assistdb --db sqlite:////nonexistent/x.db threads show thr") == []
