"""Failing fast and saying why: an unreachable API is reported at once with the URL as given, and
every hint names the command or flag that fixes the situation at hand."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable
from typing import Any

import openai  # noqa: F401  (imported up front: the bounds below time the failure, not the import)
import pytest
from click.testing import CliRunner, Result

from assistdb.cli import cli
from assistdb.server import LocalServer
from assistdb.store import Store
from tests.cli.conftest import CLEARED, Cli, assert_one_line_error, subprocess_env


@pytest.fixture
def closed_url() -> str:
    """A base URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def invoke(database_url: str, base_url: str, *args: str, key: str = "sk-test") -> tuple[Result, float]:
    env: dict[str, str | None] = dict.fromkeys(CLEARED)
    env["OPENAI_API_KEY"] = key
    started = time.monotonic()
    result = CliRunner().invoke(
        cli, ["--db", database_url, "--base-url", base_url, *args], env=env, catch_exceptions=False
    )
    return result, time.monotonic() - started


def test_a_refused_connection_fails_at_once_naming_the_url_and_the_flag(
    sqlite_url: str, closed_url: str
) -> None:
    result, took = invoke(sqlite_url, closed_url, "assistants", "list")
    line = assert_one_line_error(result, 4, f"at {closed_url}: connection refused", "--base-url")
    assert took < 3, f"took {took:.1f} s: {line}"
    # Retries stay for what may pass (timeouts, 429, 5xx); none of them changes this answer.
    result, took = invoke(sqlite_url, closed_url, "--max-retries", "10", "assistants", "show", "asst_x")
    assert_one_line_error(result, 4, "connection refused")
    assert took < 3


def test_an_unknown_host_fails_without_retries(sqlite_url: str) -> None:
    result, took = invoke(sqlite_url, "http://assistdb-test.invalid/v1", "threads", "create")
    assert_one_line_error(result, 4, "http://assistdb-test.invalid/v1", "--base-url")
    assert took < 10


def test_sync_all_stops_at_the_first_unreachable_answer(sqlite_url: str, closed_url: str) -> None:
    store = Store(sqlite_url)
    try:
        store.tracking.track([f"thread_{n:024d}" for n in range(200)])
    finally:
        store.close()
    result, took = invoke(sqlite_url, closed_url, "threads", "sync", "--all")
    assert_one_line_error(result, 4, "connection refused")
    assert took < 5, f"took {took:.1f} s"


def test_a_base_url_without_v1_is_named(sqlite_cli: Cli) -> None:
    without_v1 = sqlite_cli.server.base_url.removesuffix("/v1")
    result, _ = invoke(
        sqlite_cli.database_url, without_v1, "assistants", "list", key=sqlite_cli.server.api_key
    )
    assert_one_line_error(result, 3, "Invalid URL", "end in /v1")


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("assistants", "show", "asst_nope"), "`assistdb assistants list`"),
        (("assistants", "delete", "asst_nope", "--yes"), "`assistdb assistants list`"),
        (("threads", "show", "thread_nope", "--remote"), "`assistdb threads list`"),
        (("messages", "add", "thread_nope", "hi"), "`assistdb threads list`"),
        (("runs", "show", "run_nope", "--thread", "thread_nope", "--remote"), "`assistdb threads list`"),
    ],
)
def test_a_missing_object_hint_names_the_list_of_its_own_kind(
    sqlite_cli: Cli, args: tuple[str, ...], names: str
) -> None:
    line = assert_one_line_error(sqlite_cli(*args), 3, names)
    assert line.count("(") == 1  # one hint, no nested parentheses


def test_archive_misses_hint_at_what_fills_the_archive(sqlite_cli: Cli) -> None:
    assert_one_line_error(sqlite_cli("threads", "show", "thread_nope"), 3, "--remote")
    assert_one_line_error(sqlite_cli("messages", "list", "thread_nope"), 3, "threads track")
    assert_one_line_error(sqlite_cli("runs", "show", "run_nope"), 3, "threads sync")


def test_a_timed_out_wait_suggests_the_timeout_flag_not_a_python_argument(sqlite_cli: Cli) -> None:
    assistant = sqlite_cli.json("assistants", "create", "--name", "slow", "--model", "gpt-4o")
    thread = sqlite_cli.json("threads", "create", "--message", "/sleep 30")
    result = sqlite_cli(
        "runs", "create", thread["id"], "--assistant", assistant["id"], "--wait", "--timeout", "0.5"
    )
    line = assert_one_line_error(result, 5, "--timeout")
    assert "cancel_on_timeout" not in line


def test_no_key_error_has_one_pair_of_parentheses(sqlite_cli: Cli) -> None:
    line = assert_one_line_error(sqlite_cli("assistants", "list", key=None), 2, "OPENAI_API_KEY")
    assert line.count("(") == 1


@pytest.fixture
def slow_server(assistdb_server_factory: Callable[..., LocalServer]) -> LocalServer:
    return assistdb_server_factory(latency=5.0)


def test_ctrl_c_returns_within_a_second_while_workers_wait_on_the_api(
    sqlite_url: str, slow_server: LocalServer, assistdb_process: Callable[..., Any]
) -> None:
    store = Store(sqlite_url)
    try:
        store.tracking.track([f"thread_{n:024d}" for n in range(50)])
    finally:
        store.close()
    env = subprocess_env(OPENAI_API_KEY=slow_server.api_key)
    process = assistdb_process(
        "--db", sqlite_url, "--base-url", slow_server.base_url, "threads", "sync", "--all", env=env
    )
    time.sleep(4)  # started, and its workers are waiting for answers
    assert process.poll() is None, process.stderr.read()
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    took = time.monotonic() - started
    assert process.returncode == 130, stderr
    assert took < 1.5, f"took {took:.1f} s"
    assert stderr.strip().startswith("error: interrupted") and "Traceback" not in stderr
