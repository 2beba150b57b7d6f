"""Tool definitions built from type hints and docstrings, and the checks on what the model sends."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any, Literal

import jsonschema
import pydantic
import pytest

from assistdb import InvalidInputError, ToolRegistry, tool
from assistdb.runner.tools.registry import ArgumentsError
from assistdb.runner.tools.schema import parse_docstring


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Place(pydantic.BaseModel):
    city: str
    country: str = "FR"


@tool
def weather(
    city: str, unit: Literal["celsius", "fahrenheit"] = "celsius", days: int | None = None
) -> dict[str, Any]:
    """Look up the weather forecast.

    Only for cities we know.

    Args:
        city: The city's name, e.g. Paris.
        unit: The temperature unit,
            either celsius or fahrenheit.
        days (int): How many days ahead.

    Returns:
        The forecast.
    """
    return {"city": city, "unit": unit, "days": days}


def test_definition_comes_from_hints_and_docstring() -> None:
    definition = weather.definition()
    assert definition["type"] == "function"
    function = definition["function"]
    assert function["name"] == "weather"
    assert function["description"] == "Look up the weather forecast."
    parameters = function["parameters"]
    assert parameters["type"] == "object"
    assert parameters["required"] == ["city"]
    assert parameters["additionalProperties"] is False
    properties = parameters["properties"]
    assert properties["city"] == {"type": "string", "description": "The city's name, e.g. Paris."}
    assert properties["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert properties["unit"]["description"] == "The temperature unit, either celsius or fahrenheit."
    assert properties["unit"]["default"] == "celsius"
    assert properties["days"]["description"] == "How many days ahead."
    assert {"type": "integer"} in properties["days"]["anyOf"]
    jsonschema.Draft202012Validator.check_schema(parameters)
    assert "title" not in str(parameters)


def test_a_tool_is_still_the_function() -> None:
    assert weather("Oslo") == {"city": "Oslo", "unit": "celsius", "days": None}


def test_decorator_options() -> None:
    @tool(name="get-time", description="What time it is.", idempotent=True, timeout=2.5)
    def now(zone: str = "UTC") -> str:
        """Ignored summary."""
        return zone

    assert now.name == "get-time"
    assert now.idempotent and now.timeout == 2.5
    assert now.definition()["function"]["description"] == "What time it is."
    assert now.definition()["function"]["parameters"]["properties"]["zone"]["default"] == "UTC"


def test_nested_models_enums_and_dates_become_json_schema() -> None:
    @tool
    def book(place: Place, unit: Unit, when: dt.date, tags: list[str], note: Annotated[str, "x"] = "") -> str:
        return ""

    parameters = book.parameters
    jsonschema.Draft202012Validator.check_schema(parameters)
    assert set(parameters["required"]) == {"place", "unit", "when", "tags"}
    assert parameters["properties"]["when"]["format"] == "date"
    assert parameters["properties"]["tags"] == {"items": {"type": "string"}, "type": "array"}
    place_schema = parameters["$defs"]["Place"]
    assert set(place_schema["properties"]) == {"city", "country"}
    arguments = book.validate(
        {"place": {"city": "Lyon"}, "unit": "celsius", "when": "2026-01-02", "tags": []}
    )
    assert arguments["place"] == Place(city="Lyon")
    assert arguments["unit"] is Unit.CELSIUS
    assert arguments["when"] == dt.date(2026, 1, 2)
    assert arguments["note"] == ""


def test_parameters_may_be_named_like_pydantic_internals() -> None:
    @tool
    def odd(json: str, model_config: int, title: str, _private: bool = False) -> str:
        return json

    assert set(odd.parameters["properties"]) == {"json", "model_config", "title", "_private"}
    assert odd.validate({"json": "a", "model_config": 1, "title": "t"}) == {
        "json": "a",
        "model_config": 1,
        "title": "t",
        "_private": False,
    }


def test_unannotated_parameters_accept_anything() -> None:
    @tool
    def loose(value) -> None:  # type: ignore[no-untyped-def]
        """Take anything."""

    assert loose.parameters["properties"]["value"] == {}
    assert loose.validate({"value": [1, {"a": None}]}) == {"value": [1, {"a": None}]}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "city: Field required"),
        ({"city": 3}, "city: Input should be a valid string"),
        ({"city": "Paris", "unit": "kelvin"}, "unit: Input should be 'celsius' or 'fahrenheit'"),
        ({"city": "Paris", "country": "FR"}, "country: Extra inputs are not permitted"),
        (["Paris"], "arguments must be a JSON object"),
    ],
)
def test_arguments_that_do_not_fit_are_refused_with_a_readable_reason(arguments: Any, message: str) -> None:
    with pytest.raises(ArgumentsError, match=message):
        weather.validate(arguments)


def test_a_hand_written_schema_is_checked_and_used_for_validation() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "required": ["n"]}
    registry = ToolRegistry()
    item = registry.add(lambda n: n * 2, name="double", parameters=schema, description="Double it.")
    assert registry.definitions() == [
        {
            "type": "function",
            "function": {"name": "double", "parameters": schema, "description": "Double it."},
        }
    ]
    assert item.validate({"n": 2}) == {"n": 2}
    with pytest.raises(ArgumentsError, match="n: 0 is less than the minimum of 1"):
        item.validate({"n": 0})


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "object", "properties": {"n": {"type": "integr"}}},
            "not valid JSON Schema at properties/n/type",
        ),
        ({"type": "object", "required": "n"}, "not valid JSON Schema at required"),
        ({"type": "array"}, "must describe an object"),
        ("{}", "must be a JSON Schema object"),
    ],
)
def test_invalid_hand_written_schemas_are_refused(schema: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        ToolRegistry().add(lambda n: n, name="bad", parameters=schema)


def test_functions_the_model_cannot_call_are_refused() -> None:
    def varargs(*values: int) -> int:
        return sum(values)

    def nothing() -> None:
        pass

    with pytest.raises(InvalidInputError, match="named parameters only"):
        tool(varargs)
    with pytest.raises(InvalidInputError, match="positional-only"):

        @tool
        def positional(value: int, /) -> int:
            return value

    with pytest.raises(InvalidInputError, match="not a valid tool name"):
        tool(name="has space")(nothing)
    with pytest.raises(InvalidInputError, match="JSON Schema cannot describe"):

        @tool
        def opaque(handle: object.__class__) -> None:  # a metaclass: no JSON form
            pass

    with pytest.raises(InvalidInputError, match="timeout"):
        tool(timeout=0)(nothing)
    with pytest.raises(InvalidInputError, match="not a valid tool name"):
        tool(lambda: None)  # a lambda has no usable name


def test_a_registry_refuses_two_tools_of_one_name_and_bad_limits() -> None:
    with pytest.raises(InvalidInputError, match="two tools are named 'weather'"):
        ToolRegistry([weather, tool(name="weather")(lambda: None)])
    with pytest.raises(InvalidInputError, match="max_concurrency"):
        ToolRegistry(max_concurrency=0)
    with pytest.raises(InvalidInputError, match="wrap a single tool in a list"):
        ToolRegistry.of(weather)  # type: ignore[arg-type]


def test_a_registry_lists_and_finds_its_tools() -> None:
    registry = ToolRegistry([weather], max_concurrency=2)
    assert "weather" in registry and len(registry) == 1 and registry.names == ["weather"]
    assert registry.get("weather") is weather and registry.get("other") is None
    assert ToolRegistry.of([weather]) is not None and ToolRegistry.of(registry) is registry
    assert ToolRegistry.of(None) is None


def test_docstring_styles() -> None:
    google = parse_docstring(
        """Summary line
        that wraps.

        Arguments:
            a (int): first
                continued.
            *rest: ignored star.

        Raises:
            ValueError: never.
        """
    )
    assert google.summary == "Summary line that wraps."
    assert google.params == {"a": "first continued.", "rest": "ignored star."}
    rest = parse_docstring(
        """Summary.

        :param str a: first
            continued
        :param b: second
        :returns: nothing
        """
    )
    assert rest.summary == "Summary."
    assert rest.params == {"a": "first continued", "b": "second"}
    assert parse_docstring(None).summary == ""
