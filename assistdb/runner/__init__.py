"""The run engine: drive runs to their end, answer their tool calls exactly once, and archive
everything seen on the way (``db.runs.create_and_wait`` / ``db.runs.wait``).

The rules are :func:`assistdb.runner.driving.drive` (sans I/O); :class:`RunEngine` performs them.
"""

from assistdb.runner.loading import load_tools
from assistdb.runner.tools import Tool, ToolRegistry, tool

__all__ = ["Tool", "ToolRegistry", "load_tools", "tool"]
