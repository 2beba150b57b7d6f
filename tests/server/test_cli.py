"""``assistdb serve`` as a real subprocess: the listening line, real calls, clean SIGTERM/SIGINT."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from click.testing import CliRunner

from assistdb.cli.main import cli
from assistdb.cli.serve import serve

LISTENING = re.compile(r"^assistdb server listening on (http://127\.0\.0\.1:(\d+)/v1)$")


class Served:
    """An ``assistdb serve --port 0`` subprocess; ``base_url`` waits for its listening line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assistdb", "serve", "--port", "0", "--run-latency", "0.05", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # a data folder of its own: a server started without --database-url must never use
            # (or migrate) the database of the person running the tests
            env={**os.environ, "XDG_DATA_HOME": tempfile.mkdtemp(prefix="assistdb-served-"), **(env or {})},
        )
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            assert self.process.stdout is not None
            line = self.process.stdout.readline().rstrip("\n")
            found = LISTENING.match(line)
            if found is None:
                self.process.kill()
                raise AssertionError(
                    f"unexpected first line {line!r}; stderr: {self.process.communicate()[1]}"
                )
            self._base_url = found.group(1)
        return self._base_url

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-state")


@pytest.fixture(scope="module")
def servers(state_dir: Path) -> Iterator[dict[str, Served]]:
    """Both subprocesses start at once, so their (slow) imports overlap."""
    started = {
        "sigterm": Served(
            "--seed",
            "3",
            "--database-url",
            f"sqlite:///{state_dir / 'server.sqlite3'}",
            env={"ASSISTDB_SERVER_API_KEY": "sk-cli-secret"},
        ),
        "sigint": Served(
            env={
                "ASSISTDB_SERVER_API_KEY": "sk-from-env",
                "ASSISTDB_SERVER_DATABASE_URL": f"sqlite:///{state_dir / 'other.sqlite3'}",
            }
        ),
    }
    yield started
    for served in started.values():
        served.end()


def test_serve_answers_persists_and_stops_on_sigterm(servers: dict[str, Served], state_dir: Path) -> None:
    served = servers["sigterm"]
    state, base_url, process = state_dir / "server.sqlite3", served.base_url, served.process
    with openai.OpenAI(base_url=base_url, api_key="sk-cli-secret") as client:
        assistant = client.beta.assistants.create(model="gpt-4o", name="persisted")
        run = client.beta.threads.create_and_run_poll(
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "over the wire"}]}
        )
        assert run.status == "completed"
        stats = httpx.get(
            base_url.replace("/v1", "/_assistdb/stats"), headers={"Authorization": "Bearer sk-cli-secret"}
        ).json()
        assert stats["by_route"]["POST /v1/threads/runs"] == 1
        # a stream left open at shutdown must not hold the server up
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "/sleep 30"}])
        stream = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True)
        assert next(iter(stream)).event == "thread.run.created"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=15)
        assert time.monotonic() - started < 5
        stream.close()
    assert process.returncode == 0
    assert stdout == ""  # the listening line was the only output
    assert "sk-cli-secret" not in stderr
    with sqlite3.connect(state) as database:
        bodies = [row[0] for row in database.execute("SELECT body FROM server_assistants")]
    assert len(bodies) == 1 and '"name":"persisted"' in bodies[0]
    assert "sk-cli-secret" not in state.read_bytes().decode("utf-8", "replace")


def test_sigint_stops_cleanly_and_key_comes_from_env(servers: dict[str, Served]) -> None:
    served = servers["sigint"]
    base_url, process = served.base_url, served.process
    with (
        openai.OpenAI(base_url=base_url, api_key="wrong") as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.beta.assistants.list()
    with openai.OpenAI(base_url=base_url, api_key="sk-from-env") as client:
        assert client.beta.assistants.list().data == []
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0


def test_a_bad_option_is_one_line_on_stderr() -> None:
    result = CliRunner().invoke(cli, ["serve", "--fault-rate", "1.5"])
    assert result.exit_code == 2 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Invalid value for '--fault-rate'" in lines[0]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--rate-limit-share", "2"], "--rate-limit-share"),
        (["--spike-rate", "-1"], "--spike-rate"),
        (["--run-expiry", "0"], "--run-expiry"),
        (["--run-latency", "-0.1"], "--run-latency"),
        (["--port", "70000"], "--port"),
        (["--poll-after-ms", "-5"], "--poll-after-ms"),
    ],
)
def test_options_are_validated(args: list[str], option: str) -> None:
    result = CliRunner().invoke(serve, args)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output


def test_an_embedding_model_needs_the_upstream() -> None:
    result = CliRunner().invoke(cli, ["serve", "--model", "scripted", "--embedding-model", "nomic"])
    assert result.exit_code != 0 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "--embedding-model need --model upstream" in lines[0]


def test_a_file_given_to_state_is_never_touched(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"my notes\n\x00 not json at all\n")
    before = notes.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "assistdb", "serve", "--port", "0", "--state", str(notes)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ASSISTDB_SERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
    )
    assert result.returncode == 2 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "is not an assistdb state file; it was left untouched" in lines[0]
    assert notes.read_bytes() == before


def test_an_api_key_on_the_command_line_is_refused() -> None:
    result = CliRunner().invoke(cli, ["serve", "--api-key", "sk-visible-in-ps"])
    assert result.exit_code == 2
    assert "ASSISTDB_SERVER_API_KEY" in result.stderr and "sk-visible-in-ps" not in result.output


def test_a_database_password_never_shows(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "assistdb", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ASSISTDB_SERVER_DATABASE_URL": "postgresql://me:s3cret-pw@127.0.0.1:1/state"},
    )
    assert result.returncode != 0 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot connect to the database" in lines[0]
    assert "s3cret-pw" not in result.stderr and "me:***@127.0.0.1:1" in lines[0]


def test_serve_answers_runs_from_an_upstream_whose_url_carries_credentials(tmp_path: Path) -> None:
    from assistdb.server.backends.scripted_upstream import ScriptedUpstream

    with ScriptedUpstream() as upstream:
        credentialed = upstream.base_url.replace("http://", "http://user:url-s3cret@")
        served = Served(
            "--database-url",
            f"sqlite:///{tmp_path / 'server.sqlite3'}",
            "--upstream-url",
            credentialed,
            "--model-map",
            "gpt-4o=tiny",
            env={"ASSISTDB_UPSTREAM_API_KEY": "sk-upstream-Secret-0123456789"},
        )
        try:
            with openai.OpenAI(base_url=served.base_url, api_key="any") as client:
                assistant = client.beta.assistants.create(model="gpt-4o")
                run = client.beta.threads.create_and_run_poll(
                    assistant_id=assistant.id,
                    thread={"messages": [{"role": "user", "content": "hi upstream"}]},
                )
                assert run.status == "completed"
                reply = client.beta.threads.messages.list(thread_id=run.thread_id).data[0]
                assert reply.content[0].text.value == "You said: hi upstream"
            assert upstream.requests[0].body["model"] == "tiny"
            served.process.send_signal(signal.SIGTERM)
            _, stderr = served.process.communicate(timeout=15)
        finally:
            served.end()
    assert served.process.returncode == 0
    assert "Chat Completions endpoint at http://127.0.0.1:" in stderr
    assert "url-s3cret" not in stderr and "sk-upstream-Secret" not in stderr
    # the SDK's HTTP client logs no line per upstream request, nor Alembic one per plugin
    assert "HTTP Request:" not in stderr and "setup plugin" not in stderr


def test_a_public_address_without_a_key_is_warned_about(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "assistdb", "serve", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if k != "ASSISTDB_SERVER_API_KEY"},
            "ASSISTDB_SERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith("assistdb server listening on http://0.0.0.0:")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=15)
    assert "WARNING: listening on 0.0.0.0 without an API key" in stderr
