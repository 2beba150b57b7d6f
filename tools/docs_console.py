"""Docs that run: every ``console`` block of README.md and docs/cli.md is a transcript that this
module replays, so what the docs show is what a newcomer gets.

    python -m tools.docs_console            # rewrite the blocks that no longer match
    python -m tools.docs_console --check    # exit 1, with a diff, if any block is out of date

Each document is one session, in order: a fresh temporary folder (shown as ``/tmp/tour``) holding
the files the document shows (a fenced block right after ``<!-- file: NAME -->``), a fresh
archive there (``ASSISTDB_DATABASE_URL``), and a local Assistants server with key ``sk-local``
(shown at ``127.0.0.1:8787``). Each ``$ command`` runs in bash with ``assistdb`` being this
source tree; stdout and stderr are shown together, as a terminal shows them. Blocks of commands
to type that are not transcripts (a long-running server, placeholders) are ``bash`` blocks.

What differs from one replay to the next is normalised, in a documented way:

- IDs (``thread_`` + 24 letters and digits, any such prefix) and 64-hex digests: the k-th
  distinct one of each prefix in a session is written as a fixed pseudo-random ID derived from
  the document, prefix and k, and commands that name it get the real one;
- times are compared as placeholders: UTC date-times, "N seconds ago"/"just now", Unix seconds,
  and local ports; runs of spaces count as one (table columns widen with "12 seconds ago");
- so are counts of archived rows ("17 row(s)", "12 archived version(s)"): every state of a run
  that a poll catches is archived, and how many a poll catches depends on timing;
- an output whose last line is ``…`` is compared (and rewritten) up to that line only.

A block whose normalised text still matches is left exactly as it is, so rewriting is stable.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = (ROOT / "README.md", ROOT / "docs" / "cli.md")
SHOWN_FOLDER = "/tmp/tour"
SHOWN_PORT = 8787
API_KEY = "sk-local"
CUT = "…"
COMMAND_TIMEOUT = 120

BLOCK = re.compile(r"^```([\w-]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
FILE_MARK = re.compile(r"<!-- file: (\S+) -->\n```[\w-]*\n(.*?)^```$", re.DOTALL | re.MULTILINE)
TOKEN = re.compile(r"(?<![\w-])([a-z]+[_-])[A-Za-z0-9]{24}(?![\w-])|(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
VARYING = (
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)? UTC"), "<time>"),
    (re.compile(r"\bjust now\b|\b\d+ (?:second|minute|hour|day)s? ago\b"), "<ago>"),
    (re.compile(r"(?<!\d)1[6-9]\d{8}(?!\d)"), "<unix>"),
    (re.compile(r"127\.0\.0\.1:\d{4,5}\b"), "127.0.0.1:<port>"),
    (re.compile(r"\b\d+ (row|archived version)\(s\)"), r"<n> \1(s)"),
    (re.compile(r" {2,}"), "  "),
)


@dataclass
class Step:
    command: str
    output: str  # as shown: without trailing blank lines, ``…`` last when cut


@dataclass
class Block:
    start: int  # where the block's body starts and ends in the document
    end: int
    steps: list[Step]


def parse_steps(body: str) -> list[Step]:
    steps: list[Step] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append(Step(line[2:], ""))
        elif steps:
            steps[-1].output += line + "\n"
    for step in steps:
        step.output = step.output.rstrip("\n")
    return steps


def render_steps(steps: list[Step]) -> str:
    parts = []
    for step in steps:
        parts.append(f"$ {step.command}" + (f"\n{step.output}" if step.output else ""))
        parts.append("\n\n" if step.output else "\n")
    return "".join(parts[:-1]) + "\n"


def console_blocks(text: str) -> list[Block]:
    return [
        Block(match.start(2), match.end(2), parse_steps(match.group(2)))
        for match in BLOCK.finditer(text)
        if match.group(1) == "console"
    ]


def normalised(text: str) -> str:
    for pattern, placeholder in VARYING:
        text = pattern.sub(placeholder, text)
    return text


@dataclass
class Tokens:
    """The IDs of one session: real ones (this replay) and shown ones (the document)."""

    document: str
    old_order: dict[str, list[str]]  # the document's tokens of each prefix, as first seen
    shown_of: dict[str, str] = field(default_factory=dict)  # real -> shown
    real_of: dict[str, str] = field(default_factory=dict)  # shown (and the document's old) -> real
    counts: dict[str, int] = field(default_factory=dict)

    def shown(self, real: str, prefix: str) -> str:
        if real not in self.shown_of:
            k = self.counts.get(prefix, 0)
            self.counts[prefix] = k + 1
            shown = synthetic(self.document, prefix, k, real)
            self.shown_of[real] = shown
            self.real_of[shown] = real
            old = self.old_order.get(prefix, [])
            if k < len(old):
                self.real_of.setdefault(old[k], real)
        return self.shown_of[real]

    def to_real(self, command: str) -> str:
        return TOKEN.sub(lambda m: self.real_of.get(m.group(0), m.group(0)), command)

    def to_shown(self, output: str) -> str:
        return TOKEN.sub(lambda m: self.shown(m.group(0), prefix_of(m)), output)


def prefix_of(match: re.Match[str]) -> str:
    return match.group(1) or "digest"


def synthetic(document: str, prefix: str, k: int, real: str) -> str:
    """A fixed token of the same shape as ``real``: the k-th of its prefix in ``document``."""
    seed = hashlib.sha256(f"{document}:{prefix}:{k}".encode()).digest()
    if prefix == "digest":
        return hashlib.sha256(seed).hexdigest()
    return prefix + "".join(ALPHABET[byte % len(ALPHABET)] for byte in seed[:24])


def tokens_in_order(blocks: list[Block]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    for block in blocks:
        for step in block.steps:
            for text in (step.command, step.output):
                for match in TOKEN.finditer(text):
                    seen = order.setdefault(prefix_of(match), [])
                    if match.group(0) not in seen:
                        seen.append(match.group(0))
    return order


class Session:
    """A folder, an archive and a server for one document's commands."""

    def __init__(self, text: str, folder: Path, base_url: str, port: int) -> None:
        self.folder = folder
        self.port = port
        for name, content in FILE_MARK.findall(text):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(content, encoding="utf-8")
        shims = folder / ".bin"
        shims.mkdir()
        shim = shims / "assistdb"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m assistdb "$@"\n', encoding="utf-8")
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        cleared = ("OPENAI_", "AZURE_OPENAI_", "ASSISTDB_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
        self.env = {key: value for key, value in os.environ.items() if not key.upper().startswith(cleared)}
        self.env.update(
            PATH=f"{shims}{os.pathsep}{self.env.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",  # stdout and stderr interleave as on a terminal
            NO_COLOR="1",
            HOME=str(folder),
            XDG_DATA_HOME=str(folder / ".data"),
            XDG_CONFIG_HOME=str(folder / ".config"),
            OPENAI_BASE_URL=base_url,
            OPENAI_API_KEY=API_KEY,
            ASSISTDB_DATABASE_URL=f"sqlite:///{folder / 'archive.sqlite3'}",
        )

    def run(self, command: str) -> str:
        command = command.replace(SHOWN_FOLDER, str(self.folder))
        command = command.replace(f"127.0.0.1:{SHOWN_PORT}", f"127.0.0.1:{self.port}")
        finished = subprocess.run(
            ["bash", "-c", command],
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        output = finished.stdout.replace(str(self.folder), SHOWN_FOLDER)
        output = output.replace(f"127.0.0.1:{self.port}", f"127.0.0.1:{SHOWN_PORT}")
        return "\n".join(line.rstrip() for line in output.splitlines()).rstrip("\n")


def replay(document: Path) -> tuple[str, str]:
    """The document as it is and as its commands print now (blocks that still match, kept)."""
    from assistdb.server import LocalServer

    text = document.read_text(encoding="utf-8")
    blocks = console_blocks(text)
    tokens = Tokens(document.name, tokens_in_order(blocks))
    rewritten = text
    with (
        tempfile.TemporaryDirectory(prefix="assistdb-docs-") as scratch,
        LocalServer(api_key=API_KEY) as server,
    ):
        session = Session(text, Path(scratch).resolve(), server.base_url, server.port)
        for block in reversed(_replayed(blocks, session, tokens)):
            rewritten = rewritten[: block.start] + render_steps(block.steps) + rewritten[block.end :]
    return text, rewritten


def _replayed(blocks: list[Block], session: Session, tokens: Tokens) -> list[Block]:
    """Each block as replayed now, in order (the session's state carries from one to the next);
    a block whose normalised text still matches is kept as it was."""
    replayed = []
    for block in blocks:
        steps = []
        for step in block.steps:
            output = tokens.to_shown(session.run(tokens.to_real(step.command)))
            if step.output.endswith(CUT):
                output = "\n".join([*output.splitlines()[: step.output.count("\n")], CUT])
            steps.append(Step(tokens.to_shown(tokens.to_real(step.command)), output))
        now = Block(block.start, block.end, steps)
        same = normalised(render_steps(now.steps)) == normalised(render_steps(block.steps))
        replayed.append(block if same else now)
    return replayed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.docs_console", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a block is out of date"
    )
    parser.add_argument("documents", nargs="*", type=Path, default=list(DOCUMENTS))
    args = parser.parse_args(argv)
    stale = False
    for document in args.documents:
        before, after = replay(document.resolve())
        if before == after:
            continue
        stale = True
        if args.check:
            name = str(document)
            sys.stdout.writelines(
                difflib.unified_diff(
                    normalised(before).splitlines(keepends=True),
                    normalised(after).splitlines(keepends=True),
                    f"{name} (committed)",
                    f"{name} (printed now)",
                )
            )
        else:
            document.write_text(after, encoding="utf-8")
            print(f"rewrote the out-of-date console blocks of {document}", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    if shutil.which("bash") is None:
        sys.exit("bash is needed to replay the docs' commands")
    sys.exit(main())
