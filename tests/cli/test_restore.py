"""``assistdb restore``: archived objects answer again from ``assistdb serve`` with the same IDs.

The archive is made the real way: a local server plays the API, the SDK makes objects on it
(runs with tool calls, a run left active), and the sync archives them. Then the archive (or an
export of it, or raw object files) is restored into a fresh server database, on SQLite and on
PostgreSQL, and a second server answers the SDK from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from assistdb import AssistDB
from assistdb.cli import cli
from assistdb.server import LocalServer
from assistdb.server.backends.chat_completions import UpstreamSettings
from assistdb.server.backends.scripted_upstream import Reply, ScriptedUpstream
from assistdb.store import Store
from assistdb.store.objects import API_OBJECT_OF_TYPE
from assistdb.sync import pull_assistants, sync_thread
from tests.store.test_tamper_evidence import behind_the_triggers

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PARALLEL_ROUNDS = '/tool weather {"city": "Oslo"}\n/tool weather {"city": "Rome"}\n/then\n/tool weather {}'
TOOLS: Any = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]


@dataclass
class Archived:
    url: str
    assistant_ids: list[str]
    thread_ids: list[str]
    active_run: str

    def bodies(self, object_type: Any, **filters: Any) -> list[dict[str, Any]]:
        from assistdb.store import Filters

        store = Store(self.url)
        try:
            return [v.body for v in store.reader.find(object_type, Filters(**filters))]
        finally:
            store.close()


def restore(*args: str) -> Result:
    return CliRunner().invoke(cli, ["restore", *args], env={"ASSISTDB_SERVER_DATABASE_URL": None})


@pytest.fixture
def archived(tmp_path: Path, assistdb_server_factory: Callable[..., LocalServer]) -> Archived:
    """An archive of two assistants and three threads: plain replies, two rounds of parallel
    tool calls, and a run still waiting for tool outputs when it was archived."""
    source = assistdb_server_factory()
    sdk = source.client()
    assistant = sdk.beta.assistants.create(
        model="gpt-4o", name="helper", instructions="Be brief.", tools=TOOLS
    )
    other = sdk.beta.assistants.create(model="gpt-4o-mini", metadata={"team": "b"})
    plain = sdk.beta.threads.create(metadata={"user": "ann"})
    for words in ("first", "second", "third"):
        sdk.beta.threads.messages.create(plain.id, role="user", content=words)
    sdk.beta.threads.runs.create_and_poll(thread_id=plain.id, assistant_id=assistant.id, poll_interval_ms=20)
    sdk.beta.threads.messages.create(plain.id, role="user", content="and again")
    sdk.beta.threads.runs.create_and_poll(thread_id=plain.id, assistant_id=other.id, poll_interval_ms=20)

    tools = sdk.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": PARALLEL_ROUNDS,
            }
        ]
    )
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=tools.id, assistant_id=assistant.id, poll_interval_ms=20
    )
    while run.status == "requires_action":
        assert run.required_action is not None
        outputs: Any = [
            {"tool_call_id": call.id, "output": f"sunny {n}"}
            for n, call in enumerate(run.required_action.submit_tool_outputs.tool_calls)
        ]
        run = sdk.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=tools.id, run_id=run.id, tool_outputs=outputs, poll_interval_ms=20
        )
    assert run.status == "completed"

    waiting = sdk.beta.threads.create(messages=[{"role": "user", "content": "/tool weather {}"}])
    active = sdk.beta.threads.runs.create_and_poll(
        thread_id=waiting.id, assistant_id=assistant.id, poll_interval_ms=20
    )
    assert active.status == "requires_action"

    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    with AssistDB(url, client=sdk) as db:
        pull_assistants(db)
        for thread_id in (plain.id, tools.id, waiting.id):
            assert sync_thread(db, thread_id).error is None
    return Archived(url, [assistant.id, other.id], [plain.id, tools.id, waiting.id], active.id)


def raw(response: Any) -> Any:
    return json.loads(response.text)


def assert_answers_as_archived(client: openai.OpenAI, archived: Archived) -> None:
    """Every archived object answers retrieve and list exactly as archived, in archived order."""
    assistants = archived.bodies("assistant")
    for body in assistants:
        assert raw(client.beta.assistants.with_raw_response.retrieve(body["id"])) == body
    listed = raw(client.beta.assistants.with_raw_response.list(order="asc", limit=100))["data"]
    assert listed == assistants
    for thread_id in archived.thread_ids:
        thread = archived.bodies("thread")
        assert raw(client.beta.threads.with_raw_response.retrieve(thread_id)) == next(
            t for t in thread if t["id"] == thread_id
        )
        messages = archived.bodies("message", thread_id=thread_id)
        for order, expected in (("asc", messages), ("desc", messages[::-1])):
            page = raw(client.beta.threads.messages.with_raw_response.list(thread_id, order=order, limit=100))
            assert page["data"] == expected
        # small pages walk the same order
        walked: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"order": "asc", "limit": 2}
            if after:
                kwargs["after"] = after
            page = raw(client.beta.threads.messages.with_raw_response.list(thread_id, **kwargs))
            walked += page["data"]
            if not page["has_more"]:
                break
            after = page["last_id"]
        assert walked == messages
        for message in messages:
            assert (
                raw(
                    client.beta.threads.messages.with_raw_response.retrieve(
                        message["id"], thread_id=thread_id
                    )
                )
                == message
            )
        runs = [r for r in archived.bodies("run", thread_id=thread_id) if r["id"] != archived.active_run]
        listed_runs = raw(client.beta.threads.runs.with_raw_response.list(thread_id, order="asc", limit=100))[
            "data"
        ]
        assert [r for r in listed_runs if r["id"] != archived.active_run] == runs
        for run in runs:
            steps = archived.bodies("run_step", run_id=run["id"])
            listed_steps = raw(
                client.beta.threads.runs.steps.with_raw_response.list(
                    run["id"], thread_id=thread_id, order="asc"
                )
            )["data"]
            assert listed_steps == steps


def test_an_archive_answers_the_sdk_as_archived_and_takes_new_runs(
    archived: Archived, database_url: str, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    result = restore(archived.url, "--database-url", database_url)
    assert result.exit_code == 0, result.output
    assert "restored 2 assistants, 3 threads" in result.stderr
    assert f"run {archived.active_run} was still active" in result.stderr

    target = assistdb_server_factory(database_url=database_url)
    client = target.client()
    assert_answers_as_archived(client, archived)

    active = client.beta.threads.runs.retrieve(archived.active_run, thread_id=archived.thread_ids[2])
    assert active.status == "expired" and active.required_action is None

    # a new run on each restored thread completes on the scripted model
    for thread_id in archived.thread_ids:
        client.beta.threads.messages.create(thread_id, role="user", content="carry on")
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread_id, assistant_id=archived.assistant_ids[0], poll_interval_ms=20
        )
        assert run.status == "completed"
        newest = client.beta.threads.messages.list(thread_id, limit=1).data[0]
        assert newest.run_id == run.id and newest.role == "assistant"
    target.stop()

    # restoring again changes nothing; the new runs and messages stay
    again = restore(archived.url, "--database-url", database_url, "--json")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert sum(summary["added"].values()) == 0 and summary["unchanged"]["thread.message"] > 0


def test_conflicts_are_reported_and_nothing_is_written(
    archived: Archived, database_url: str, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    assert restore(archived.url, "--database-url", database_url).exit_code == 0
    target = assistdb_server_factory(database_url=database_url)
    client = target.client()
    thread_id = archived.thread_ids[0]
    client.beta.threads.update(thread_id, metadata={"user": "bob"})
    client.beta.threads.delete(archived.thread_ids[1])
    target.stop()

    result = restore(archived.url, "--database-url", database_url)
    assert result.exit_code == 8, result.output
    assert f"{thread_id} exists in the server with different content" in result.stderr
    assert "nothing was restored" in result.stderr
    target = assistdb_server_factory(database_url=database_url)
    client = target.client()
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(archived.thread_ids[1])  # not brought back by a failed restore
    assert client.beta.threads.retrieve(thread_id).metadata == {"user": "bob"}


def test_exports_and_raw_objects_restore_alike(
    archived: Archived, tmp_path: Path, assistdb_server_factory: Callable[..., LocalServer]
) -> None:
    export = tmp_path / "archive.jsonl"
    exported = CliRunner().invoke(cli, ["--db", archived.url, "audit", "export", str(export)])
    assert exported.exit_code == 0, exported.output

    # raw objects as an exporter that kept API responses writes them: a JSONL file of objects,
    # and a folder with one list page per file
    lines = tmp_path / "objects.jsonl"
    folder = tmp_path / "objects"
    folder.mkdir()
    everything: list[dict[str, Any]] = []
    for kind in ("run_step", "run", "message", "thread", "assistant"):  # children first: order is per kind
        bodies = archived.bodies(kind)
        everything += bodies
        (folder / f"{kind}.json").write_text(json.dumps({"object": "list", "data": bodies}))
    lines.write_text("".join(json.dumps(body) + "\n" for body in everything))

    for source in (str(export), str(lines), str(folder)):
        url = f"sqlite:///{tmp_path / (Path(source).stem + '-server.sqlite3')}"
        result = restore(source, "--database-url", url)
        assert result.exit_code == 0, result.output
        target = assistdb_server_factory(database_url=url)
        assert_answers_as_archived(target.client(), archived)
        target.stop()


def tamper(url: str, statement: str) -> None:
    """Change an archive behind its append-only triggers, as someone with access to it could."""
    store = Store(url)
    try:
        with behind_the_triggers(store) as connection:
            connection.execute(text(statement))
    finally:
        store.close()


def test_a_broken_chain_is_refused_unless_allowed(archived: Archived, tmp_path: Path) -> None:
    tamper(archived.url, "UPDATE versions SET body = replace(body, 'second', 'SECOND')")
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    refused = restore(archived.url, "--database-url", url)
    assert refused.exit_code == 6, refused.output
    assert "does not verify" in refused.stderr and "--allow-unverified" in refused.stderr
    assert "Traceback" not in refused.output
    allowed = restore(archived.url, "--database-url", url, "--allow-unverified")
    assert allowed.exit_code == 0, allowed.output


def test_bad_sources_are_one_line_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    missing = restore(str(tmp_path / "nope.jsonl"), "--database-url", url)
    assert missing.exit_code == 3 and "does not exist" in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"object": "thread", "id": "thread_1", "created_at": 1}\nnot json\n')
    garbled = restore(str(bad), "--database-url", url)
    assert garbled.exit_code == 2 and "line 2" in garbled.stderr
    orphan = tmp_path / "orphan.jsonl"
    orphan.write_text(
        json.dumps({"object": "thread.message", "id": "msg_1", "created_at": 1, "thread_id": "thread_x"})
    )
    refused = restore(str(orphan), "--database-url", url)
    assert refused.exit_code == 8 and "thread_x" in refused.stderr


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as double:
        yield double


def test_a_restored_thread_continues_on_a_chat_completions_upstream(
    archived: Archived, tmp_path: Path, upstream: ScriptedUpstream
) -> None:
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    assert restore(archived.url, "--database-url", url).exit_code == 0
    settings = UpstreamSettings.from_values(
        {"base_url": upstream.base_url, "api_key": "sk-test-key-0123456789"}
    )
    upstream.script(Reply(text="Continuing from the archive."))
    thread_id = archived.thread_ids[0]
    with LocalServer(database_url=url, upstream=settings, poll_after_ms=20) as target:
        client = target.client()
        client.beta.threads.messages.create(thread_id, role="user", content="what did I say first?")
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread_id, assistant_id=archived.assistant_ids[0], poll_interval_ms=20
        )
        assert run.status == "completed", run.last_error
        assert client.beta.threads.messages.list(thread_id, limit=1).data[0].content[0].text.value == (  # type: ignore[union-attr]
            "Continuing from the archive."
        )
    sent = upstream.requests[-1].body["messages"]
    said = [m["content"] for m in sent if m["role"] == "user"]
    assert said[:3] == ["first", "second", "third"]  # the restored history went upstream, in order
    assert API_OBJECT_OF_TYPE["message"] == "thread.message"
