"""What tools print never reaches the CLI's stdout: ``runs create --wait --json`` stays one JSON
document while its tools print from Python, write to file descriptor 1 and start subprocesses,
and while their module prints on import; all of that goes to stderr instead."""

from __future__ import annotations

import json

import pytest

from assistdb.server import LocalServer
from tests.reliability.conftest import invoke, run_module

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's, on set-up calls
TOOLS = "tests.reliability.printing_tools"
SCRIPT = '/tool chatty {"word": "hi"}\n/tool chatty_async {"word": "ho"}'


def _run_args(server: LocalServer, database_url: str) -> list[str]:
    from tests.reliability.printing_tools import chatty, chatty_async

    sdk = server.client()
    assistant = sdk.beta.assistants.create(
        model="gpt-4o",
        tools=[chatty.definition(), chatty_async.definition()],  # type: ignore[list-item]
    )
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": SCRIPT}])
    return [
        *("--db", database_url, "--base-url", server.base_url),
        *("runs", "create", thread.id, "--assistant", assistant.id, "--tools", TOOLS, "--wait", "--json"),
    ]


def _assert_clean(stdout: str) -> None:
    run = json.loads(stdout)  # the whole of stdout is one JSON document
    assert run["object"] == "thread.run" and run["status"] == "completed", run


def test_a_real_process_sends_everything_its_tools_print_to_stderr(
    assistdb_server: LocalServer, sqlite_url: str
) -> None:
    result = run_module(*_run_args(assistdb_server, sqlite_url), key=assistdb_server.api_key)

    assert result.returncode == 0, result.stderr
    _assert_clean(result.stdout)
    for printed in (
        "printing_tools imported",
        "print from chatty: hi",
        "fd 1 from chatty",
        "subprocess of chatty",
        "print from chatty_async: ho",
    ):
        assert printed in result.stderr, (printed, result.stderr)


def test_in_process_python_prints_of_tools_go_to_stderr(
    assistdb_server: LocalServer, sqlite_url: str
) -> None:
    result = invoke(*_run_args(assistdb_server, sqlite_url), key=assistdb_server.api_key)

    assert result.exit_code == 0, result.output
    _assert_clean(result.stdout)
    assert "print from chatty: hi" in result.stderr and "print from chatty_async: ho" in result.stderr
