"""Tools the CLI tests pass as ``--tools tests.cli.weather_tools``."""

from __future__ import annotations

from assistdb import ToolRegistry, tool


@tool
def get_weather(city: str) -> dict[str, str]:
    """Today's weather in a city.

    Args:
        city: The city's name.
    """
    return {"city": city, "sky": "rain"}


@tool
def get_time(city: str) -> str:
    """The local time in a city.

    Args:
        city: The city's name.
    """
    return f"noon in {city}"


registry = ToolRegistry([get_weather, get_time])
