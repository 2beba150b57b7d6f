"""A process for the crash tests to kill: it waits for a run whose tools leave marks in files.

Usage: ``python tool_crash_worker.py DATABASE_URL BASE_URL RUN_ID`` with ``CRASH_FOLDER`` naming the
folder for the marks and ``CRASH_TOOL_PAUSE`` how long each tool lingers after acting. Importing
takes seconds, so the worker starts waiting only once it reads a line from its standard input:
a test can start the resuming process while the first one is still to be killed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from openai import OpenAI

from assistdb import AssistDB, AssistDBError, ToolRegistry, tool
from assistdb.cli.errors import exit_code


def _folder() -> Path:
    return Path(os.environ["CRASH_FOLDER"])


def _linger() -> None:
    time.sleep(float(os.environ.get("CRASH_TOOL_PAUSE", "0")))


def _append(name: str, line: str) -> None:
    with open(_folder() / name, "a") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


def lines(folder: Path, name: str) -> list[str]:
    path = folder / name
    return path.read_text().splitlines() if path.exists() else []


@tool(timeout=2.0)
def charge(amount: int) -> str:
    """Charge a card: doing it twice charges twice."""
    _append("charges.log", str(amount))
    _linger()
    return f"charged {amount}"


@tool(idempotent=True, timeout=2.0)
def set_key(key: str, value: str) -> str:
    """Set a key in a file: doing it twice has the effect of doing it once."""
    _append("calls.log", "set_key")
    if f"{key}={value}" not in lines(_folder(), "store.txt"):
        _append("store.txt", f"{key}={value}")
    _linger()
    return "stored"


TOOLS = ToolRegistry([charge, set_key])


def main(database_url: str, base_url: str, run_id: str) -> int:
    sys.stdin.readline()
    with AssistDB(database_url, client=OpenAI(base_url=base_url, api_key="sk-local")) as db:
        try:
            run = db.runs.wait(run_id, tools=TOOLS)
        except AssistDBError as exc:
            print(exc, file=sys.stderr)
            return exit_code(exc)
    print(run.status)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
