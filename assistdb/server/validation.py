"""Turning request bodies and query strings into typed values, or into the real API's 400s.

Pydantic finds what is wrong; this module says it the way the Assistants API did: one error,
a ``param`` naming the offending field as a path (``tools[0].function.name``), and a message
in the API's own phrasing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from assistdb.server.errors import HttpError, invalid
from assistdb.server.pagination import PageRequest
from assistdb.server.request_models import RUN_STEP_INCLUDE

Model = TypeVar("Model", bound=BaseModel)

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a decimal",
    "bool_type": "a boolean",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "an array",
}
_CUSTOM_CODES = {"object_above_max_properties", "string_above_max_length", "invalid_value"}


def parse_body(model: type[Model], payload: object) -> Model:
    """Validate a decoded JSON body against a request model."""
    if not isinstance(payload, dict):
        raise invalid(f"Invalid request body: expected an object, but got {describe(payload)} instead.")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise _http_error(exc.errors(include_url=False), payload) from None


def describe(value: object) -> str:
    """How the real API names the JSON type of a value in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _http_error(errors: Sequence[ErrorDetails], payload: dict[str, Any]) -> HttpError:
    unknown_top = [
        str(error["loc"][0])
        for error in errors
        if error["type"] == "extra_forbidden" and len(error["loc"]) == 1
    ]
    if len(unknown_top) > 1:
        names = ", ".join(sorted(unknown_top))
        return invalid(
            f"Unrecognized request arguments supplied: {names}",
            param=unknown_top[0],
            code="unknown_parameter",
        )
    ranked = sorted(errors, key=lambda error: {"extra_forbidden": 0, "missing": 1}.get(error["type"], 2))
    return _one_error(ranked[0], payload)


def _one_error(error: ErrorDetails, payload: dict[str, Any]) -> HttpError:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    param = param_path(error["loc"], payload)
    if kind == "extra_forbidden":
        return invalid(
            f"Unrecognized request argument supplied: {param}", param=param, code="unknown_parameter"
        )
    if kind == "missing":
        return invalid(
            f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
        )
    if kind == "union_tag_not_found":
        return invalid(
            f"Missing required parameter: '{param}.type'.",
            param=f"{param}.type",
            code="missing_required_parameter",
        )
    if kind == "union_tag_invalid":
        return _invalid_value(ctx.get("tag"), str(ctx.get("expected_tags", "")), f"{param}.type")
    if kind == "literal_error":
        if not isinstance(value, str):
            return _wrong_type(param, "a string", value)
        return _invalid_value(value, str(ctx.get("expected", "")), param)
    if kind in _EXPECTED:
        return _wrong_type(param, _EXPECTED[kind], value)
    if kind == "invalid_type":
        return _wrong_type(param, error["msg"], value)
    if kind in ("less_than_equal", "greater_than_equal"):
        above = kind == "less_than_equal"
        return _out_of_range(param, value, ctx.get("le") if above else ctx.get("ge"), above=above)
    if kind == "string_too_long":
        return invalid(
            f"Invalid '{param}': string too long. "
            f"Expected a string with maximum length {ctx.get('max_length')}, "
            f"but got a string with length {len(str(value))} instead.",
            param=param,
            code="string_above_max_length",
        )
    if kind == "string_too_short":
        return invalid(
            f"Invalid '{param}': empty string. "
            f"Expected a string with minimum length {ctx.get('min_length')}, "
            "but got an empty string instead.",
            param=param,
            code="empty_string",
        )
    if kind == "too_long":
        return invalid(
            f"Invalid '{param}': array too long. "
            f"Expected an array with maximum length {ctx.get('max_length')}, "
            f"but got an array with length {ctx.get('actual_length')} instead.",
            param=param,
            code="array_above_max_length",
        )
    if kind == "too_short":
        return invalid(
            f"Invalid '{param}': empty array. Expected an array with minimum length {ctx.get('min_length')}, "
            "but got an empty array instead.",
            param=param,
            code="empty_array",
        )
    if kind == "string_pattern_mismatch":
        return invalid(
            f"Invalid '{param}': string does not match pattern. "
            f"Expected a string that matches the pattern '{ctx.get('pattern')}'.",
            param=param,
            code="invalid_value",
        )
    code = kind if kind in _CUSTOM_CODES else "invalid_value"
    return invalid(f"Invalid '{param}': {error['msg']}", param=param, code=code)


def _out_of_range(param: str, value: object, bound: object, *, above: bool) -> HttpError:
    number = "integer" if isinstance(value, int) else "decimal"
    if isinstance(bound, float) and bound.is_integer():
        bound = int(bound)
    side, relation, code = (
        ("above maximum", "<=", "above_max") if above else ("below minimum", ">=", "below_min")
    )
    return invalid(
        f"Invalid '{param}': {number} {side} value. "
        f"Expected a value {relation} {bound}, but got {value} instead.",
        param=param,
        code=f"{number}_{code}_value",
    )


def _wrong_type(param: str, expected: str, value: object) -> HttpError:
    return invalid(
        f"Invalid type for '{param}': expected {expected}, but got {describe(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _invalid_value(value: object, expected: str, param: str) -> HttpError:
    choices = [choice.strip() for choice in expected.replace(" or ", ", ").split(",") if choice.strip()]
    listed = ", ".join(choices[:-1]) + f", and {choices[-1]}" if len(choices) > 2 else " and ".join(choices)
    return invalid(
        f"Invalid value: '{value}'. Supported values are: {listed}.",
        param=param,
        code="invalid_value",
    )


def param_path(loc: Sequence[int | str], payload: object) -> str:
    """Render a pydantic location as the API's parameter path, dropping union tags.

    Tags of the request models' own discriminators start with ``~``; a field discriminator's tag
    (the ``type`` value) is recognized as the input's own ``type`` at that depth, or as an element
    that is not a key or index of the input there. The last element otherwise names the field
    itself (it may be missing).
    """
    text = ""
    node: object = payload
    tagged: object = None  # the node whose tag was skipped: a second equal element is its key
    for depth, element in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(element, str) and element.startswith("~"):
            continue
        if not last and isinstance(node, dict) and element == node.get("type") and node is not tagged:
            tagged = node  # a ``type`` tag, even one that is also a key (``file_search``, ``image_url``)
            continue
        if isinstance(element, int) and isinstance(node, list) and 0 <= element < len(node):
            text, node = f"{text}[{element}]", node[element]
        elif isinstance(node, dict) and element in node:
            text, node = (f"{text}.{element}" if text else str(element)), node[element]
        elif last:
            text = (
                f"{text}[{element}]"
                if isinstance(element, int)
                else (f"{text}.{element}" if text else str(element))
            )
    return text


def page_request(
    query: Mapping[str, Sequence[str]], *, max_limit: int = 100, default_limit: int = 20
) -> PageRequest:
    """Validate ``limit``, ``order``, ``after`` and ``before`` of a list operation."""
    limit = default_limit
    raw_limit = _last(query, "limit")
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise _wrong_type("limit", "an integer", raw_limit) from None
        if not 1 <= limit <= max_limit:
            raise _out_of_range(
                "limit", limit, max_limit if limit > max_limit else 1, above=limit > max_limit
            )
    order = _last(query, "order") or "desc"
    if order not in ("asc", "desc"):
        raise _invalid_value(order, "'asc' or 'desc'", "order")
    return PageRequest(
        limit=limit,
        order="asc" if order == "asc" else "desc",
        after=_last(query, "after") or None,
        before=_last(query, "before") or None,
    )


def check_include(query: Mapping[str, Sequence[str]]) -> None:
    """Refuse ``include`` values other than the one the spec allows (it changes nothing here)."""
    for name in ("include", "include[]"):
        for value in query.get(name, ()):
            if value != RUN_STEP_INCLUDE:
                raise _invalid_value(value, f"'{RUN_STEP_INCLUDE}'", "include")


def _last(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None
