"""Fixtures of the backend tests: the scripted upstream, checked against the spec after each test.

Every request a test's backend sent to the double, and every answer and chunk the double gave,
must match OpenAI's Chat Completions description; a mismatch fails the test at teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from assistdb.server.backends.chat_completions import ChatCompletionsBackend, UpstreamSettings
from assistdb.server.backends.scripted_upstream import ScriptedUpstream
from tests.server.backends.chat_spec import ChatSpec, chat_spec_path, load_chat_spec

_SPEC = load_chat_spec()

#: The key the backend tests send; it must never appear in an error message.
SECRET_KEY = "sk-test-Secret-Key-0123456789abcdef"


@pytest.fixture
def chat_spec() -> ChatSpec:
    if _SPEC is None:
        pytest.skip(f"the Chat Completions OpenAPI description is not at {chat_spec_path()}")
    return _SPEC


@pytest.fixture
def upstream(chat_spec: ChatSpec) -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as double:
        yield double
    problems = [problem for exchange in double.requests for problem in chat_spec.exchange_errors(exchange)]
    assert not problems, "\n".join(problems[:20])


def settings_for(double: ScriptedUpstream, **changes: object) -> UpstreamSettings:
    """Settings for a backend talking to the double: quick retries, short timeouts."""
    values: dict[str, object] = {
        "base_url": double.base_url,
        "api_key": SECRET_KEY,
        "backoff": 0.01,
        "max_retries": 2,
        "timeout": 10.0,
    }
    values.update(changes)
    return UpstreamSettings.from_values(values)


@pytest.fixture
async def backend(upstream: ScriptedUpstream) -> AsyncIterator[ChatCompletionsBackend]:
    model = ChatCompletionsBackend(settings_for(upstream))
    yield model
    await model.aclose()
