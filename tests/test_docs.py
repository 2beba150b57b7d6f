"""The README's and docs/library.md's examples run as written, and every public name they use
is importable from ``assistdb``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import assistdb

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
