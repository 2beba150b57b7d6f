"""``assistdb audit`` and ``threads transcript``: verification, diffs, usage, export and import."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import text

from assistdb.repositories import api
from assistdb.store import Store
from tests.cli.conftest import Cli, assert_one_line_error
from tests.store.test_tamper_evidence import behind_the_triggers

WEATHER = '/tool get_weather {"city": "Paris"}'
TOOLS = "tests.cli.weather_tools"


def conversation(cli: Cli) -> tuple[str, str]:
    """A thread with one completed run that called a tool; returns (assistant ID, thread ID)."""
    assistant = cli.json("assistants", "create", "--name", "w", "--model", "gpt-4o", "--tools", TOOLS)
    thread = cli.json("threads", "create", "--message", WEATHER)
    cli.ok("runs", "create", thread["id"], "--assistant", assistant["id"], "--tools", TOOLS, "--wait")
    return assistant["id"], thread["id"]


def tamper(database_url: str, statement: str) -> None:
    store = Store(database_url)
    try:
        with behind_the_triggers(store) as connection:
            connection.execute(text(statement))
    finally:
        store.close()


def test_verify_passes_then_names_the_first_bad_row_of_each_broken_chain(run_cli: Cli) -> None:
    _, thread_id = conversation(run_cli)
    other = run_cli.json("threads", "create", "--message", "hi")
    report = run_cli.json("audit", "verify")
    assert report["ok"] is True and report["problems"] == [] and report["chains"] == 3
    assert run_cli.ok("audit", "verify").stdout.startswith("ok: 3 chain(s)")
    assert run_cli.json("audit", "verify", "--thread", thread_id)["chains"] == 1

    message_id = run_cli.json("messages", "list", other["id"])[0]["id"]
    tamper(
        run_cli.database_url,
        f"UPDATE versions SET body = replace(body, 'hi', 'ho') WHERE object_id = '{message_id}'",
    )
    tamper(run_cli.database_url, f"DELETE FROM versions WHERE chain_id = '{thread_id}' AND chain_seq = 2")
    result = run_cli("audit", "verify")
    assert_one_line_error(result, 6, "2 of 3 chain(s) do not verify")
    problems = result.stdout.strip().splitlines()
    assert len(problems) == 2
    assert any(
        line.startswith(f"chain {other['id']} seq ") and f"altered ({message_id})" in line
        for line in problems
    )
    assert any(line.startswith(f"chain {thread_id} seq 2: ") and "removed" in line for line in problems)
    as_json = run_cli("audit", "verify", "--json")
    assert as_json.exit_code == 6
    kinds = {problem["chain_id"]: problem["kind"] for problem in json.loads(as_json.stdout)["problems"]}
    assert kinds == {other["id"]: "altered", thread_id: "removed"}
    assert_one_line_error(run_cli("audit", "verify", "--thread", "thread_unknown"), 3)


def test_transcript_usage_and_diff(run_cli: Cli) -> None:
    assistant_id, thread_id = conversation(run_cli)
    markdown = run_cli.ok("threads", "transcript", thread_id).stdout
    assert markdown.startswith(f"# Thread {thread_id}")
    assert "get_weather" in markdown and '{"city":"Paris","sky":"rain"}' in markdown
    transcript = json.loads(run_cli.ok("threads", "transcript", thread_id, "--format", "json").stdout)
    assert transcript["thread_id"] == thread_id

    usage = run_cli.json("audit", "usage")
    assert [row["key"] for row in usage["rows"]] == [assistant_id]
    assert usage["total"]["runs"] == 1 and usage["total"]["total_tokens"] > 0
    assert [row["key"] for row in run_cli.json("audit", "usage", "--by", "model")["rows"]] == ["gpt-4o"]
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    assert run_cli.json("audit", "usage", "--since", tomorrow)["rows"] == []
    table = run_cli.ok("audit", "usage", "--by", "thread").stdout.splitlines()
    assert table[0].split() == ["THREAD", "RUNS", "PROMPT", "COMPLETION", "TOTAL"]
    assert table[1].startswith(thread_id) and table[2].startswith("total")

    assert run_cli.json("audit", "diff", thread_id)["new"] == []
    api.call(run_cli.sdk.beta.threads.messages.create, thread_id, role="user", content="later")
    before = run_cli.archive()
    diff = run_cli.json("audit", "diff", thread_id)
    assert [(change["object_type"]) for change in diff["new"]] == ["message"]
    assert "1 new" in run_cli.ok("audit", "diff", thread_id).stdout
    assert run_cli.archive() == before  # a diff writes nothing


def test_export_then_import_is_lossless(run_cli: Cli, tmp_path: Path) -> None:
    _, thread_id = conversation(run_cli)
    exported = tmp_path / "archive.jsonl"
    result = run_cli.ok("audit", "export", str(exported))
    assert result.stdout == "" and "exported" in result.stderr
    to_stdout = run_cli.ok("audit", "export")
    assert to_stdout.stdout == exported.read_text(encoding="utf-8")  # nothing but the rows on stdout
    assert all(json.loads(line) for line in to_stdout.stdout.splitlines())
    one_thread = run_cli.ok("audit", "export", "-", "--thread", thread_id).stdout
    assert 0 < len(one_thread.splitlines()) < len(to_stdout.stdout.splitlines())

    target = Cli(run_cli.server, f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    imported = target.ok("audit", "import", str(exported))
    assert imported.stdout == "" and "imported" in imported.stderr
    assert target.json("audit", "verify")["ok"] is True
    assert target.ok("audit", "export").stdout == to_stdout.stdout
    again = target.archive()
    assert_one_line_error(target("audit", "import", str(exported)), 2, "not empty")
    assert target.archive() == again


def test_import_refuses_bad_files_and_writes_nothing(sqlite_cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"kind": "header"}\nnot json\n', encoding="utf-8")
    before = sqlite_cli.archive()
    assert_one_line_error(sqlite_cli("audit", "import", str(broken)), 2)
    assert_one_line_error(sqlite_cli("audit", "import", str(tmp_path / "missing.jsonl")), 2, "does not exist")
    assert sqlite_cli.archive() == before
    assert_one_line_error(sqlite_cli("audit", "export", str(tmp_path / "no" / "dir" / "x.jsonl")), 2)
    assert not (tmp_path / "no").exists()


def test_usage_groupings_offered_by_the_cli_are_the_librarys() -> None:
    from typing import get_args

    from assistdb.audit.usage import GroupBy
    from assistdb.cli.audit import GROUPINGS

    assert get_args(GroupBy) == GROUPINGS
