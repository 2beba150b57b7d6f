"""``assistdb chat`` as a real process with stdin piped, the way scripts and people drive it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistdb.repositories import api
from tests.cli.conftest import Cli, assert_one_line_error, subprocess_env
from tests.cli.terminal import start_terminal

Start = Callable[..., "subprocess.Popen[str]"]


def start_chat(cli: Cli, start: Start, *args: str) -> subprocess.Popen[str]:
    return start(
        "--db", cli.database_url, "--base-url", cli.server.base_url, "chat", *args,
        env=subprocess_env(OPENAI_API_KEY=cli.server.api_key),
        stdin=subprocess.PIPE,
    )  # fmt: skip


def test_each_line_is_a_message_and_only_replies_reach_stdout(run_cli: Cli, assistdb_process: Start) -> None:
    assistant = run_cli.json(
        "assistants", "create", "--name", "c", "--model", "gpt-4o", "--tools", "tests.cli.weather_tools"
    )
    chat = start_chat(run_cli, assistdb_process, assistant["id"], "--tools", "tests.cli.weather_tools")
    stdout, stderr = chat.communicate(
        'hello there\n\n/tool get_weather {"city": "Oslo"}\n/exit\nnot sent\n', 120
    )
    assert chat.returncode == 0, stderr
    replies = stdout.strip().splitlines()
    assert len(replies) == 2, stdout
    assert "hello there" in replies[0]
    assert '"city":"Oslo"' in replies[1] and "rain" in replies[1]
    thread_id = stderr.split(" in ")[1].split()[0]
    messages = run_cli.json("messages", "list", thread_id)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]


def test_continue_a_thread_and_report_a_failed_run_with_exit_5(
    sqlite_cli: Cli, assistdb_process: Start
) -> None:
    assistant = sqlite_cli.json("assistants", "create", "--name", "c", "--model", "gpt-4o")
    thread = sqlite_cli.json("threads", "create")
    chat = start_chat(sqlite_cli, assistdb_process, assistant["id"], "--thread", thread["id"])
    stdout, stderr = chat.communicate("/fail out of ideas\nstill there?\n", 120)  # ends at EOF
    assert chat.returncode == 5, stderr
    assert "still there?" in stdout
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "ended failed" in errors[0] and "out of ideas" in errors[0]  # once
    assert len(sqlite_cli.json("runs", "list", "--thread", thread["id"])) == 2


def test_ctrl_c_cancels_the_running_run_and_exits_130(sqlite_cli: Cli, assistdb_process: Start) -> None:
    assistant = sqlite_cli.json("assistants", "create", "--name", "c", "--model", "gpt-4o")
    thread = sqlite_cli.json("threads", "create")
    chat = start_chat(sqlite_cli, assistdb_process, assistant["id"], "--thread", thread["id"])
    assert chat.stdin is not None
    chat.stdin.write("/sleep 60\n")
    chat.stdin.flush()
    runs: list[Any] = []
    deadline = time.monotonic() + 60
    while not runs and time.monotonic() < deadline and chat.poll() is None:
        runs = list(api.call(sqlite_cli.sdk.beta.threads.runs.list, thread["id"]).data)
        time.sleep(0.1)
    assert runs, "the chat never started a run"
    time.sleep(0.5)
    chat.send_signal(signal.SIGINT)
    _, stderr = chat.communicate(timeout=60)
    assert chat.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith("error: interrupted")
    final = api.call(sqlite_cli.sdk.beta.threads.runs.retrieve, runs[0].id, thread_id=thread["id"])
    assert final.status in ("cancelling", "cancelled")


def test_an_unknown_assistant_fails_before_any_thread_is_made(sqlite_cli: Cli) -> None:
    before = sqlite_cli.archive()
    result = sqlite_cli("chat", "asst_nope", input="hello\n")
    assert_one_line_error(result, 3)
    assert result.stdout == ""
    assert sqlite_cli.server.stats()["by_route"].get("POST /v1/threads", 0) == 0
    assert sqlite_cli.archive() == before


def test_a_line_that_is_not_utf8_ends_the_chat_with_exit_2(sqlite_cli: Cli) -> None:
    assistant = sqlite_cli.json("assistants", "create", "--name", "c", "--model", "gpt-4o")
    args = ("--db", sqlite_cli.database_url, "--base-url", sqlite_cli.server.base_url)
    args += ("chat", assistant["id"])
    chat = subprocess.run(
        [sys.executable, "-m", "assistdb", *args],
        input=b"first line\nbad \xff line\nnever sent\n",
        capture_output=True,
        env=subprocess_env(OPENAI_API_KEY=sqlite_cli.server.api_key),
        timeout=120,
        check=False,
    )
    errors = chat.stderr.decode().splitlines()
    assert chat.returncode == 2, errors
    assert errors[-1].startswith("error: a chat line on standard input is not UTF-8 text (byte 5) ("), errors
    assert "first line" in chat.stdout.decode() and "never sent" not in chat.stdout.decode()


def test_a_tool_call_without_tools_is_refused_and_the_thread_stays_usable(
    sqlite_cli: Cli, assistdb_process: Start, tmp_path: Path
) -> None:
    assistant = sqlite_cli.json(
        "assistants", "create", "--name", "c", "--model", "gpt-4o", "--tools", "tests.cli.weather_tools"
    )
    saved = tmp_path / "chat.md"
    saved.write_text("# my notes\n")
    chat = start_chat(sqlite_cli, assistdb_process, assistant["id"], "--save", str(saved))
    stdout, stderr = chat.communicate('/tool get_weather {"city": "Oslo"}\nand now?\n', 120)
    assert chat.returncode == 5, stderr
    assert "asked for get_weather" in stderr and "--tools" in stderr and "cancelled" in stderr
    assert "Can't add messages" not in stderr and "and now?" in stdout
    thread_id = stderr.split(" in ")[1].split()[0]
    statuses = [run["status"] for run in sqlite_cli.json("runs", "list", "--thread", thread_id)]
    assert statuses == ["completed", "cancelled"]  # newest first
    text = saved.read_text()
    assert text.startswith("# my notes\n") and "**you**: and now?" in text and "You said: and now?" in text


def test_a_person_at_a_terminal_edits_lines_recalls_them_and_uses_slash_commands(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    assistant = sqlite_cli.json("assistants", "create", "--name", "c", "--model", "gpt-4o")
    env = {"OPENAI_API_KEY": sqlite_cli.server.api_key, "XDG_DATA_HOME": str(tmp_path)}
    args = (
        "--db",
        sqlite_cli.database_url,
        "--base-url",
        sqlite_cli.server.base_url,
        "chat",
        assistant["id"],
    )
    terminal = start_terminal(*args, env=env)
    terminal.read_until("you> ")
    terminal.type("helo\x1b[D\x1b[Dl\r")  # two Left arrows, then insert an "l": "hello"
    terminal.read_until("You said: hello")  # streamed in as the deltas came
    terminal.read_until("you> ")
    terminal.type("/tools\r")
    terminal.read_until("no tools")
    terminal.read_until("you> ")  # keys typed before the prompt would meet a terminal not in raw mode
    terminal.type("/runs\r")
    terminal.read_until("completed")
    terminal.read_until("you> ")
    terminal.type("\x1b[A\x1b[A\x1b[A\r")  # Up three times: "hello" again
    terminal.read_until("You said: hello", timeout=60)
    output = terminal.read_until("you> ")
    assert output.count("You said: hello") == 2 and "^[[A" not in output
    terminal.type("/exit\r")
    code, _ = terminal.finish()
    assert code == 0
    assert "hello" in (tmp_path / "assistdb" / "chat_history").read_text()


def test_a_streamed_run_shows_its_text_deltas_to_the_caller(sqlite_cli: Cli) -> None:
    from assistdb.facades import AssistDB

    with AssistDB(sqlite_cli.database_url, client=sqlite_cli.server.client()) as db:
        assistant = db.assistants.create(model="gpt-4o", name="c")
        thread = db.threads.create(messages=[{"role": "user", "content": "stream this reply to me"}])
        events: list[Any] = []
        run = db.runs.create_and_wait(
            thread.id, assistant_id=assistant.id, stream=True, on_event=events.append
        )
        assert run.status == "completed"
        deltas = "".join(
            part.text.value
            for event in events
            if event.event == "thread.message.delta"
            for part in event.data.delta.content or ()
            if part.type == "text"
        )
        reply = next(m for m in db.messages.find(thread.id, run_id=run.id) if m.role == "assistant")
        assert deltas == reply.content[0].text.value == "You said: stream this reply to me"  # type: ignore[union-attr]
