"""Functions the model may call: ``@tool`` describes one, ``ToolRegistry`` holds a set of them.

A tool knows its definition (what the assistant or run is given), how to validate the
arguments the model sends, whether running it twice is harmless (``idempotent``), and how long
it may take (``timeout``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

import jsonschema
import pydantic

from assistdb.errors import InvalidInputError
from assistdb.runner.tools.schema import (
    arguments_model,
    check_name,
    check_parameters,
    parameters_schema,
    parse_docstring,
)

if TYPE_CHECKING:
    from openai.types.beta import FunctionToolParam
    from openai.types.shared_params import FunctionDefinition

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_CONCURRENCY = 8


class ArgumentsError(ValueError):
    """The model's arguments do not fit the tool's schema; the message says how."""


class Tool(Generic[P, R]):
    """A function made callable by the model; calling the tool calls the function."""

    def __init__(
        self,
        function: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        idempotent: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not callable(function):
            raise InvalidInputError(f"{function!r} is not a function", hint="decorate a function with @tool")
        self.function = function
        self.name = check_name(name if name is not None else getattr(function, "__name__", None))
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout < math.inf:
            raise InvalidInputError(
                f"the timeout of tool {self.name!r} must be a positive number of seconds, not {timeout!r}",
                hint="pass e.g. timeout=30.0",
            )
        self.idempotent = bool(idempotent)
        self.timeout = float(timeout)
        self.is_async = inspect.iscoroutinefunction(function)
        docstring = parse_docstring(inspect.getdoc(function))
        self.description = description if description is not None else docstring.summary
        self._model: type[pydantic.BaseModel] | None = None
        self._validator: jsonschema.Draft202012Validator | None = None
        if parameters is not None:
            self.parameters = check_parameters(self.name, parameters)
            self._validator = jsonschema.Draft202012Validator(self.parameters)
        else:
            self._model = arguments_model(function, self.name, docstring.params)
            self.parameters = parameters_schema(self._model)
        self.__doc__ = function.__doc__
        self.__wrapped__ = function

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Tool {self.name}>"

    def definition(self) -> FunctionToolParam:
        """The function tool to put on an assistant or a run."""
        function: FunctionDefinition = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}

    def validate(self, arguments: Any) -> dict[str, Any]:
        """Keyword arguments for the function from the model's decoded arguments; raises
        :class:`ArgumentsError` when they do not fit the schema."""
        if not isinstance(arguments, dict):
            raise ArgumentsError(f"arguments must be a JSON object, not {type(arguments).__name__}")
        if self._validator is not None:
            errors = sorted(self._validator.iter_errors(arguments), key=lambda error: list(error.path))
            if errors:
                raise ArgumentsError("; ".join(_schema_error(error) for error in errors[:5]))
            return arguments
        assert self._model is not None
        try:
            validated = self._model.model_validate(arguments)
        except pydantic.ValidationError as exc:
            raise ArgumentsError("; ".join(_pydantic_error(error) for error in exc.errors()[:5])) from None
        return {
            str(info.alias): getattr(validated, field) for field, info in type(validated).model_fields.items()
        }


@overload
def tool(function: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    idempotent: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    function: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    idempotent: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a function callable by the model: ``@tool`` or ``@tool(name=..., idempotent=True)``.

    The schema comes from the type hints, the descriptions from the docstring (summary, and the
    ``Args:`` section for parameters), unless ``parameters`` gives a hand-written JSON Schema.
    Mark a tool ``idempotent`` only if running it twice has the effect of running it once: after
    a crash, only idempotent tools are run again.
    """

    def wrap(inner: Callable[P, R]) -> Tool[P, R]:
        return Tool(
            inner,
            name=name,
            description=description,
            parameters=parameters,
            idempotent=idempotent,
            timeout=timeout,
        )

    return wrap(function) if function is not None else wrap


class ToolRegistry:
    """The tools a run may call, by name; ``max_concurrency`` bounds parallel calls."""

    def __init__(
        self,
        tools: Iterable[Tool[..., Any] | Callable[..., Any]] = (),
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        if not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool) or max_concurrency < 1:
            raise InvalidInputError(
                f"max_concurrency must be a positive integer, not {max_concurrency!r}", hint="pass e.g. 8"
            )
        self.max_concurrency = max_concurrency
        self._tools: dict[str, Tool[..., Any]] = {}
        for item in tools:
            self.add(item)

    def add(
        self,
        function: Tool[..., Any] | Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        idempotent: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Tool[..., Any]:
        """Register a ``@tool``, or a plain function with these options; returns the tool."""
        if isinstance(function, Tool):
            if (name, description, parameters) != (None, None, None):
                raise InvalidInputError(
                    f"{function.name!r} is already a tool; its options are set by @tool",
                    hint="pass the plain function to add() instead",
                )
            item = function
        else:
            item = Tool(
                function,
                name=name,
                description=description,
                parameters=parameters,
                idempotent=idempotent,
                timeout=timeout,
            )
        if item.name in self._tools and self._tools[item.name] is not item:
            raise InvalidInputError(
                f"two tools are named {item.name!r}", hint="give one of them another name="
            )
        self._tools[item.name] = item
        return item

    def get(self, name: str) -> Tool[..., Any] | None:
        return self._tools.get(name)

    def definitions(self) -> list[FunctionToolParam]:
        """The function tools to put on an assistant or a run (``tools=registry.definitions()``)."""
        return [item.definition() for item in self._tools.values()]

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool[..., Any]]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({', '.join(self._tools)})"

    @classmethod
    def load(cls, spec: str) -> ToolRegistry:
        """The tools named by ``MODULE[:ATTR]`` (see :func:`assistdb.runner.tools.loading.load_tools`)."""
        from assistdb.runner.tools.loading import load_tools

        return load_tools(spec)

    @classmethod
    def of(
        cls, tools: ToolRegistry | Sequence[Tool[..., Any] | Callable[..., Any]] | None
    ) -> ToolRegistry | None:
        """A registry from what ``wait``'s ``tools`` accepts: a registry, or a sequence of tools."""
        if tools is None or isinstance(tools, ToolRegistry):
            return tools
        if isinstance(tools, Tool | str | bytes) or callable(tools) or not isinstance(tools, Iterable):
            raise InvalidInputError(
                "tools must be a ToolRegistry or a list of @tool functions",
                hint="wrap a single tool in a list: tools=[my_tool]",
            )
        return cls(tools)


def _pydantic_error(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())) or "arguments"
    return f"{where}: {error.get('msg', 'invalid')}"


def _schema_error(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(part) for part in error.path) or "arguments"
    return f"{where}: {error.message}"


#: What ``tools=`` accepts: a registry, or a list of ``@tool`` functions and plain functions.
ToolsArgument = ToolRegistry | Sequence[Tool[..., Any] | Callable[..., Any]] | None
