"""The README's and docs/library.md's examples run as written, every public name they use is
importable from ``assistdb``, and every console block of README.md and docs/cli.md shows what
its commands print."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import assistdb
from tools import docs_console

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def python_blocks(path: Path) -> list[str]:
    return PYTHON_BLOCK.findall(path.read_text(encoding="utf-8"))


def test_library_reference_examples_run(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    script = "\n".join(python_blocks(ROOT / "docs" / "library.md"))
    exec(compile(script, "docs/library.md", "exec"), {"DATABASE_URL": database_url, "__name__": "docs"})


def test_readme_library_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (example,) = [block for block in python_blocks(ROOT / "README.md") if "AssistDB(" in block]
    exec(compile(example, "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    assert 'get_weather -> {"city":"Paris","sky":"sunny"}' in printed


def test_every_public_name_in_the_docs_is_importable_from_assistdb() -> None:
    used: set[str] = set()
    for path in DOCUMENTS:
        for block in python_blocks(path):
            for node in ast.walk(ast.parse(block)):
                if isinstance(node, ast.ImportFrom) and node.module == "assistdb":
                    used.update(alias.name for alias in node.names)
    for path in (ROOT / "README.md", ROOT / "docs" / "library.md"):  # the library's own prose
        used.update(
            name
            for name in re.findall(r"`([A-Z][A-Za-z]+)`", path.read_text(encoding="utf-8"))
            if name.endswith(("Error", "DB", "Interrupted", "Handle", "Version", "Registry"))
        )
    missing = sorted(name for name in used if not hasattr(assistdb, name) or name not in assistdb.__all__)
    assert missing == []
    assert {"AssistDB", "AsyncAssistDB", "Interrupted", "ApiNotFoundError"} <= used


def test_the_library_reference_names_every_public_name() -> None:
    reference = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    assert [name for name in assistdb.__all__ if f"`{name}" not in reference] == []


def test_a_console_block_is_replayed_and_a_drifted_one_is_rewritten(tmp_path: Path) -> None:
    document = tmp_path / "tour.md"
    shown = docs_console.synthetic("tour.md", "thread_", 0, "")
    random_id = "thread_$(tr -dc A-Za-z0-9 </dev/urandom | head -c 24)"
    document.write_text(
        "<!-- file: note.txt -->\n```text\nfirst\nsecond\nthird\n```\n\n"
        "```console\n$ cat note.txt\nfirst\nsecond\nthird\n```\n\n"  # true: kept as it is
        "```console\n$ cat note.txt\nfirst\n…\n```\n\n"  # true up to the cut
        f"```console\n$ echo {random_id}; date -u '+%Y-%m-%d %H:%M:%S UTC'\n"
        f"{shown}\n2020-01-01 00:00:00 UTC\n\n$ echo {shown}\n{shown}\n```\n\n"  # IDs and times vary
        "```console\n$ printf 'now\\n'\nthen\n```\n",  # drifted
        encoding="utf-8",
    )
    before, after = docs_console.replay(document)
    assert after == before.replace("$ printf 'now\\n'\nthen\n", "$ printf 'now\\n'\nnow\n")
    assert docs_console.main(["--check", str(document)]) == 1
    assert docs_console.main([str(document)]) == 0
    assert docs_console.main(["--check", str(document)]) == 0


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("document", docs_console.DOCUMENTS, ids=lambda path: path.name)
def test_every_console_block_shows_what_its_commands_print_now(document: Path) -> None:
    """README.md and docs/cli.md, replayed on a fresh archive (``python -m tools.docs_console``
    rewrites them when this fails)."""
    before, after = docs_console.replay(document)
    assert docs_console.normalised(after) == docs_console.normalised(before)
