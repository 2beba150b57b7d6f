"""``assistdb serve`` as a real process, used by the other commands over HTTP; and completion."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from assistdb.cli import cli
from tests.cli.conftest import CLEARED, REPO, subprocess_env


def test_the_cli_works_against_a_served_api(
    assistdb_process: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    server = assistdb_process("serve", "--port", "0", "--run-latency", "0.05", "--poll-after-ms", "50")
    assert server.stdout is not None and server.stderr is not None
    line = server.stdout.readline()
    found = re.search(r"listening on (http://\S+/v1)", line)
    assert found, line + (server.stderr.read() if server.poll() is not None else "")
    env = {**dict.fromkeys(CLEARED), "OPENAI_API_KEY": "sk-anything", "OPENAI_BASE_URL": found.group(1)}
    env["ASSISTDB_DATABASE_URL"] = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    runner = CliRunner()
    created = runner.invoke(
        cli, ["assistants", "create", "--name", "s", "--model", "gpt-4o", "--json"], env=env
    )
    assert created.exit_code == 0, created.output
    listed = runner.invoke(cli, ["assistants", "list"], env=env)
    assert listed.exit_code == 0 and " s " in listed.stdout
    server.send_signal(signal.SIGINT)
    server.wait(timeout=30)


def test_shell_completion_scripts_are_generated() -> None:
    for shell in ("bash", "zsh"):
        result = subprocess.run(
            [sys.executable, "-m", "assistdb"],
            env=subprocess_env(_ASSISTDB_COMPLETE=f"{shell}_source"),
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "_ASSISTDB_COMPLETE" in result.stdout
