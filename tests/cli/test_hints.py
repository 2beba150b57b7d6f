"""Library errors speak library terms; the CLI words the same situations with its flags."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from assistdb import AssistDB
from assistdb.audit import import_archive
from assistdb.audit.verify import load_expected
from assistdb.cli import cli
from assistdb.cli.errors import SITUATION_HINTS
from assistdb.errors import DatabaseError, InvalidInputError
from assistdb.sync import sync_threads
from tests.cli.conftest import Cli, assert_one_line_error

PACKAGE = Path(__file__).resolve().parents[2] / "assistdb"
FLAG = re.compile(r"(?<![\w-])--[a-z]")


def library_strings() -> list[tuple[str, int, str]]:
    """Every string literal of the library (not the CLI, not the server) that is not a
    docstring, with where it is: what an app can see in an error or an outcome."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in ("cli", "server"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        found += [
            (str(path.relative_to(PACKAGE)), node.lineno, node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        ]
    return found


def test_library_messages_and_hints_name_no_cli_flag() -> None:
    assert [(path, line, value) for path, line, value in library_strings() if FLAG.search(value)] == []


def cli_command_names() -> tuple[set[str], set[str]]:
    """The CLI's top-level command names, and every command and subcommand name, from its
    click tree."""
    top = set(cli.list_commands(click.Context(cli)))
    every: set[str] = set()
    groups: list[click.Group] = [cli]
    while groups:
        group = groups.pop()
        context = click.Context(group)
        for name in group.list_commands(context):
            every.add(name)
            command = group.get_command(context, name)
            if isinstance(command, click.Group):
                groups.append(command)
    return top, every


def test_library_messages_and_hints_name_no_cli_command() -> None:
    top, every = (
        "|".join(sorted(map(re.escape, names), key=len, reverse=True)) for names in cli_command_names()
    )
    # assistdb runs wait, `assistdb audit export` or a quoted `verify` is CLI wording
    command = re.compile(rf"\bassistdb\s+(?:{top})\b|`(?:assistdb\s+)?(?:{every})(?:\s[^`]*)?`")
    assert command.search("pass the file `assistdb audit export` wrote")  # the pattern catches them
    assert command.search("pass the digits `verify` printed")
    assert command.search("wait for it with assistdb runs wait")
    assert not command.search("import an unmodified assistdb export")
    assert [(path, line, value) for path, line, value in library_strings() if command.search(value)] == []


def test_every_situation_the_cli_words_is_one_the_library_names() -> None:
    named = {value for _path, _line, value in library_strings()}
    assert sorted(situation for situation in SITUATION_HINTS if situation not in named) == []


def test_the_library_hint_names_the_argument_and_the_cli_the_flag(sqlite_cli: Cli, sqlite_url: str) -> None:
    with AssistDB(sqlite_url) as db, pytest.raises(InvalidInputError) as raised:
        sync_threads(db, workers=0)
    assert raised.value.hint == "pass workers=1 or more"

    Path(sqlite_url.removeprefix("sqlite:///")).write_bytes(b"not a database, clearly" * 100)
    with pytest.raises(DatabaseError) as damaged, AssistDB(sqlite_url) as db:
        db.threads.find()
    assert damaged.value.hint == "restore it from a backup or an export, or use another database"
    result = sqlite_cli("threads", "list")
    assert_one_line_error(result, 7, "is damaged", "pass --db with another file")


def test_serve_names_its_own_database_flag(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["serve", "--port", "0", "--database-url", f"sqlite:///{tmp_path / 'a-file' / 'x.sqlite3'}"],
        env={"ASSISTDB_SERVER_API_KEY": "sk-local"},
    )
    assert_one_line_error(result, 7, "cannot create the folder", "pass --database-url with a writable")


def test_a_bad_export_or_digest_is_hinted_in_library_terms_and_the_cli_names_its_command(
    sqlite_cli: Cli, sqlite_url: str, tmp_path: Path
) -> None:
    not_an_export = tmp_path / "notes.jsonl"
    not_an_export.write_text('{"kind": "note"}\n', encoding="utf-8")
    with AssistDB(sqlite_url) as db:
        with pytest.raises(InvalidInputError) as bad_export, not_an_export.open(encoding="utf-8") as inp:
            import_archive(db.store, inp)
        with pytest.raises(InvalidInputError) as bad_digest:
            load_expected(db.store, "nope")
    assert (bad_export.value.hint, bad_export.value.situation) == (
        "pass the file export_archive() wrote",
        "export_file",
    )
    assert bad_digest.value.situation == "expected_digest"
    assert "assistdb" not in str(bad_digest.value.hint) and "@FILE" not in str(bad_digest.value.hint)

    result = sqlite_cli("audit", "import", str(not_an_export))
    assert_one_line_error(result, 2, "not an assistdb export", "pass the file `assistdb audit export` wrote")
    result = sqlite_cli("audit", "verify", "--expect", "nope")
    assert_one_line_error(result, 2, "is not a digest", "`assistdb audit verify` printed, or @FILE")
