"""Schemathesis against the local server: generated requests for every operation of the Assistants
v2 OpenAPI description, valid ones and invalid ones, over real HTTP. Any 5xx fails, and so does
any response whose body breaks the spec, or an invalid request the server accepts.

Bounded for CI: a fixed seed and a few examples per operation and mode (a few seconds in all).
The description is read from ``../shared/openapi`` (``ASSISTDB_OPENAPI_SPEC`` overrides it) and
loaded with the errata of ``openapi_check.py``, plus one of its own, each a quirk of the spec,
not of the server:

* ``nullable: true`` (OpenAPI 3.0) inside a 3.1 document is rewritten as ``anyOf [.., null]``;
* list pages have ``first_id``/``last_id`` ``null`` when empty, as the real API answered;
* every operation lists only 200 (and 429): a ``default`` response with the spec's own
  ``ErrorResponse`` is added, so that 400, 404 and 405 answers are checked as error bodies;
* the modify operations mark their body required; the server takes a missing body as ``{}``
  (no change), as it does for every POST, so that mark is dropped.

Path IDs are those of real objects (an assistant, a thread with a message, a run and its step),
so valid requests reach the operations instead of stopping at 404.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from assistdb.server import LocalServer
from tests.server.openapi_check import SpecValidator, spec_path

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

SEED = 20261201
KEY = "sk-schemathesis-0001"
EXAMPLES = 3  # fuzzed requests per operation and generation mode
BETA = {"OpenAI-Beta": "assistants=v2"}

if not spec_path().is_file():
    pytest.skip(f"the OpenAPI description is not at {spec_path()}", allow_module_level=True)


def _document() -> dict[str, Any]:
    document = copy.deepcopy(SpecValidator.load(spec_path()).document)
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = False
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault(
                    "default",
                    {
                        "description": "An error (the spec lists 200 and 429 only)",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                        },
                    },
                )
    return document


SCHEMA = schemathesis.openapi.from_dict(_document())
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.negative_data_rejection,
]


def _authorize(case: Any) -> None:
    """The server's key in place of the generated bearer token, unless the case is about the
    headers being invalid (then the server must refuse it, with 401)."""
    modes = {str(getattr(where, "value", where)): info.mode for where, info in case.meta.components.items()}
    if modes.get("header", schemathesis.GenerationMode.POSITIVE) == schemathesis.GenerationMode.POSITIVE:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    """One HTTP session for every generated request: kept-alive connections, not one per case."""
    import requests

    with requests.Session() as shared:
        yield shared


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[LocalServer, dict[str, str]]]:
    with LocalServer(run_latency=0.01, poll_after_ms=10, api_key=KEY) as server:
        client = server.client()
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=10
        )
        (message, *_) = client.beta.threads.messages.list(thread.id).data
        (step, *_) = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
        ids = {
            "assistant_id": assistant.id,
            "thread_id": thread.id,
            "message_id": message.id,
            "run_id": run.id,
            "step_id": step.id,
        }
        yield server, ids


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_coverage_cases_get_no_5xx_and_spec_conformant_answers(
    served: tuple[LocalServer, dict[str, str]], session: Any, label: str
) -> None:
    """Schemathesis's coverage phase: for each field, its boundary values and the values the
    schema forbids (``null`` where it is not nullable, wrong types, out-of-range numbers),
    generated deterministically; about 3,000 requests in all."""
    server, ids = served
    operation = OPERATIONS[label]
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    config = SCHEMA.config.generation_for(operation=operation)
    failures: list[str] = []
    for case in SCHEMA.iter_coverage_cases(operation, generation_modes=modes, generation_config=config):
        case.path_parameters = {**(case.path_parameters or {}), **_real_ids(operation, ids)}
        _authorize(case)
        try:
            case.call_and_validate(base_url=server.base_url, session=session, headers=BETA, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis failures: collect, report all
            failures.append(_summary(exc))
    assert not failures, f"{len(failures)} failure(s):\n" + "\n".join(sorted(set(failures))[:20])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_fuzzed_requests_get_no_5xx_and_spec_conformant_answers(
    served: tuple[LocalServer, dict[str, str]], session: Any, label: str, mode: str
) -> None:
    """A few random requests per operation and mode, from a fixed seed."""
    server, ids = served
    operation = OPERATIONS[label]
    strategy = operation.as_strategy(
        generation_mode=schemathesis.GenerationMode(mode), path_parameters=_real_ids(operation, ids)
    )

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def check(case: Any) -> None:
        _authorize(case)
        case.call_and_validate(base_url=server.base_url, session=session, headers=BETA, checks=CHECKS)

    check()


def _summary(failure: Exception) -> str:
    """What failed and on which request, without the long reproduction text."""
    lines = [line.strip() for line in str(failure).splitlines()]
    said = [line for line in lines if line.startswith(("- ", "Invalid component", "[", "`"))]
    return " | ".join(said[:4]) or lines[0]


def _real_ids(operation: Any, ids: dict[str, str]) -> dict[str, str]:
    return {
        parameter.name: ids[parameter.name]
        for parameter in operation.path_parameters
        if parameter.name in ids
    }
