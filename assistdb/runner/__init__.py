"""The run engine: drive runs to their end, answer their tool calls exactly once, and archive
everything seen on the way (``db.runs.create_and_wait`` / ``db.runs.wait``)."""

from assistdb.runner.async_db import AsyncAssistDB
from assistdb.runner.loading import load_tools
from assistdb.runner.tools import Tool, ToolRegistry, tool

__all__ = ["AsyncAssistDB", "Tool", "ToolRegistry", "load_tools", "tool"]
