"""API objects carrying text a database column cannot hold, through the CLI, on both backends.

The local server accepts NUL characters in metadata (as the real API did); every object type gets
some, and every archiving command must keep them exactly. A thread whose objects still cannot be
archived (an ID with a NUL, from a hostile server) fails on its own, counted as failed with exit 4,
while the other threads are archived.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistdb.server import LocalServer
from tests.cli.conftest import assert_one_line_error
from tests.reliability.conftest import invoke
from tests.reliability.hostile_api import hostile_api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's, on set-up calls
NUL = {"plain": "yes", "k\x00": "v", "nul": "a\x00b"}


def _cli(url: str, base_url: str, key: str, *args: str) -> Any:
    return invoke("--db", url, "--base-url", base_url, *args, key=key)


def _json(url: str, base_url: str, key: str, *args: str) -> Any:
    result = _cli(url, base_url, key, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_nul_metadata_on_every_object_is_archived_by_every_command(
    assistdb_server: LocalServer, database_url: str
) -> None:
    sdk, base, key = assistdb_server.client(), assistdb_server.base_url, assistdb_server.api_key
    assistant = sdk.beta.assistants.create(model="gpt-4o", name="nul", metadata=NUL)
    thread = sdk.beta.threads.create(metadata=NUL)
    sdk.beta.threads.messages.create(thread.id, role="user", content="hi\x00there", metadata=NUL)
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, metadata=NUL, poll_interval_ms=50
    )
    assert run.status == "completed"
    clean = sdk.beta.threads.create(metadata={"plain": "yes"})

    listed = _cli(database_url, base, key, "assistants", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [a["metadata"] for a in json.loads(listed.stdout)] == [NUL]
    assert _cli(database_url, base, key, "assistants", "pull").exit_code == 0
    for thread_id in (thread.id, clean.id):
        tracked = _cli(database_url, base, key, "threads", "track", thread_id)
        assert tracked.exit_code == 0, tracked.output
    synced = _cli(database_url, base, key, "threads", "sync", "--all", "--json")
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.stdout)["failed"] == 0, (synced.stdout, synced.stderr)

    assert _json(database_url, base, key, "threads", "show", thread.id)["metadata"] == NUL
    messages = _json(database_url, base, key, "messages", "list", thread.id)
    (message,) = [m for m in messages if m["role"] == "user"]
    assert message["metadata"] == NUL and message["content"][0]["text"]["value"] == "hi\x00there"
    (archived_run,) = _json(database_url, base, key, "runs", "list", "--thread", thread.id)
    assert archived_run["metadata"] == NUL
    found = _json(database_url, base, key, "threads", "list", "--metadata", "plain=yes")
    assert sorted(t["id"] for t in found) == sorted([thread.id, clean.id])
    assert _cli(database_url, base, key, "audit", "verify").exit_code == 0


def test_a_thread_that_cannot_be_archived_fails_alone_with_exit_4(
    assistdb_server: LocalServer, database_url: str
) -> None:
    sdk, key = assistdb_server.client(), assistdb_server.api_key
    bad = sdk.beta.threads.create(messages=[{"role": "user", "content": "one"}])
    good = sdk.beta.threads.create(messages=[{"role": "user", "content": "two"}])

    def unstorable_ids(method: str, path: str, body: Any) -> Any:
        if method == "GET" and path == f"/v1/threads/{bad.id}/messages":
            for message in body["data"]:
                message["id"] += "\x00"
        return body

    with hostile_api(assistdb_server.base_url, unstorable_ids) as base:
        for thread_id in (bad.id, good.id):
            assert _cli(database_url, base, key, "threads", "track", thread_id).exit_code == 0
        synced = _cli(database_url, base, key, "threads", "sync", "--all")
        line = assert_one_line_error(synced, 4, "1 of 2 thread(s) failed", bad.id, "cannot be archived")
        assert "\x00" not in line
        assert "failed:     1" in synced.stdout

    messages = _json(database_url, assistdb_server.base_url, key, "messages", "list", good.id)
    assert [m["content"][0]["text"]["value"] for m in messages] == ["two"]
