"""Shared fixtures of the server tests; every response body is checked against the OpenAPI spec.

Each test's servers report their JSON responses to a per-test checker; a test whose responses
do not match the spec fails, even if its own assertions passed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest

from assistdb.server import LocalServer
from tests.server.openapi_check import SpecValidator, load_combined_validator, load_validator

_VALIDATOR = load_validator()
#: Checks responses of the files and vector stores operations too (``files-vector-stores.openapi.yaml``).
_RESPONSE_VALIDATOR = load_combined_validator()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))


@dataclass
class ResponseChecker:
    """Collects spec violations of the responses one test receives."""

    validator: SpecValidator | None
    checked: int = 0
    violations: list[str] = field(default_factory=list)

    def hook(self, operation_id: str, status: int, body: object) -> None:
        if self.validator is None:
            return
        self.checked += 1
        for error in self.validator.errors(operation_id, status, body):
            self.violations.append(f"{operation_id} ({status}): {error}")


@pytest.fixture
def spec() -> SpecValidator:
    if _VALIDATOR is None:
        from tests.server.openapi_check import spec_path

        pytest.skip(
            f"the Assistants v2 OpenAPI description is not at {spec_path()} (set ASSISTDB_OPENAPI_SPEC)"
        )
    return _VALIDATOR


@pytest.fixture(autouse=True)
def response_checker() -> ResponseChecker:
    return ResponseChecker(_RESPONSE_VALIDATOR)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    result = yield
    checker = getattr(item, "funcargs", {}).get("response_checker")
    if isinstance(checker, ResponseChecker) and checker.violations:
        listing = "\n  ".join(checker.violations[:20])
        raise AssertionError(
            f"{len(checker.violations)} response(s) do not match the OpenAPI spec:\n  {listing}"
        )
    return result


@pytest.fixture
def make_server(
    assistdb_server_factory: Callable[..., LocalServer], response_checker: ResponseChecker
) -> Callable[..., LocalServer]:
    """Start a server whose responses are checked against the spec."""

    def start(**kwargs: Any) -> LocalServer:
        kwargs.setdefault("on_response", response_checker.hook)
        return assistdb_server_factory(**kwargs)

    return start


@pytest.fixture
def server(make_server: Callable[..., LocalServer]) -> LocalServer:
    return make_server()


@pytest.fixture
def client(server: LocalServer) -> Iterator[openai.OpenAI]:
    with server.client() as sdk:
        yield sdk


@pytest.fixture
def assistant(client: openai.OpenAI) -> Any:
    return client.beta.assistants.create(
        model="gpt-4o",
        name="Test assistant",
        instructions="Be brief.",
        tools=[
            {
                "type": "function",
                "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
            },
            {"type": "function", "function": {"name": "weather"}},
            {"type": "function", "function": {"name": "time"}},
        ],
    )
