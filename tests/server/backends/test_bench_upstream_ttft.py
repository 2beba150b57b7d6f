"""The backend's time-to-first-token benchmark runs at tiny sizes, so it cannot rot (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_the_ttft_benchmark_runs() -> None:
    command = [sys.executable, "-m", "benchmarks.bench_upstream_ttft", "--quick"]

    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)

    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    assert "Time to first token through the Chat Completions backend" in finished.stdout
    assert "| backend | 5 |" in finished.stdout and "| SDK | 5 |" in finished.stdout
