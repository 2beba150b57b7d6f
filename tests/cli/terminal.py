"""Running the real CLI on a pseudo-terminal, as a person at a terminal would: a given width,
colours when the terminal allows them, keystrokes typed into its input."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass, field

from tests.cli.conftest import REPO, subprocess_env


@dataclass
class Terminal:
    """A ``python -m assistdb ARGS`` process whose stdin, stdout and stderr are one pseudo-terminal."""

    process: subprocess.Popen[bytes]
    master: int
    output: bytearray = field(default_factory=bytearray)
    consumed: int = 0  # how far read_until has matched

    def read_until(self, text: str, timeout: float = 30.0) -> str:
        """Read output until ``text`` appears after what earlier calls consumed; everything read
        so far, decoded."""
        deadline = time.monotonic() + timeout
        wanted = text.encode()
        while self.output.find(wanted, self.consumed) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} never appeared in {self.text!r}")
            if not self._read(min(remaining, 0.2)) and self.process.poll() is not None:
                self._read(0.2)
                if self.output.find(wanted, self.consumed) < 0:
                    raise AssertionError(f"exited {self.process.returncode} before {text!r}: {self.text!r}")
        self.consumed = self.output.find(wanted, self.consumed) + len(wanted)
        return self.text

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 60.0) -> tuple[int, str]:
        """Wait for the process to end; its exit code and all its output."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        if self.process.poll() is None:
            self.process.kill()
            raise AssertionError(f"still running after {timeout} s: {self.text!r}")
        while self._read(0.1):
            pass
        os.close(self.master)
        return self.process.returncode, self.text

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the other side closed
            return False
        self.output.extend(chunk)
        return bool(chunk)


def start_terminal(*args: str, columns: int = 80, env: dict[str, str] | None = None) -> Terminal:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    environment = subprocess_env(TERM="xterm")
    environment.pop("NO_COLOR", None)  # the caller's env says whether colour is wanted
    environment.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "assistdb", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environment,
        cwd=REPO,
        start_new_session=True,
    )
    os.close(slave)
    return Terminal(process, master)
