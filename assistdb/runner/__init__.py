"""The run engine: drive runs to their end, answer their tool calls exactly once, and archive
everything seen on the way (``db.runs.create_and_wait`` / ``db.runs.wait``).

``rules/`` decides, without I/O (``rules/drive.py``: ``drive()``); ``engine.py`` (``RunEngine``)
performs its effects, reading run streams through ``events.py``; ``tools/`` defines, loads, runs
and answers the tools.
"""

from assistdb.runner.tools.loading import load_tools
from assistdb.runner.tools.registry import Tool, ToolRegistry, tool

__all__ = ["Tool", "ToolRegistry", "load_tools", "tool"]
