"""How the reliability suite runs the CLI: in-process through click's runner, as a real
``python -m assistdb`` process, or as a forked one (``forked_cli.py``); always with a clean
environment, so that no developer setting leaks in."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from assistdb.cli import cli
from tests.cli.conftest import CLEARED, REPO, subprocess_env
from tests.reliability.forked_cli import ForkedCli

TOOLS_MODULE = "tests.reliability.sample_tools"


def invoke(
    *args: str, key: str | None = None, env: dict[str, str] | None = None, input: bytes | None = None
) -> Result:
    """``assistdb ARGS`` through click's runner, with ``OPENAI_API_KEY=key`` and nothing else set."""
    environment: dict[str, str | None] = {**dict.fromkeys(CLEARED), "OPENAI_API_KEY": key, **(env or {})}
    return CliRunner().invoke(cli, list(args), env=environment, input=input, catch_exceptions=False)


def run_module(*args: str, key: str | None = None, **popen: Any) -> subprocess.CompletedProcess[str]:
    """``python -m assistdb ARGS`` as a real process, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "assistdb", *args],
        capture_output=True,
        text=True,
        env=subprocess_env(**({"OPENAI_API_KEY": key} if key else {})),
        cwd=REPO,
        timeout=120,
        check=False,
        **popen,
    )


@pytest.fixture(scope="session")
def forked_cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkedCli]:
    """``python -m assistdb`` processes at the cost of a fork; pass the API key in each
    command's ``env``."""
    with ForkedCli(tmp_path_factory.mktemp("forked"), subprocess_env()) as forked:
        yield forked
