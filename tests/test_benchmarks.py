"""Every benchmark script runs, at tiny sizes, so that none of them can rot (no timing asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ENV

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(900)
def test_every_benchmark_runs_at_tiny_sizes() -> None:
    command = [sys.executable, "-m", "benchmarks", "--quick"]
    if os.environ.get(POSTGRES_ENV):
        command += ["--postgres", os.environ[POSTGRES_ENV]]

    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)

    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    for title in (
        "Archive writes",
        "Complete sync of one thread",
        "Re-sync with nothing new",
        "Peak memory",
        "sync_threads over",
        "Run end detection",
        "Time to first token through the Chat Completions backend",
        "Start-up time",
        "Full-text search over",
        "Time to first token of a streamed run through the runtime",
        "Two-round tool run through the runtime",
        "Runs per second with 1, 2 and 4 server processes",
        "Server RSS with",
        "Files and vector stores on assistdb serve",
        "Migration to Conversations",
    ):
        assert title in finished.stdout
    assert "| " in finished.stdout
