"""Keeping what tools print out of a program's standard output.

A tools module is code the user trusts to act, not to write on the program's stdout: a stray
``print`` in a tool must not break the JSON of ``assistdb runs create --wait --json``. The run
engine marks the code it runs on a tool's behalf (importing a tools module, each call) with a
context variable; inside :func:`tool_stdout_to_stderr`, what that code writes to ``sys.stdout``
goes to stderr, and so does anything written to file descriptor 1 itself (C code, or a
subprocess the tool starts) when stdout is the process's own. Everything else the program writes
reaches stdout as before.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

_IN_TOOL: contextvars.ContextVar[bool] = contextvars.ContextVar("assistdb_in_tool", default=False)


@contextlib.contextmanager
def running_tool_code() -> Iterator[None]:
    """Mark the code run inside as a tool's (it and the tasks and tool threads it starts)."""
    token = _IN_TOOL.set(True)
    try:
        yield
    finally:
        _IN_TOOL.reset(token)


class _Router(io.TextIOBase):
    """``sys.stdout`` while tools may run: the program's writes go to ``program``, a tool's to
    ``tools``. Text attributes are the program stream's, so click writes through it as is."""

    def __init__(self, program: TextIO, tools: TextIO) -> None:
        super().__init__()
        self._program = program
        self._tools = tools

    def _target(self) -> TextIO:
        return self._tools if _IN_TOOL.get() else self._program

    def write(self, text: Any) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._tools.flush()
        self._program.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._program.isatty()

    def fileno(self) -> int:
        return self._program.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._program.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._program.errors

    @property
    def buffer(self) -> Any:
        return self._program.buffer


def _real_stdout_fd(stream: TextIO) -> bool:
    try:
        return stream.fileno() == 1
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def tool_stdout_to_stderr() -> Iterator[None]:
    """Within, tool code writes to stderr whatever it would write to stdout."""
    original = sys.stdout
    original.flush()
    if not _real_stdout_fd(original):  # stdout is not the process's fd 1 (a test runner's buffer)
        sys.stdout = _Router(original, sys.stderr)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stdout = original
        return
    # The program keeps the real stdout on a private descriptor; fd 1 becomes a copy of stderr,
    # for whatever writes to it directly.
    private = os.dup(1)
    program = open(  # noqa: SIM115 -- closed below, after fd 1 is restored
        private,
        "w",
        encoding=original.encoding,
        errors=original.errors,
        buffering=1 if getattr(original, "line_buffering", False) else -1,
        closefd=True,
    )
    os.dup2(2, 1)
    sys.stdout = _Router(program, sys.stderr)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = original
        os.dup2(private, 1)
        program.close()
