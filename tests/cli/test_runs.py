"""``assistdb runs``: runs driven to their end with Python tools, resumed, cancelled, inspected."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli, assert_one_line_error

TOOLS = "tests.cli.weather_tools:registry"
WEATHER = '/tool get_weather {"city": "Paris"}'


def setup(cli: Cli, message: str) -> tuple[str, str]:
    """An assistant with the test tools, and a thread holding ``message``."""
    assistant = cli.json("assistants", "create", "--name", "w", "--model", "gpt-4o", "--tools", TOOLS)
    thread = cli.json("threads", "create", "--message", message)
    return assistant["id"], thread["id"]


def test_create_and_wait_answers_tool_calls_and_archives_everything(run_cli: Cli) -> None:
    assistant_id, thread_id = setup(run_cli, WEATHER)
    result = run_cli.ok("runs", "create", thread_id, "--assistant", assistant_id, "--tools", TOOLS, "--wait")
    assert "status:     completed" in result.stdout
    assert '{"city":"Paris","sky":"rain"}' in result.stdout  # the reply quotes the tool output
    run = run_cli.json("runs", "list", "--thread", thread_id)[0]
    assert run["object"] == "thread.run" and run["status"] == "completed"
    steps = run_cli.json("runs", "steps", run["id"])
    kinds = [step["step_details"]["type"] for step in steps]
    assert kinds == ["tool_calls", "message_creation"]
    call = steps[0]["step_details"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather" and "rain" in call["function"]["output"]
    assert run_cli.json("runs", "steps", run["id"], "--remote") == steps
    replies = run_cli.json("messages", "list", thread_id, "--run", run["id"])
    assert [message["role"] for message in replies] == ["assistant"]
    table = run_cli.ok("runs", "steps", run["id"]).stdout
    assert 'get_weather({"city": "Paris"})' in table


@pytest.mark.parametrize("flags", [("--wait", "--json"), ("--stream", "--json")])
def test_json_output_is_the_final_run(sqlite_cli: Cli, flags: tuple[str, ...]) -> None:
    assistant_id, thread_id = setup(sqlite_cli, "hello there")
    result = sqlite_cli.ok(
        "runs", "create", thread_id, "--assistant", assistant_id, "--metadata", "k=v", *flags
    )
    run = json.loads(result.stdout)
    assert (run["status"], run["metadata"], run["thread_id"]) == ("completed", {"k": "v"}, thread_id)
    assert run["usage"]["total_tokens"] > 0


def test_create_without_wait_returns_at_once(sqlite_cli: Cli) -> None:
    assistant_id, thread_id = setup(sqlite_cli, "hello")
    run = sqlite_cli.json("runs", "create", thread_id, "--assistant", assistant_id, "--model", "gpt-4.1")
    assert run["status"] in ("queued", "in_progress")
    assert run["model"] == "gpt-4.1"
    assert sqlite_cli.json("runs", "show", run["id"]) == run
    finished = sqlite_cli.json("runs", "wait", run["id"])
    assert finished["status"] == "completed"
    assert sqlite_cli.json("runs", "show", run["id"]) == finished


@pytest.mark.parametrize(
    ("message", "status", "reason"),
    [
        ("/fail the model broke", "failed", "the model broke"),
        ("/incomplete", "incomplete", "ended incomplete"),
    ],
)
def test_a_run_that_does_not_complete_exits_5(run_cli: Cli, message: str, status: str, reason: str) -> None:
    assistant_id, thread_id = setup(run_cli, message)
    result = run_cli("runs", "create", thread_id, "--assistant", assistant_id, "--wait", "--json")
    assert_one_line_error(result, 5, f"ended {status}", reason, "runs steps")
    assert json.loads(result.stdout)["status"] == status  # the final run still reaches stdout
    assert run_cli.json("runs", "list", "--status", status)[0]["thread_id"] == thread_id


def test_a_run_waiting_for_tools_is_resumed_by_wait(sqlite_cli: Cli) -> None:
    assistant_id, thread_id = setup(sqlite_cli, WEATHER)
    result = sqlite_cli("runs", "create", thread_id, "--assistant", assistant_id, "--wait", "--json")
    line = assert_one_line_error(result, 5, "waiting for the outputs of get_weather", "--tools")
    run_id = line.split()[2]
    done = sqlite_cli.json("runs", "wait", run_id, "--tools", TOOLS)
    assert done["status"] == "completed"


def test_timeout_cancels_and_exits_5(sqlite_cli: Cli) -> None:
    assistant_id, thread_id = setup(sqlite_cli, "/sleep 30")
    result = sqlite_cli(
        "runs", "create", thread_id, "--assistant", assistant_id, "--wait", "--timeout", "0.3"
    )
    assert_one_line_error(result, 5)
    run = sqlite_cli.json("runs", "list", "--thread", thread_id)[0]
    assert run["status"] in ("cancelling", "cancelled")


def test_cancel(sqlite_cli: Cli) -> None:
    assistant_id, thread_id = setup(sqlite_cli, "/sleep 30")
    run = sqlite_cli.json("runs", "create", thread_id, "--assistant", assistant_id)
    cancelled = sqlite_cli.json("runs", "cancel", run["id"])
    assert cancelled["status"] in ("cancelling", "cancelled")
    assert sqlite_cli.json("runs", "show", run["id"])["status"] == cancelled["status"]


def test_unknown_runs_and_bad_options(sqlite_cli: Cli) -> None:
    before = sqlite_cli.archive()
    assert_one_line_error(sqlite_cli("runs", "show", "run_nope"), 3, "archive has no run run_nope")
    assert_one_line_error(sqlite_cli("runs", "show", "run_nope", "--remote"), 2, "which thread")
    assert_one_line_error(sqlite_cli("runs", "show", "run_nope", "--remote", "--thread", "thread_nope"), 3)
    assert_one_line_error(
        sqlite_cli("runs", "create", "thread_x", "--assistant", "asst_x", "--tools", "no_such_mod"), 2
    )
    assert_one_line_error(sqlite_cli("runs", "create", "thread_x"), 2, "--assistant")
    assert_one_line_error(sqlite_cli("runs", "list", "--thread", "asst_1"), 2, "assistant ID")
    assert sqlite_cli.archive() == before
