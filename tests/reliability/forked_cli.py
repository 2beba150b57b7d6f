"""``python -m assistdb ARGS`` as many times as the tests need, each in a process of its own, fast.

Importing the CLI takes seconds: longer than the work a crash test lets a process do before it
kills it, and a cost that tests starting dozens of processes cannot pay each time. So this script
imports assistdb once and then, for each command it reads, forks a child that runs
``assistdb.__main__`` exactly as ``python -m assistdb ARGS`` would: a real process, with its own
database connections and HTTP clients, that a test can SIGKILL or SIGINT. Children run at the
same time when several are started.

Protocol, one JSON object per line: the script prints ``{"ready": true}`` once imported; for each
``{"id": N, "args": [...], "env": {...}, "stdout": PATH, "stderr": PATH}`` on stdin it forks a
child, prints ``{"id": N, "pid": P}``, and when the child ends ``{"id": N, "status": S}`` (the
exit code, or minus the signal that killed it). :class:`ForkedCli` speaks it.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Child:
    """One ``assistdb`` process: its pid, where its output goes, and (once it ended) its status."""

    id: int
    stdout: Path
    stderr: Path
    pid: int = 0
    status: int | None = None
    _started: threading.Event = field(default_factory=threading.Event, repr=False)
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)

    def output(self) -> tuple[str, str]:
        return self.stdout.read_text(), self.stderr.read_text()


class ForkedCli:
    """Starts ``assistdb`` commands through one forking process; use as a context manager."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self._ids = itertools.count(1)
        self._children: dict[int, Child] = {}
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> ForkedCli:
        self._process = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**self.env, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            text=True,
        )
        assert self._process.stdout is not None
        ready = self._process.stdout.readline()
        assert json.loads(ready or "{}") == {"ready": True}, "the forking process did not start"
        self._reader = threading.Thread(target=self._read, name="forked-cli-reader", daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        process = self._process
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()  # the forking process ends once its children have
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)

    def start(self, *args: str, env: dict[str, str] | None = None) -> Child:
        """Start ``assistdb ARGS`` (with ``env`` added to the environment) in a new process."""
        assert self._process is not None and self._process.stdin is not None
        with self._lock:
            child_id = next(self._ids)
            child = Child(
                child_id, self.folder / f"child-{child_id}.out", self.folder / f"child-{child_id}.err"
            )
            self._children[child_id] = child
            command = {"id": child_id, "args": list(args), "env": env or {}}
            command |= {"stdout": str(child.stdout), "stderr": str(child.stderr)}
            self._process.stdin.write(json.dumps(command) + "\n")
            self._process.stdin.flush()
        if not child._started.wait(60):
            raise AssertionError("the forking process did not start the command")
        return child

    def wait(self, child: Child, timeout: float = 300) -> int:
        """The child's exit code, or minus the signal that killed it."""
        if not child._ended.wait(timeout):
            raise AssertionError(f"assistdb process {child.pid} did not end in {timeout} s")
        assert child.status is not None
        return child.status

    def run(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, Child]:
        child = self.start(*args, env=env)
        return self.wait(child), child

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            report: dict[str, Any] = json.loads(line)
            with self._lock:
                child = self._children[report["id"]]
            if "pid" in report:
                child.pid = report["pid"]
                child._started.set()
            else:
                child.status = report["status"]
                child._ended.set()


# The forking process ----------------------------------------------------------------------------


def _preload() -> None:
    """Import what the commands import, so that no child pays for it."""
    import importlib

    from assistdb.cli.main import COMMANDS

    modules = [target.split(":")[0] for name, target in COMMANDS.items() if name not in ("serve", "demo")]
    for module in [*modules, "assistdb.audit", "assistdb.sync", "assistdb.runner"]:
        importlib.import_module(module)


def _child(command: dict[str, Any]) -> None:
    """Become ``python -m assistdb ARGS``; never returns."""
    import runpy

    code = 1
    try:
        os.environ.update(command["env"])
        for fd, path, flags in (
            (0, os.devnull, os.O_RDONLY),
            (1, command["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (2, command["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ):
            opened = os.open(path, flags, 0o644)
            os.dup2(opened, fd)
            os.close(opened)
        sys.argv = ["assistdb", *command["args"]]
        runpy.run_module("assistdb", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _say(report: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


def _serve() -> None:
    """Fork a child per command line; report each child's pid, then its end. No threads here, so
    that forking is safe."""
    _preload()
    _say({"ready": True})
    stdin = sys.stdin.fileno()
    pending = b""
    children: dict[int, int] = {}  # pid -> command id
    reading = True
    while reading or children:
        if reading and select.select([stdin], [], [], 0.005)[0]:
            chunk = os.read(stdin, 1 << 16)
            reading = bool(chunk)
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                command = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(command)
                children[pid] = command["id"]
                _say({"id": command["id"], "pid": pid})
        elif not reading:
            select.select([], [], [], 0.005)
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            _say({"id": children.pop(pid), "status": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    _serve()
