"""``--tools MODULE[:ATTR]``: finding tools in a module of the current folder."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistdb import InvalidInputError, ToolRegistry
from assistdb.runner import load_tools

TOOLS_MODULE = """
    from assistdb import ToolRegistry, tool

    @tool
    def shout(text: str) -> str:
        '''Say it louder.'''
        return text.upper()

    @tool(idempotent=True)
    def whisper(text: str) -> str:
        return text.lower()

    def helper() -> None:
        pass

    registry = ToolRegistry([shout])
    number = 3
"""


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Write a module into a fresh current folder; returns its (unique) name."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    written: list[str] = []

    def write(source: str) -> str:
        name = f"tools_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def test_all_tools_of_a_module(write_module: Callable[[str], str]) -> None:
    registry = load_tools(write_module(TOOLS_MODULE))
    assert sorted(registry.names) == ["shout", "whisper"]
    assert registry.get("whisper").idempotent  # type: ignore[union-attr]


def test_a_named_registry_or_tool(write_module: Callable[[str], str]) -> None:
    name = write_module(TOOLS_MODULE)
    assert load_tools(f"{name}:registry").names == ["shout"]
    assert ToolRegistry.load(f"{name}:whisper").names == ["whisper"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "is not a tools spec"),
        ("a:b:c", "is not a tools spec"),
        ("my-tools", "is not a tools spec"),
        ("{module}:missing", "has no attribute 'missing'"),
        ("{module}:number", "is a int, not a ToolRegistry or a @tool function"),
        ("{module}:helper", "is a function, not a ToolRegistry"),
        ("no_such_module_here", "cannot find the tools module 'no_such_module_here'"),
    ],
)
def test_bad_specs_are_one_line_errors(write_module: Callable[[str], str], spec: str, message: str) -> None:
    module = write_module(TOOLS_MODULE)
    with pytest.raises(InvalidInputError, match=message) as raised:
        load_tools(spec.format(module=module))
    assert "\n" not in str(raised.value)
    assert raised.value.hint


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def broken(:\n", "SyntaxError"),
        ("raise RuntimeError('no config\\nat all')\n", "RuntimeError: no config at all"),
        ("import surely_not_installed_anywhere\n", "No module named 'surely_not_installed_anywhere'"),
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
        ("x = 1\n", "has no @tool functions"),
        (
            "from assistdb import tool\n@tool(parameters={'type': 'object', 'required': 1})\ndef f(): pass\n",
            "not valid JSON Schema",
        ),
    ],
)
def test_modules_that_fail_to_import_are_one_line_errors(
    write_module: Callable[[str], str], source: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message) as raised:
        load_tools(write_module(source))
    assert "\n" not in str(raised.value)
