"""``assistdb demo`` as a new user runs it: a real process, no key, no server of their own."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from assistdb.cli import cli
from tests.cli.conftest import CLEARED, REPO, subprocess_env


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistdb", "demo", *args],
        env=subprocess_env(),  # no OPENAI_API_KEY, no OPENAI_BASE_URL, no ASSISTDB_DATABASE_URL
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=240,
        check=False,
    )


def test_the_demo_shows_the_whole_product_and_can_keep_its_archive() -> None:
    demo = run_demo("--keep")
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.startswith("# Thread thread_")
    assert '`get_weather` `{"city": "Paris"}`' in demo.stdout
    assert re.search(r"^total +1 +\d+ +\d+ +\d+$", demo.stdout, re.MULTILINE)
    steps = [line for line in demo.stderr.splitlines() if re.match(r"^\d\. ", line)]
    assert len(steps) == 6 and "verified" in steps[-1]
    kept = re.search(r"kept at (\S+)", demo.stderr)
    assert kept is not None
    path = Path(kept.group(1))
    try:
        verified = CliRunner().invoke(
            cli, ["--db", f"sqlite:///{path}", "audit", "verify"], env=dict.fromkeys(CLEARED)
        )
        assert verified.exit_code == 0 and verified.stdout.startswith("ok: 2 chain(s)")
    finally:
        for leftover in path.parent.iterdir():
            leftover.unlink()
        path.parent.rmdir()


def test_the_demo_archives_into_a_given_database(database_url: str) -> None:
    demo = CliRunner().invoke(cli, ["demo", "--db", database_url], env=dict.fromkeys(CLEARED))
    assert demo.exit_code == 0, demo.output
    assert "kept at" not in demo.stderr and demo.stdout.startswith("# Thread thread_")
    listed = CliRunner().invoke(
        cli, ["--db", database_url, "runs", "list", "--json"], env=dict.fromkeys(CLEARED)
    )
    assert listed.exit_code == 0
    assert '"status": "completed"' in listed.stdout
