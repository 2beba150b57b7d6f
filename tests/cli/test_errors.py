"""The CLI's contract for failures: one line, a hint, the documented exit code, no traceback
(unless -v), no key in any output, and nothing half-written."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner
from sqlalchemy import text

from assistdb.cli import cli
from assistdb.cli.errors import EXIT_CODES
from assistdb.repositories import api
from assistdb.server import LocalServer
from assistdb.store import Store
from tests.cli.conftest import CLEARED, Cli, assert_one_line_error, subprocess_env
from tests.store.test_tamper_evidence import behind_the_triggers

SECRET = "sk-very-secret-key-0123456789"


def test_help_documents_every_exit_code_and_version() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for code, meaning in EXIT_CODES.items():
        assert f"{code:<4} {meaning}" in result.stdout
    version = CliRunner().invoke(cli, ["--version"])
    assert version.exit_code == 0 and version.stdout.startswith("assistdb, version ")


def test_usage_errors_are_one_line_exit_2() -> None:
    env = dict.fromkeys(CLEARED)
    runner = CliRunner()
    assert_one_line_error(runner.invoke(cli, ["nosuch"], env=env), 2, "No such command 'nosuch'", "--help")
    assert_one_line_error(runner.invoke(cli, ["--bogus"], env=env), 2, "No such option '--bogus'")
    assert_one_line_error(runner.invoke(cli, ["threads", "list", "--limit", "0"], env=env), 2, "--limit")
    assert_one_line_error(runner.invoke(cli, ["--timeout", "-1", "threads", "list"], env=env), 2, "--timeout")
    # Asking for nothing is not an error: the help goes to stdout (pipe it to less) with exit 0.
    for bare_args in ([], ["threads"]):
        bare = runner.invoke(cli, bare_args, env=env)
        assert bare.exit_code == 0 and "Commands:" in bare.stdout and bare.stderr == ""


def test_a_remote_command_without_a_key_is_exit_2_and_archive_reads_need_none(sqlite_cli: Cli) -> None:
    assert_one_line_error(sqlite_cli("threads", "create", key=None), 2, "no API key", "OPENAI_API_KEY")
    azure = sqlite_cli("--azure-endpoint", "https://example.openai.azure.com", "threads", "create")
    assert_one_line_error(azure, 2, "Azure OpenAI needs an API version", "--api-version")
    listed = sqlite_cli("threads", "list", "--json", key=None)
    assert listed.exit_code == 0 and listed.stdout.strip() == "[]"


def test_a_rejected_key_is_exit_4_and_never_printed(
    assistdb_server_factory: Callable[..., LocalServer], sqlite_url: str
) -> None:
    server = assistdb_server_factory(api_key="sk-the-right-key-000")
    client = Cli(server, sqlite_url)
    before = client.archive()
    result = client("assistants", "list", key=SECRET)
    assert_one_line_error(result, 4, "rejected the key", "OPENAI_API_KEY")
    verbose = client("-v", "assistants", "list", key=SECRET)
    assert verbose.exit_code == 4 and "DEBUG" in verbose.stderr and "Traceback" in verbose.stderr
    for output in (result.output, verbose.output):
        assert SECRET not in output
    assert client.archive() == before


def test_an_unexpected_failure_is_exit_1_with_the_traceback_only_under_verbose(sqlite_cli: Cli) -> None:
    thread = sqlite_cli.json("threads", "create")
    store = Store(sqlite_cli.database_url)
    try:
        with behind_the_triggers(store) as connection:  # damage the archive behind assistdb's back
            connection.execute(text("UPDATE versions SET body = 'not json'"))
    finally:
        store.close()
    line = assert_one_line_error(sqlite_cli("threads", "show", thread["id"]), 1)
    assert line.startswith("internal error: JSONDecodeError") and line.endswith(
        "(run with -v for the traceback)"
    )
    verbose = sqlite_cli("-v", "threads", "show", thread["id"])
    assert verbose.exit_code == 1 and "Traceback (most recent call last)" in verbose.stderr


def test_ctrl_c_while_waiting_cancels_the_run_and_exits_130(
    run_cli: Cli, assistdb_process: Callable[..., Any]
) -> None:
    assistant = run_cli.json("assistants", "create", "--name", "slow", "--model", "gpt-4o")
    thread = run_cli.json("threads", "create", "--message", "/sleep 60")
    env = subprocess_env(OPENAI_API_KEY=run_cli.server.api_key)
    process = assistdb_process(
        "--db", run_cli.database_url, "--base-url", run_cli.server.base_url,
        "runs", "create", thread["id"], "--assistant", assistant["id"], "--wait",
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    runs: list[Any] = []
    while not runs and time.monotonic() < deadline:
        runs = list(api.call(run_cli.sdk.beta.threads.runs.list, thread["id"]).data)
        time.sleep(0.1)
    assert runs, process.stderr.read() if process.poll() is not None else "no run started"
    time.sleep(0.5)  # let the CLI reach its wait
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted") and lines[0].endswith(")"), stderr
    assert "Traceback" not in stderr and stdout == ""
    final = api.call(run_cli.sdk.beta.threads.runs.retrieve, runs[0].id, thread_id=thread["id"])
    assert final.status in ("cancelling", "cancelled")
    archived = run_cli.json("runs", "show", runs[0].id)
    assert archived["status"] in ("cancelling", "cancelled")
