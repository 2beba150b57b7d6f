"""``--tools MODULE[:ATTR]``: the tools of a Python module, found the way ``python -m`` would."""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any

from assistdb.errors import InvalidInputError
from assistdb.runner.tools.registry import Tool, ToolRegistry
from assistdb.runner.tools.stdout import running_tool_code

_SPEC = re.compile(r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?::(?P<attr>[A-Za-z_]\w*))?$")
_SPEC_HINT = "write MODULE or MODULE:ATTR, e.g. my_tools or my_tools:registry"


def load_tools(spec: str) -> ToolRegistry:
    """Import ``MODULE`` (from the current directory or ``PYTHONPATH``) and return its tools.

    ``ATTR`` may name a :class:`ToolRegistry` or a single ``@tool`` function; without it, every
    ``@tool`` function in the module is taken.
    """
    found = _SPEC.match(spec.strip()) if isinstance(spec, str) else None
    if found is None:
        raise InvalidInputError(f"{spec!r} is not a tools spec", hint=_SPEC_HINT)
    module_name, attr = found.group("module"), found.group("attr")
    module = _import(module_name)
    if attr is None:
        tools = [value for value in vars(module).values() if isinstance(value, Tool)]
        if not tools:
            raise InvalidInputError(
                f"module {module_name!r} has no @tool functions",
                hint="decorate functions with @assistdb.tool, or name a registry with MODULE:ATTR",
            )
        return ToolRegistry(dict.fromkeys(tools))
    value: Any = getattr(module, attr, None)
    if value is None:
        raise InvalidInputError(f"module {module_name!r} has no attribute {attr!r}", hint=_SPEC_HINT)
    if isinstance(value, ToolRegistry):
        return value
    if isinstance(value, Tool):
        return ToolRegistry([value])
    raise InvalidInputError(
        f"{module_name}:{attr} is a {type(value).__name__}, not a ToolRegistry or a @tool function",
        hint="decorate the function with @assistdb.tool",
    )


def _import(module_name: str) -> Any:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        with running_tool_code():  # a module that prints on import prints as its tools would
            return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise InvalidInputError(
                f"cannot find the tools module {module_name!r}",
                hint="run from the folder that holds it, or add that folder to PYTHONPATH",
            ) from None
        raise InvalidInputError(
            f"importing tools module {module_name!r} failed: {exc}",
            hint="install what it imports, or fix the import",
        ) from None
    except InvalidInputError as exc:  # a tool the module defines is invalid
        raise InvalidInputError(
            f"importing tools module {module_name!r} failed: {exc.message}", hint=exc.hint
        ) from None
    except (Exception, SystemExit) as exc:
        message = " ".join(str(exc).split()) or "no message"
        raise InvalidInputError(
            f"importing tools module {module_name!r} failed: {type(exc).__name__}: {message}",
            hint="fix the error in that module (run `python -c 'import MODULE'` to see it)",
        ) from None
