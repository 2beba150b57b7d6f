"""The codebase stays ruff- and mypy-clean (the configuration is in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_the_code_is_clean(command: list[str]) -> None:
    executable = shutil.which(command[0], path=str(Path(sys.executable).parent))
    assert executable, f"{command[0]} is not installed (pip install -e '.[test]')"

    finished = subprocess.run([executable, *command[1:]], cwd=REPO, capture_output=True, text=True)

    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-2000:]
