"""Tables at a terminal: IDs are never wrapped or cut (they must stay copyable), long text is cut
with an ellipsis instead, status is coloured on a terminal and plain when piped or NO_COLOR."""

from __future__ import annotations

import re

import pytest

from tests.cli.conftest import Cli
from tests.cli.terminal import start_terminal

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG_TEXT = "a long message that goes on " * 12


@pytest.fixture
def busy_thread(sqlite_cli: Cli) -> dict[str, str]:
    assistant = sqlite_cli.json("assistants", "create", "--name", "bot", "--model", "gpt-4o")
    thread = sqlite_cli.json("threads", "create", "--message", LONG_TEXT, "--metadata", "topic=" + "x" * 200)
    run = sqlite_cli.json("runs", "create", thread["id"], "--assistant", assistant["id"], "--wait")
    return {"thread": thread["id"], "run": run["id"], "assistant": assistant["id"]}


@pytest.mark.parametrize("columns", [80, 120])
def test_ids_stay_whole_and_text_is_cut_at_the_terminal_width(
    sqlite_cli: Cli, busy_thread: dict[str, str], columns: int
) -> None:
    for args, ids in [
        (("threads", "list"), [busy_thread["thread"]]),
        (("messages", "list", busy_thread["thread"]), []),
        (
            ("runs", "list"),
            [busy_thread["run"], busy_thread["thread"], busy_thread["assistant"], "completed"],
        ),
    ]:
        terminal = start_terminal(
            "--db", sqlite_cli.database_url, *args, columns=columns, env={"NO_COLOR": "1"}
        )
        code, output = terminal.finish()
        assert code == 0, output
        lines = output.replace("\r\n", "\n").strip("\n").split("\n")
        assert len(lines) >= 2, output
        if args[0] != "runs" or columns >= 120:  # three IDs need 94 columns: lines grow, IDs stay whole
            assert all(len(line) <= columns for line in lines), output
        for object_id in ids:
            assert any(object_id in line for line in lines), (object_id, output)
        if args[0] == "messages":
            message_ids = [line.split()[0] for line in lines[1:]]
            assert all(re.fullmatch(r"msg_[A-Za-z0-9]+", found) for found in message_ids), output
            assert "…" in output  # the long text is cut, not wrapped


def test_piped_tables_are_whole_and_plain(sqlite_cli: Cli, busy_thread: dict[str, str]) -> None:
    stdout = sqlite_cli.ok("messages", "list", busy_thread["thread"]).stdout
    assert "\x1b" not in stdout
    assert len(stdout.splitlines()) == 3  # header, the question, the reply: one line each
    assert sqlite_cli.ok("runs", "list").stdout.split("\n")[1].split()[3] == "completed"


def test_status_is_coloured_on_a_terminal_unless_no_color(
    sqlite_cli: Cli, busy_thread: dict[str, str]
) -> None:
    code, coloured = start_terminal("--db", sqlite_cli.database_url, "runs", "list").finish()
    assert code == 0 and "\x1b[32mcompleted" in coloured, repr(coloured)
    code, plain = start_terminal(
        "--db", sqlite_cli.database_url, "runs", "list", env={"NO_COLOR": "1"}
    ).finish()
    assert code == 0 and not ANSI.search(plain) and "completed" in plain
